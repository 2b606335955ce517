import warnings

import numpy as np
import pytest

from mbl_seg import data
from mbl_seg.data import synthetic_volume

SMALL = (12, 64, 64)


@pytest.fixture(scope="module")
def fly():
    return synthetic_volume(SMALL, "fly", seed=0)


def test_same_seed_is_byte_identical(fly):
    again = synthetic_volume(SMALL, "fly", seed=0)
    assert again.raw.tobytes() == fly.raw.tobytes()
    assert again.labels.tobytes() == fly.labels.tobytes()


def test_other_seed_differs(fly):
    other = synthetic_volume(SMALL, "fly", seed=1)
    assert not np.array_equal(other.raw, fly.raw)
    assert not np.array_equal(other.labels, fly.labels)


def test_types_shapes_and_voxel_size(fly):
    assert fly.raw.dtype == np.uint8 and fly.raw.shape == SMALL
    assert fly.labels.dtype == np.uint64 and fly.labels.shape == SMALL
    assert fly.membrane_gaps.dtype == bool and fly.mitochondria.dtype == bool
    assert fly.voxel_size == (8.0, 8.0, 8.0)
    zf = synthetic_volume(SMALL, "zebrafish", seed=0)
    assert zf.voxel_size == (36.0, 12.0, 12.0)


def test_dense_neurites_with_thin_extracellular_space():
    vol = synthetic_volume((8, 128, 128), "fly", seed=0)
    # almost every voxel belongs to a neurite...
    assert (vol.labels == 0).mean() < 0.05
    # ...and a 1 um x 1 um section cuts many neurites (about 200 nm calibre)
    assert len(np.unique(vol.labels[4])) > 15


def _profiles(section):
    """Equivalent diameters and inscribed-circle diameters (pixels) of 2D profiles."""
    from skimage.measure import label as components
    from scipy import ndimage

    comp = components(section.astype(np.int64), background=0, connectivity=1)
    areas = np.bincount(comp.ravel())[1:]
    inscribed = ndimage.maximum(ndimage.distance_transform_edt(comp > 0), comp,
                                index=np.arange(1, comp.max() + 1))
    return np.sqrt(4 * areas / np.pi), 2 * np.asarray(inscribed), areas


def test_calibres_range_from_thin_axons_to_wide_dendrites():
    vol = synthetic_volume((4, 256, 256), "fly", seed=0)
    diameters, inscribed, areas = _profiles(vol.labels[2])
    ordinary = diameters[areas * 64 >= 900]
    # many thin profiles (real neuropil: median ~150 nm) ...
    assert 80 < np.median(ordinary) * 8 < 220
    # ... and a few wide ones that take a sizeable share of the area
    wide = inscribed * 8 > 500
    assert wide.any() and areas[wide].sum() / areas.sum() > 0.05


def test_interiors_hold_clutter_as_dark_as_membranes():
    # mitochondria, vesicles and dark neurites: "darkest" must not mean "membrane"
    vol = synthetic_volume((8, 128, 128), "fly", seed=4)
    b = _boundary(vol.labels)
    from scipy import ndimage
    inside = ~ndimage.binary_dilation(b, iterations=2) & (vol.labels > 0)
    assert (vol.raw[inside] < vol.raw[b].mean()).mean() > 0.02
    assert vol.mitochondria.mean() > 0.01


def test_each_volume_draws_its_own_look_but_keeps_the_geometry():
    fixed = [synthetic_volume((8, 64, 64), "fly", seed=s, appearance_spread=0) for s in (0, 1)]
    varied = [synthetic_volume((8, 64, 64), "fly", seed=s) for s in (0, 1)]
    for f, v in zip(fixed, varied):
        assert np.array_equal(f.labels, v.labels)  # the look does not move a membrane
        assert not np.array_equal(f.raw, v.raw)
    contrast = [v.raw[v.labels > 0].std() / v.raw.mean() for v in varied]
    assert abs(contrast[0] - contrast[1]) > 0.01


def _boundary(labels):
    b = np.zeros(labels.shape, bool)
    for axis in (1, 2):
        diff = np.diff(labels.astype(np.int64), axis=axis) != 0
        sl = [slice(None)] * 3
        sl[axis] = slice(1, None)
        b[tuple(sl)] |= diff
        sl[axis] = slice(None, -1)
        b[tuple(sl)] |= diff
    return b


@pytest.mark.parametrize("domain", ["fly", "zebrafish"])
def test_membranes_are_dark_where_labels_change(domain):
    vol = synthetic_volume((8, 96, 96), domain, seed=3, missing_sections=0.0,
                           misaligned_sections=0.0)
    boundary = _boundary(vol.labels) & ~vol.membrane_gaps
    inside = ~_boundary(vol.labels) & (vol.labels > 0) & ~vol.mitochondria
    assert vol.raw[boundary].mean() < vol.raw[inside].mean() - 40


