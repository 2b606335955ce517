"""Fragments that respect the affinity graph (issue 26, item 5): perfect affinities of touching
neurons never give a fragment of two neurons, and agglomeration then finds the truth."""

import numpy as np
import pytest

from mbl_seg import evaluate
from mbl_seg._cuts import edge_list, split_along_cuts
from mbl_seg.agglomeration import sweep
from mbl_seg.segment import fragments
from mbl_seg.targets import affinities, nearest_offsets


def _merge_where_affinities_say(labels, frags, affs, offsets=None, cut=0.03):
    """VOI merge over the voxels that some edge at or above ``cut`` joins to a neighbour: a lone
    voxel whose affinities are all ~0 (a one-voxel island of a cell, or a membrane voxel
    labelled background) says nothing about where it belongs."""
    us, vs, ws = edge_list(affs, offsets)
    said = np.zeros(labels.size, bool)
    said[us[ws >= cut]] = True
    said[vs[ws >= cut]] = True
    said = said.reshape(labels.shape)
    return evaluate.voi(np.where(said, labels, 0), np.where(said, frags, 0)).merge


def _touching(shape, cells, seed):
    """Voronoi cells that touch everywhere (no background): the hard case for a watershed."""
    rng = np.random.default_rng(seed)
    centres = rng.random((cells, len(shape))) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    return np.argmin(((grid[..., None, :] - centres) ** 2).sum(-1), -1).astype(np.uint64) + 1


@pytest.mark.parametrize("shape,cells", [((48, 48), 12), ((12, 32, 32), 10)])
@pytest.mark.parametrize("seed", range(3))
def test_perfect_affinities_give_fragments_inside_one_object_and_the_truth_after(shape, cells,
                                                                                   seed):
    labels = _touching(shape, cells, seed)
    affs = affinities(labels).astype(np.float32)
    voxel_size = (8.0,) * len(shape)
    frags = fragments(affs, voxel_size=voxel_size, min_size=20, cut=0.03)
    assert _merge_where_affinities_say(labels, frags, affs) < 1e-9  # no fragment holds two objects
    assert evaluate.evaluate(labels, frags).voi_merge < 0.01  # lone voxels aside
    result = sweep(affs, frags, labels, thresholds=[0.05, 0.3, 0.55, 0.8, 0.95])
    assert (result.voi_total < 0.05).all(), result.voi_total


def test_without_cut_the_watershed_can_straddle_and_with_it_it_does_not():
    """The reproducer: today's fragments of perfect affinities hold two objects somewhere."""
    straddles = 0
    for seed in range(6):
        labels = _touching((12, 32, 32), 10, seed)
        affs = affinities(labels).astype(np.float32)
        plain = fragments(affs, voxel_size=(8.0,) * 3, min_size=20, cut=None)
        straddles += _merge_where_affinities_say(labels, plain, affs) > 1e-9
        repaired = fragments(affs, voxel_size=(8.0,) * 3, min_size=20, cut=0.03)
        assert _merge_where_affinities_say(labels, repaired, affs) < 1e-9
    assert straddles  # the case is real, not only guarded against


