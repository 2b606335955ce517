import numpy as np
import pytest

from mbl_seg.evaluate import voi
from mbl_seg.segment import (
    boundaries_from_affinities,
    components_from_affinities,
    find_seeds,
    fragments_from_affinities,
    per_section,
    seeded_watershed,
    watershed_from_affinities,
)
from mbl_seg.targets import boundaries as boundary_map


def _px(array):
    """1 nm voxels: distances in voxels, as these tests think of them."""
    return (1.0,) * np.ndim(array)


def _two_discs(shape=(40, 60), radius=12):
    y, x = np.ogrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, np.uint64)
    labels[(y - 20) ** 2 + (x - 16) ** 2 <= radius**2] = 1
    labels[(y - 20) ** 2 + (x - 44) ** 2 <= radius**2] = 2
    return labels


def test_two_objects_separated_by_a_boundary_give_two_segments():
    image = np.zeros((20, 30), np.float32)
    image[:, 14:16] = 1
    seg = seeded_watershed(image, voxel_size=_px(image))
    assert len(np.unique(seg[:, :14])) == 1 and len(np.unique(seg[:, 16:])) == 1
    assert seg[0, 0] != seg[0, -1] and seg.min() > 0


def test_watershed_of_the_target_boundary_map_recovers_the_ground_truth():
    labels = _two_discs()
    seg = seeded_watershed(boundary_map(labels, voxel_size=_px(labels)), min_seed_distance=8,
                           voxel_size=_px(labels))
    split, merge = voi(labels, seg)
    assert split < 0.05 and merge < 0.05


def test_mask_is_respected():
    image = np.zeros((20, 30), np.float32)
    image[:, 14:16] = 1
    mask = np.ones(image.shape, bool)
    mask[:5] = False
    seg = seeded_watershed(image, mask=mask, voxel_size=_px(image))
    assert (seg[:5] == 0).all() and (seg[5:] > 0).all()
    with pytest.raises(ValueError, match="shape"):
        seeded_watershed(image, mask=mask[1:], voxel_size=_px(image))


def test_anisotropic_voxel_size_changes_the_seeds_as_expected():
    # A 7 x 7 x 7 voxel box. Isotropic, the distance peaks on the one central
    # voxel; with 10x coarser z the box is a flat slab in nm, every section's
    # centre is equally far from the side walls and z no longer decides: the
    # seed becomes a column through all sections.
    inside = np.zeros((9, 9, 9), bool)
    inside[1:8, 1:8, 1:8] = True
    image = np.where(inside, 0.0, 1.0).astype(np.float32)
    iso = find_seeds(_edt(inside, (1, 1, 1)), voxel_size=(1, 1, 1))
    aniso = find_seeds(_edt(inside, (10, 1, 1)), voxel_size=(10, 1, 1))
    assert np.argwhere(iso).tolist() == [[4, 4, 4]]
    assert sorted(np.argwhere(aniso)[:, 0].tolist()) == list(range(1, 8))
    assert len(np.unique(aniso)) == 2  # still one seed: the column is connected
    assert len(np.unique(seeded_watershed(image, voxel_size=(10, 1, 1)))) == 1


def test_min_seed_distance_in_nm_merges_nearby_maxima():
    distance = np.array([[0, 2, 1, 2.5, 0, 0, 0, 0, 0, 3, 0]], float)
    assert find_seeds(distance, voxel_size=_px(distance)).max() == 3
    assert find_seeds(distance, min_distance=2, voxel_size=_px(distance)).max() == 2
    # 3 nm reach 3 voxels of 1 nm but only 1 voxel of 2 nm
    assert find_seeds(distance, min_distance=3, voxel_size=(1, 1)).max() == 2
    assert find_seeds(distance, min_distance=3, voxel_size=(1, 2)).max() == 3
    assert find_seeds(distance, min_distance=8, voxel_size=_px(distance)).max() == 1


