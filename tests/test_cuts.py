"""Fragments that respect the affinity graph (issue 26, item 5): perfect affinities of touching
neurons never give a fragment of two neurons, and agglomeration then finds the truth."""

import numpy as np
import pytest

from mbl_seg import evaluate
from mbl_seg._cuts import edge_list, split_along_cuts
from mbl_seg.agglomeration import sweep
from mbl_seg.segment import fragments
from mbl_seg.targets import affinities, nearest_offsets


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
    assert evaluate.evaluate(labels, frags).voi_merge < 1e-9  # no fragment holds two objects
    result = sweep(affs, frags, labels, thresholds=[0.05, 0.3, 0.55, 0.8, 0.95])
    assert (result.voi_total < 0.05).all(), result.voi_total


def test_without_cut_the_watershed_can_straddle_and_with_it_it_does_not():
    """The reproducer: today's fragments of perfect affinities hold two objects somewhere."""
    straddles = 0
    for seed in range(6):
        labels = _touching((12, 32, 32), 10, seed)
        affs = affinities(labels).astype(np.float32)
        plain = fragments(affs, voxel_size=(8.0,) * 3, min_size=20)
        straddles += evaluate.evaluate(labels, plain).voi_merge > 1e-9
        repaired = fragments(affs, voxel_size=(8.0,) * 3, min_size=20, cut=0.03)
        assert evaluate.evaluate(labels, repaired).voi_merge < 1e-9
    assert straddles  # the case is real, not only guarded against


def test_predicted_like_affinities_keep_their_fragments():
    """Blurry affinities (never near 0 inside a fragment) are not split."""
    labels = _touching((12, 32, 32), 8, 4)
    rng = np.random.default_rng(0)
    affs = 0.15 + 0.7 * affinities(labels).astype(np.float32) + 0.1 * rng.random((3, 12, 32, 32))
    affs = affs.astype(np.float32)
    plain = fragments(affs, voxel_size=(8.0,) * 3, min_size=20)
    repaired = fragments(affs, voxel_size=(8.0,) * 3, min_size=20, cut=0.03)
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
    with pytest.raises(ValueError, match="one channel per axis"):
        fragments(long_range, voxel_size=(8.0,) * 3, cut=0.03)