def test_predicted_like_affinities_keep_their_fragments():
    """Blurry affinities (never near 0 inside a fragment) are not split."""
    labels = _touching((12, 32, 32), 8, 4)
    rng = np.random.default_rng(0)
    affs = 0.15 + 0.7 * affinities(labels).astype(np.float32) + 0.1 * rng.random((3, 12, 32, 32))
    affs = affs.astype(np.float32)
    plain = fragments(affs, voxel_size=(8.0,) * 3, min_size=20, cut=None)
    repaired = fragments(affs, voxel_size=(8.0,) * 3, min_size=20)  # the cut is on by default
    same = evaluate.voi(plain, repaired)  # the same partition (ids may be numbered anew)
    assert same.split + same.merge < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_split_pieces_are_held_together_by_strong_edges_only(seed):
    """Brute force: a strong edge inside a segment is never cut, and a voxel joins another
    segment's voxels only if no strong edge held it to its own (a piece of one voxel)."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    seg = rng.integers(1, 4, (6, 10)).astype(np.uint64)
    affs = rng.random((2, 6, 10)).astype(np.float32)
    out = split_along_cuts(seg, affs, cut=0.5).ravel()
    us, vs, ws = edge_list(affs)
    flat = seg.ravel()
    strong = (ws >= 0.5) & (flat[us] == flat[vs])
    graph = sparse.coo_matrix((np.ones(strong.sum()), (us[strong], vs[strong])),
                              shape=(flat.size, flat.size))
    _, pieces = connected_components(graph, directed=False)  # the oracle's pieces
    size = np.bincount(pieces)[pieces]
    assert (out[us[strong]] == out[vs[strong]]).all()
    for segment in np.unique(out):
        members = np.flatnonzero(out == segment)
        owners = flat[members][size[members] > 1]
        assert len(np.unique(owners)) <= 1  # one input segment's pieces, plus single voxels


def test_long_range_offsets_and_sections():
    labels = _touching((6, 24, 24), 6, 1)
    affs = affinities(labels).astype(np.float32)
    per_section = fragments(affs, voxel_size=(40.0, 8.0, 8.0), sections=True, cut=0.03)
    for z in range(1, 6):  # no fragment spans two sections
        assert not np.intersect1d(per_section[z], per_section[z - 1]).size
    offsets = nearest_offsets(3) + [(0, -3, 0), (0, 0, -3)]
    long_range = affinities(labels, offsets).astype(np.float32)
    out = split_along_cuts(labels, long_range, cut=0.03, offsets=offsets)
    assert evaluate.evaluate(labels, out).voi_total < 1e-9  # the truth is left as it is
    with pytest.raises(ValueError, match="offset of each channel: got 5 channels for a 3D"):
        fragments(long_range, voxel_size=(8.0,) * 3)
    with pytest.raises(ValueError, match="one offset per affinity channel: 5 channels, 3"):
        fragments(long_range, voxel_size=(8.0,) * 3, offsets=nearest_offsets(3))
    assert fragments(long_range, voxel_size=(8.0,) * 3, cut=None).max() > 0  # no cut: no offsets


@pytest.mark.parametrize("shape,cells", [((40, 40), 10), ((10, 28, 28), 8)])
@pytest.mark.parametrize("seed", range(3))
def test_long_range_offsets_give_fragments_inside_one_object(shape, cells, seed):
    labels = _touching(shape, cells, seed)
    ndim = len(shape)
    offsets = nearest_offsets(ndim) + [tuple(-3 if i == j else 0 for j in range(ndim))
                                       for i in range(ndim)]
    affs = affinities(labels, offsets).astype(np.float32)
    frags = fragments(affs, voxel_size=(8.0,) * ndim, min_size=20, offsets=offsets)
    assert _merge_where_affinities_say(labels, frags, affs, offsets) < 1e-9
    result = sweep(affs, frags, labels, thresholds=[0.05, 0.5, 0.95], offsets=offsets)
    assert (result.voi_total < 0.05).all(), result.voi_total


def test_small_pieces_stay_only_where_near_certain_cuts_separate_them():
    """min_size's contract with the cut: a fragment under min_size voxels has no edge at or
    above the cut to any other fragment (joining it would merge two objects)."""
    for seed in range(4):
        labels = _touching((6, 30, 30), 10, seed)
        affs = affinities(labels).astype(np.float32)
        frags = fragments(affs, voxel_size=(40.0, 4.0, 4.0), sections=True, min_size=20)
        sizes = np.bincount(frags.ravel().astype(np.int64))
        us, vs, ws = edge_list(affs[1:], nearest_offsets(3)[1:])  # in-plane edges
        f = frags.ravel()
        joined = (ws >= 0.03) & (f[us] != f[vs])
        small = sizes < 20
        assert not (small[f[us][joined]] | small[f[vs][joined]]).any()


def test_membranes_labelled_background_never_join_two_cells():
    """Labels with a membrane of 0 between cells: every membrane voxel's affinities are 0, so no
    affinity says where it belongs; it is a fragment of its own, never a bridge."""
    from mbl_seg.targets import boundaries

    labels = _touching((12, 32, 32), 8, 3)
    labels[boundaries(labels, voxel_size=(1, 1, 1)) > 0] = 0
    affs = affinities(labels).astype(np.float32)
    frags = fragments(affs, voxel_size=(8.0,) * 3, min_size=20)
    for f in np.unique(frags):
        assert len(np.unique(labels[frags == f])) == 1  # one cell, or membrane voxels only
    result = sweep(affs, frags, labels, thresholds=[0.05, 0.5, 0.95])
    assert (result.voi_total < 0.05).all(), result.voi_total


def test_watershed_from_affinities_sends_a_misplaced_piece_to_its_side():
    """Two objects touching along a line: the flood may give the contact column to the wrong
    seed; the cut sends it back, so there are two segments, equal to the truth."""
    from mbl_seg.segment import watershed_from_affinities

    labels = np.ones((30, 40), np.uint64)
    labels[:, 20:] = 2
    affs = affinities(labels)
    plain = watershed_from_affinities(affs, min_seed_distance=5, voxel_size=(8, 8), cut=None)
    seg = watershed_from_affinities(affs, min_seed_distance=5, voxel_size=(8, 8))
    assert evaluate.voi(labels, plain).merge > 0.01  # the reproducer: a misplaced column
    assert evaluate.voi(labels, seg).split + evaluate.voi(labels, seg).merge < 1e-12