def test_h_maxima_drop_small_bumps_keep_tall_peaks():
    distance = np.array([[0, 5, 4.5, 5, 0, 4, 0]], float)
    assert find_seeds(distance, voxel_size=_px(distance)).max() == 3
    # the 0.5 dip does not separate; only the tallest rises 4.5
    assert find_seeds(distance, h=1, voxel_size=_px(distance)).max() == 2
    assert find_seeds(distance, h=4.5, voxel_size=_px(distance)).max() == 1


def test_per_section_segments_each_section_with_unique_ids():
    labels = np.stack([_two_discs(), _two_discs()[:, ::-1]])
    stack = np.stack([boundary_map(s, voxel_size=(1, 1)) for s in labels])
    seg = per_section(seeded_watershed, stack,
                      min_seed_distance=8, voxel_size=(1.0, 1.0))
    ids = [set(np.unique(s).tolist()) - {0} for s in seg]
    assert len(ids[0]) >= 2 and not ids[0] & ids[1]


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="numeric"):
        seeded_watershed(np.array([["a"]]), voxel_size=(1, 1))
    with pytest.raises(ValueError, match="voxel_size"):
        seeded_watershed(np.zeros((3, 3)), voxel_size=(1, 1, 1))
    with pytest.raises(ValueError, match="nan"):
        seeded_watershed(np.full((3, 3), np.nan), voxel_size=(1, 1))
    with pytest.raises(ValueError, match="min_distance"):
        find_seeds(np.ones((3, 3)), min_distance=-1, voxel_size=(1, 1))


def _edt(inside, sampling):
    from scipy import ndimage

    return ndimage.distance_transform_edt(inside, sampling=sampling)


def test_watershed_from_ground_truth_affinities_separates_touching_objects():
    # two objects touching along a straight line, no background between them
    labels = np.ones((30, 40), np.uint64)
    labels[:, 20:] = 2
    from mbl_seg.targets import affinities

    seg = watershed_from_affinities(affinities(labels), min_seed_distance=5,
                                    voxel_size=_px(labels))
    assert len(np.unique(seg)) == 2
    # the cut is where the affinities say, up to the half-voxel the edges sit between voxels
    assert (seg[:, :19] == seg[0, 0]).all() and (seg[:, 21:] == seg[0, -1]).all()
    frags = fragments_from_affinities(affinities(labels), voxel_size=_px(labels))
    assert not set(np.unique(frags[:, :19])) & set(np.unique(frags[:, 21:]))


def test_boundaries_from_affinities_checks_its_input():
    with pytest.raises(ValueError, match="float affinities"):
        boundaries_from_affinities(np.ones((3, 3), np.float32))
    with pytest.raises(TypeError, match="float affinities"):  # a wrong dtype: TypeError
        boundaries_from_affinities(np.ones((2, 3, 3), np.uint8))


def test_components_of_ground_truth_affinities_give_back_the_ground_truth():
    from mbl_seg.targets import affinities

    rng = np.random.default_rng(0)
    for shape, offsets in (((12, 14), None), ((5, 8, 9), None),
                           ((10, 10), [(-1, 0), (0, -1), (-3, 0), (0, -3)])):
        labels = rng.integers(1, 5, size=shape).astype(np.uint64)
        labels = np.kron(labels, np.ones((1,) * (len(shape) - 2) + (2, 2), np.uint64))
        seg = components_from_affinities(affinities(labels, offsets), offsets)
        # every segment is inside one object and every object's pieces are its own CCs
        assert voi(labels, seg).merge == 0
        from skimage.measure import label as cc

        n_pieces = sum(cc(labels == v, connectivity=1).max() for v in np.unique(labels))
        assert len(np.unique(seg)) == n_pieces or offsets is not None


def test_components_check_channels_against_offsets():
    with pytest.raises(ValueError, match="channels"):
        components_from_affinities(np.ones((3, 4, 4), np.float32))


# --- bad input that used to pass silently (issue 9, item 4) --------------------------------

_FROM_AFFINITIES = [watershed_from_affinities, fragments_from_affinities,
                    components_from_affinities]


def _affs(shape=(2, 16, 16)):
    return np.random.default_rng(0).random(shape).astype(np.float32)