def test_membrane_gaps_are_brighter_than_membranes():
    vol = synthetic_volume((8, 128, 128), "fly", seed=2, membrane_gaps=0.2)
    b = _boundary(vol.labels)
    assert vol.membrane_gaps.any()
    assert vol.raw[b & vol.membrane_gaps].mean() > vol.raw[b & ~vol.membrane_gaps].mean() + 20


def test_domain_override_and_missing_sections():
    vol = synthetic_volume((20, 32, 32), "zebrafish", seed=0, missing_sections=1.0)
    assert all(kind == "missing" for _, kind in vol.sections)
    assert len(vol.sections) == 20 and vol.raw.max() == 0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"shape": (64, 64)}, ValueError),
        ({"shape": (2, 64, 64)}, ValueError),
        ({"shape": "abc"}, TypeError),
        ({"shape": SMALL, "domain": "mouse"}, ValueError),
        ({"shape": SMALL, "seed": -1}, TypeError),
        ({"shape": SMALL, "seed": 1.5}, TypeError),
        ({"shape": SMALL, "membrane_gapz": 0.1}, ValueError),
    ],
)
def test_bad_input_raises(kwargs, error):
    with pytest.raises(error):
        synthetic_volume(**kwargs)


# ---------------------------------------------------------------- datasets


@pytest.fixture
def small_registry(monkeypatch):
    monkeypatch.setitem(data.DATASETS, "fly/train", ("fly", (16, 48, 48), 1))
    return "fly/train"