@pytest.mark.parametrize("fn", _FROM_AFFINITIES)
@pytest.mark.parametrize("bad, error, words", [
    (_affs() * 10 - 5, ValueError, "apply a sigmoid"),
    ((_affs() > 0.5).astype(np.uint8), TypeError, "float affinities"),
    (np.where(_affs() > 0.5, np.nan, 1).astype(np.float32), ValueError, "nan"),
    (_affs((256, 256, 2)), ValueError, r"channels first, \(c, y, x\) or \(c, z, y, x\)"),
    (_affs((12, 32, 32, 3)), ValueError, r"looks channel-last: use np.moveaxis"),
])
def test_affinity_segmentations_refuse_what_is_not_affinities(fn, bad, error, words):
    with pytest.raises(error, match=words):
        fn(bad)


def test_components_explain_offsets_that_do_not_fit():
    with pytest.raises(ValueError, match=r"\(0, -40\).*40 voxels along axis 1.*only 16"):
        components_from_affinities(_affs((1, 16, 16)), [(0, -40)])
    with pytest.raises(ValueError, match="channel-last"):
        components_from_affinities(_affs((16, 16, 3)), [(-1, 0), (0, -1), (0, -3)])


@pytest.mark.parametrize("bad, words", [
    (np.random.default_rng(0).integers(0, 256, (16, 16)).astype(np.uint8), "divide it by 255"),
    (np.random.default_rng(0).integers(0, 40, (16, 16)), r"targets.boundaries\(labels\)"),
    (np.random.default_rng(0).random((16, 16)) * 255, "divide it by 255"),
    (np.random.default_rng(0).normal(0, 4, (16, 16)), "apply a sigmoid"),
])
def test_seeded_watershed_refuses_what_is_not_a_boundary_map(bad, words):
    with pytest.raises(ValueError, match="boundary map, float in \\[0, 1\\] with 1 = boundary"):
        seeded_watershed(bad, voxel_size=_px(bad))
    with pytest.raises(ValueError, match=words):
        seeded_watershed(bad, voxel_size=_px(bad))


def test_seeded_watershed_takes_bool_and_binary_integer_maps():
    boundary = np.zeros((5, 9), bool)
    boundary[:, 4] = True
    want = seeded_watershed(boundary.astype(np.float32), voxel_size=_px(boundary))
    np.testing.assert_array_equal(seeded_watershed(boundary, voxel_size=_px(boundary)), want)
    np.testing.assert_array_equal(
        seeded_watershed(boundary.astype(np.uint8), voxel_size=_px(boundary)), want)


def test_numbers_may_come_as_numpy_scalars_or_0d_arrays():
    labels = _two_discs()
    boundary = boundary_map(labels, voxel_size=_px(labels))
    want = seeded_watershed(boundary, threshold=0.5, h=2.0, min_seed_distance=3.0,
                            voxel_size=_px(boundary))
    got = seeded_watershed(boundary, threshold=np.float32(0.5), h=np.array(2.0),
                           min_seed_distance=np.array(3.0), voxel_size=_px(boundary))
    np.testing.assert_array_equal(got, want)
    affs = _affs()
    np.testing.assert_array_equal(
        components_from_affinities(affs, threshold=np.array(0.5)),
        components_from_affinities(affs, threshold=0.5))
    np.testing.assert_array_equal(
        watershed_from_affinities(affs, threshold=np.float32(0.3), voxel_size=_px(affs[0])),
        watershed_from_affinities(affs, threshold=0.3, voxel_size=_px(affs[0])))


@pytest.mark.parametrize("options, error, words", [
    ({"threshold": "0.5"}, TypeError, "threshold must be a finite number, got '0.5'"),
    ({"threshold": np.nan}, ValueError, "threshold must be a finite number, got nan"),
    ({"h": np.array([16.0])}, TypeError, "h must be a positive number of nm, got an array"),
    ({"h": np.inf}, ValueError, "h must be a positive number of nm, got inf"),
    ({"min_seed_distance": 0}, ValueError, "min_seed_distance must be a positive number of nm"),
])
def test_bad_numbers_are_explained(options, error, words):
    with pytest.raises(error, match=words):
        seeded_watershed(np.zeros((8, 8), np.float32), voxel_size=(1, 1), **options)


def test_distances_in_nm_need_a_voxel_size():
    boundary = np.zeros((5, 9), np.float32)
    with pytest.raises(TypeError, match="voxel_size is required"):
        seeded_watershed(boundary)
    with pytest.raises(TypeError, match="voxel_size is required"):
        find_seeds(np.ones((5, 9)))
    with pytest.raises(TypeError, match="voxel_size is required"):
        watershed_from_affinities(np.ones((2, 5, 9), np.float32))


# ---- fragments for agglomeration -------------------------------------------------------------

def _touching_cells(shape=(8, 40, 40), seed=0):
    """Voronoi cells of random points: many objects that touch, as neurites do."""
    rng = np.random.default_rng(seed)
    points = rng.random((12, len(shape))) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    distance = ((grid[..., None, :] - points) ** 2).sum(axis=-1)
    return (distance.argmin(axis=-1) + 1).astype(np.uint64)


def test_fragments_are_numbered_from_one_and_never_straddle_two_objects():
    from mbl_seg.segment import fragments
    from mbl_seg.targets import affinities

    labels = _touching_cells()
    labels[boundary_map(labels, voxel_size=(1, 1, 1)) > 0] = 0  # a membrane between the cells, as the networks see
    frags = fragments(affinities(labels), voxel_size=(1, 1, 1))
    assert frags.dtype == np.uint64
    assert np.unique(frags).tolist() == list(range(1, int(frags.max()) + 1))
    # each fragment lies inside one object (merge part of VOI is 0)
    assert voi(labels, frags).merge == pytest.approx(0.0, abs=1e-12)
    assert frags.max() >= len(np.unique(labels))


def test_min_size_gives_small_fragments_to_their_neighbours():
    from mbl_seg.segment import fragments
    from mbl_seg.targets import affinities

    rng = np.random.default_rng(1)
    labels = _touching_cells(seed=1)
    affs = np.clip(affinities(labels) * 0.8 + rng.random((3, *labels.shape)) * 0.3, 0, 1)
    affs = affs.astype(np.float32)
    every = fragments(affs, voxel_size=(1, 1, 1))
    big = fragments(affs, voxel_size=(1, 1, 1), min_size=50)
    sizes = np.bincount(big.ravel())[1:]
    assert np.bincount(every.ravel())[1:].min() < 50  # the case has small fragments to remove
    assert sizes.min() >= 50
    assert big.max() < every.max()
    assert np.all(big > 0)  # every voxel went somewhere


def test_fragments_per_section_never_span_two_sections():
    from mbl_seg.segment import fragments
    from mbl_seg.targets import affinities

    labels = _touching_cells((6, 30, 30), seed=2)
    frags = fragments(affinities(labels), voxel_size=(40, 4, 4), sections=True, min_size=20)
    for z in range(1, 6):
        assert not np.intersect1d(np.unique(frags[z]), np.unique(frags[:z])).size
    plain = fragments(affinities(labels), voxel_size=(40, 4, 4), sections=True, min_size=20,
                      cut=None)
    assert np.bincount(plain.ravel())[1:].min() >= 20  # with the cut: tests/test_cuts.py


def test_fragments_respect_a_mask():
    from mbl_seg.segment import fragments

    affs = np.ones((2, 10, 10), np.float32)
    mask = np.zeros((10, 10), bool)
    mask[2:8, 2:8] = True
    frags = fragments(affs, voxel_size=(4, 4), mask=mask)
    assert np.all(frags[~mask] == 0) and np.all(frags[mask] > 0)


@pytest.mark.parametrize("options,error,words", [
    ({"voxel_size": (1, 1), "sections": True}, ValueError, "per z-section"),
    ({"voxel_size": (1, 1), "min_size": -1}, ValueError, "min_size"),
    ({"voxel_size": (1, 1), "min_size": 2.5}, ValueError, "min_size"),
    ({}, TypeError, "voxel_size"),
])
def test_fragments_explain_bad_options(options, error, words):
    from mbl_seg.segment import fragments

    with pytest.raises(error, match=words):
        fragments(np.ones((2, 6, 6), np.float32), **options)