def test_dataset_cached_and_reused(tmp_path, small_registry):
    first = data.load_dataset(small_registry, directory=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid cache is reused silently
        second = data.load_dataset(small_registry, directory=tmp_path)
    assert np.array_equal(first.raw, second.raw)
    assert np.array_equal(first.labels, second.labels)
    assert second.voxel_size == (8.0, 8.0, 8.0)


def test_damaged_dataset_is_rebuilt(tmp_path, small_registry):
    import zarr

    good = data.load_dataset(small_registry, directory=tmp_path)
    arr = zarr.open_group(str(tmp_path / "course.zarr"))["fly/train/raw"]
    arr[0] = 0  # damage one section
    with pytest.warns(UserWarning, match="checksum"):
        rebuilt = data.load_dataset(small_registry, directory=tmp_path)
    assert np.array_equal(rebuilt.raw, good.raw)
    # and a missing array
    import shutil

    shutil.rmtree(tmp_path / "course.zarr" / "fly" / "train" / "labels")
    with pytest.warns(UserWarning, match="rebuilding"):
        rebuilt = data.load_dataset(small_registry, directory=tmp_path)
    assert np.array_equal(rebuilt.labels, good.labels)


def test_foreign_group_is_not_overwritten(tmp_path, small_registry):
    import zarr

    group = zarr.open_group(str(tmp_path / "course.zarr"), mode="a")
    group.require_group("fly/train").attrs["mine"] = "user data"
    with pytest.raises(FileExistsError, match="not written by mbl_seg"):
        data.load_dataset(small_registry, directory=tmp_path)
    assert zarr.open_group(str(tmp_path / "course.zarr"))["fly/train"].attrs["mine"] == "user data"


def test_2d_dataset_sections_are_independent(tmp_path, small_registry):
    from skimage.measure import label

    slices = data.load_dataset("fly/train2d", directory=tmp_path)
    assert slices.raw.ndim == 3 and slices.raw.shape[0] == 2  # 16 sections, every 8th
    assert slices.voxel_size == (64.0, 8.0, 8.0)
    seen = set()
    for z in range(slices.labels.shape[0]):
        ids = set(np.unique(slices.labels[z]).tolist()) - {0}
        # each id is one connected piece within its section, and no id is in two sections
        assert len(ids) == label(slices.labels[z], connectivity=1).max()
        assert not ids & seen
        seen |= ids


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load_dataset("fly/training")


def test_disc_packing_keeps_discs_apart_and_inside():
    from mbl_seg.data._geometry import _pack_discs

    radii = np.sort(np.random.default_rng(0).uniform(20, 200, 300))[::-1]
    half = np.array([1000.0, 800.0])
    placed, centres = _pack_discs(radii, half, np.random.default_rng(1), overlap=0.85)
    assert len(placed) > 50 and np.all(np.abs(centres) <= half)
    r = radii[placed]
    d = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.all(d >= 0.85 * (r[:, None] + r[None]) - 1e-9)
    # the biggest discs come first, so they are never the ones left out
    assert placed[0] == 0


@pytest.mark.parametrize("override, words", [
    ({"large_radius": (0.0, 0.0)}, "large_radius is a size"),  # used to loop for ever
    ({"radius_median": 0}, "radius_median is a size"),
    ({"membrane_gaps": 2}, r"membrane_gaps is a share in \[0, 1\]"),
    ({"noise": -1}, "noise must be >= 0"),
    ({"mito_length": (900.0, 300.0)}, r"\(low, high\) range"),
    ({"blur": float("nan")}, "finite"),
    ({"voxel_size": (8.0, 8.0)}, "voxel_size"),
])
def test_domain_overrides_out_of_range_are_clear_errors(override, words):
    with pytest.raises(ValueError, match=words):
        synthetic_volume((4, 32, 32), "fly", seed=0, **override)


def test_a_strong_look_stays_a_valid_domain():
    # shares drawn around a value near 1 are clipped, not refused
    vol = synthetic_volume((4, 32, 32), "fly", seed=0, mito_darkness=1.0, dark_cells=1.0)
    assert vol.raw.dtype == np.uint8


def test_the_data_folder_says_what_is_generated_there():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "data" / "README.md"
    assert readme.is_file() and "course.zarr" in readme.read_text()


@pytest.mark.parametrize("damage", ["truncated chunk", "garbled array metadata"])
def test_a_damaged_chunk_or_array_metadata_is_rebuilt_once(tmp_path, small_registry, damage):
    good = data.load_dataset(small_registry, directory=tmp_path)
    raw = tmp_path / "course.zarr" / "fly" / "train" / "raw"
    if damage == "truncated chunk":
        chunk = next(p for p in sorted((raw / "c").rglob("*")) if p.is_file())
        with open(chunk, "r+b") as f:
            f.truncate(10)
    else:
        (raw / "zarr.json").write_text("{ garbled")
    with pytest.warns(UserWarning, match="rebuilding"):
        rebuilt = data.load_dataset(small_registry, directory=tmp_path)
    assert np.array_equal(rebuilt.raw, good.raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and then it is healthy again
        assert np.array_equal(data.load_dataset(small_registry, directory=tmp_path).raw, good.raw)


def test_unreadable_group_metadata_is_named_not_touched(tmp_path, small_registry, capsys):
    from mbl_seg import cli

    data.load_dataset(small_registry, directory=tmp_path)
    meta = tmp_path / "course.zarr" / "fly" / "train" / "zarr.json"
    meta.write_text("{ garbled")
    with pytest.raises(FileExistsError, match="cannot be read.*delete that folder"):
        data.load_dataset(small_registry, directory=tmp_path)
    assert meta.read_text() == "{ garbled"
    assert cli.main(["data", "fly/train", "--dir", str(tmp_path)]) == 1
    assert "cannot be read" in capsys.readouterr().err


@pytest.mark.parametrize("name,neurons", [("fibsem/train", 87), ("fibsem/test", 132)])
def test_the_real_fibsem_volumes_ship_with_their_licence(name, neurons):
    from pathlib import Path

    import mbl_seg.data as data

    volume = data.load_dataset(name)
    assert volume.name == name and volume.voxel_size == (10.0, 10.0, 10.0)
    assert volume.raw.shape == volume.labels.shape == (50, 100, 200)
    assert volume.raw.dtype == np.uint8 and volume.labels.dtype == np.uint64
    assert len(np.unique(volume.labels)) - 1 == neurons  # 0: the membranes
    assert not volume.membrane_gaps.any()
    folder = Path(data.__file__).parent / "real"
    assert "HHMI" in (folder / "LICENSE_gala.txt").read_text()
    assert "BSD-3" in (folder / "README.md").read_text()


def test_a_crop_keeps_raw_labels_and_gaps_together_and_moves_the_offset():
    from mbl_seg.data.datasets import CourseDataset

    rng = np.random.default_rng(0)
    shape = (5, 7, 9)
    ds = CourseDataset("x", rng.integers(0, 256, shape, dtype=np.uint8),
                       rng.integers(0, 5, shape).astype(np.uint64), rng.random(shape) < 0.1,
                       (40.0, 4.0, 4.0), (10.0, 0.0, 2.0))
    part = ds.crop(slice(1, 4), slice(None), slice(-3, None))
    box = (slice(1, 4), slice(0, 7), slice(6, 9))
    for name in ("raw", "labels", "membrane_gaps"):
        assert np.array_equal(getattr(part, name), getattr(ds, name)[box])
    assert part.offset == (50.0, 0.0, 26.0) and part.voxel_size == ds.voxel_size
    with pytest.raises(TypeError, match="one slice per axis"):
        ds.crop(slice(None), slice(None))
    with pytest.raises(ValueError, match="non-empty slices with step 1"):
        ds.crop(slice(None), slice(3, 3), slice(None))
    with pytest.raises(ValueError, match="step 1"):
        ds.crop(slice(None, None, 2), slice(None), slice(None))
