"""MALIS pair counts: Kruskal with sparse histograms against brute force over voxel pairs."""

from collections import Counter

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mbl_seg.malis import (
    descending_order, _strides, malis_weights, maximin_edge,
)
from mbl_seg.targets import affinities

SHAPES = [(3, 3), (2, 4), (4, 4), (2, 2, 3), (2, 3, 3)]


def _edges(shape):
    """(flat edge index, u, v) of every in-volume nearest-neighbour edge."""
    n, strides = int(np.prod(shape)), _strides(shape)
    return [(k * n + i, i, i - strides[k]) for k in range(len(shape)) for i in range(n)
            if np.unravel_index(i, shape)[k] >= 1]


def brute_force_counts(affs, labels):
    """For every pair of labelled voxels, the first threshold (edges ranked by decreasing
    affinity, ties by index) at which they are connected names its maximin edge."""
    shape, n = labels.shape, labels.size
    flat = affs.ravel()
    edges = sorted(_edges(shape), key=lambda t: (-flat[t[0]], t[0]))
    lab = labels.ravel()
    pos, neg = np.zeros(affs.size, np.int64), np.zeros(affs.size, np.int64)
    decided = np.zeros((n, n), bool)
    for r, (e, _, _) in enumerate(edges):
        rows, cols = [t[1] for t in edges[:r + 1]], [t[2] for t in edges[:r + 1]]
        graph = coo_matrix((np.ones(r + 1), (rows, cols)), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        for u in range(n):
            for v in range(u + 1, n):
                if lab[u] and lab[v] and not decided[u, v] and comp[u] == comp[v]:
                    decided[u, v] = True
                    if lab[u] == lab[v]:
                        pos[e] += 1
                    else:
                        neg[e] += 1
    return pos.reshape(affs.shape), neg.reshape(affs.shape)


def counter_kruskal(affs, labels):
    """A plain Kruskal with one Counter per component (no hashing tricks)."""
    shape, n = labels.shape, labels.size
    strides = _strides(shape)
    parent = list(range(n))
    hist = [Counter({int(lab): 1}) if lab else Counter() for lab in labels.ravel()]
    pos, neg = np.zeros(affs.size, np.int64), np.zeros(affs.size, np.int64)

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for e in np.argsort(-affs.ravel(), kind="stable"):
        k, i = divmod(int(e), n)
        if np.unravel_index(i, shape)[k] == 0:
            continue
        a, b = root(i), root(i - strides[k])
        if a != b:
            same = sum(hist[a][lab] * c for lab, c in hist[b].items())
            pos[e], neg[e] = same, sum(hist[a].values()) * sum(hist[b].values()) - same
            parent[b] = a
            hist[a].update(hist[b])
    return pos.reshape(affs.shape), neg.reshape(affs.shape)


def _random_case(rng, shape, *, n_labels=4, ties=False):
    labels = rng.integers(0, n_labels, size=shape).astype(np.uint64)
    affs = rng.random((len(shape), *shape)).astype(np.float32)
    if ties:
        affs = np.round(affs, 1)
    return affs, labels


@pytest.mark.parametrize("shape", SHAPES)
def test_kruskal_equals_brute_force_on_random_tiny_graphs(shape):
    rng = np.random.default_rng(sum(shape) * 7 + len(shape))
    for _ in range(24):  # 5 shapes x 24 = 120 graphs, distinct affinities
        affs, labels = _random_case(rng, shape)
        got = malis_weights(affs, labels)
        want = brute_force_counts(affs, labels)
        np.testing.assert_array_equal(got.pos, want[0])
        np.testing.assert_array_equal(got.neg, want[1])


def test_ties_are_broken_by_edge_index():
    rng = np.random.default_rng(3)
    for shape in SHAPES:
        affs, labels = _random_case(rng, shape, ties=True)
        got = malis_weights(affs, labels)
        want = brute_force_counts(affs, labels)
        np.testing.assert_array_equal(got.pos, want[0])
        np.testing.assert_array_equal(got.neg, want[1])


@pytest.mark.parametrize("shape, n_labels", [((24, 24), 40), ((6, 10, 10), 300),
                                             ((30, 30), 3), ((5, 8, 8), 1000)])
def test_sparse_histograms_match_plain_counters_on_larger_graphs(shape, n_labels):
    rng = np.random.default_rng(n_labels)
    affs, labels = _random_case(rng, shape, n_labels=n_labels)
    labels[labels % 7 == 0] = 0
    got = malis_weights(affs, labels)
    want = counter_kruskal(affs, labels)
    np.testing.assert_array_equal(got.pos, want[0])
    np.testing.assert_array_equal(got.neg, want[1])


def test_counts_add_up_to_all_labelled_pairs_and_respect_the_volume_border():
    rng = np.random.default_rng(5)
    affs, labels = _random_case(rng, (4, 5, 6), n_labels=5)
    counts = malis_weights(affs, labels)
    sizes = np.bincount(labels.ravel().astype(np.int64))[1:]
    n = sizes.sum()
    assert counts.pos.sum() == (sizes * (sizes - 1) // 2).sum()
    assert counts.pos.sum() + counts.neg.sum() == n * (n - 1) // 2
    assert counts.pos.dtype == np.int64 and counts.pos.shape == affs.shape
    for k in range(3):  # no edge leaves the volume at index 0 of axis k
        assert not counts.pos[k].take(0, axis=k).any()
        assert not counts.neg[k].take(0, axis=k).any()


def test_constrained_passes_equal_plain_counts_of_min_and_max_with_ground_truth():
    rng = np.random.default_rng(11)
    for shape in SHAPES:
        affs, labels = _random_case(rng, shape)
        gt = affinities(labels)
        got = malis_weights(affs, labels, constrained=True)
        np.testing.assert_array_equal(got.pos, brute_force_counts(np.minimum(affs, gt),
                                                                  labels)[0])
        np.testing.assert_array_equal(got.neg, brute_force_counts(np.maximum(affs, gt),
                                                                  labels)[1])
        # positive pairs never use a boundary edge unless their object is cut in two
        # inside the patch, negative pairs always do
        assert not got.neg[gt == 1].any()


def test_perfect_prediction_gives_no_wrong_pairs():
    labels = np.array([[1, 1, 0, 2], [1, 1, 0, 2], [3, 3, 3, 2]], dtype=np.uint64)
    gt = affinities(labels)
    counts = malis_weights(gt * 0.8 + 0.1, labels)
    assert not counts.pos[gt == 0].any()  # same-object pairs decided inside objects
    assert not counts.neg[gt == 1].any()  # different-object pairs on boundaries


def test_descending_order_equals_stable_argsort():
    rng = np.random.default_rng(2)
    affs = rng.random((3, 4, 5, 6)).astype(np.float32)
    affs[affs < 0.2] = 0.0
    affs[affs > 0.8] = 1.0
    affs[0, 1, 2, 3] = np.float32(1e-30)  # tiny floats sort like their bits
    want = [e for e in np.argsort(-affs.ravel(), kind="stable")
            if np.unravel_index(e, affs.shape)[1 + e // affs[0].size] >= 1]
    np.testing.assert_array_equal(descending_order(affs), want)


def test_ground_truth_affinities_follow_the_course_convention():
    labels = np.array([[1, 1, 2], [0, 0, 2]], dtype=np.uint64)
    gt = affinities(labels)
    np.testing.assert_array_equal(gt[0], [[0, 0, 0], [0, 0, 1]])  # (y, x) links (y-1, x)
    np.testing.assert_array_equal(gt[1], [[0, 1, 0], [0, 0, 0]])  # background-background: 0


def test_maximin_edge_is_the_bottleneck_of_the_best_path():
    rng = np.random.default_rng(8)
    for shape in [(3, 3), (2, 2, 3)]:
        affs, _ = _random_case(rng, shape)
        n = int(np.prod(shape))
        for u in range(n):
            for v in range(u + 1, n):
                thresholds = sorted(set(affs.ravel()[[e for e, _, _ in _edges(shape)]]))
                best = max(t for t in thresholds if _connected(affs, shape, u, v, t))
                got = maximin_edge(affs, np.unravel_index(u, shape), np.unravel_index(v, shape))
                assert got == pytest.approx(best)


def _connected(affs, shape, u, v, t):
    n = int(np.prod(shape))
    pairs = [(a, b) for e, a, b in _edges(shape) if affs.ravel()[e] >= t]
    if not pairs:
        return False
    rows, cols = zip(*pairs)
    _, comp = connected_components(coo_matrix((np.ones(len(rows)), (rows, cols)),
                                              shape=(n, n)), directed=False)
    return comp[u] == comp[v]


def test_inputs_are_validated():
    labels = np.ones((3, 3), np.uint64)
    with pytest.raises(ValueError, match="one channel per axis"):
        malis_weights(np.zeros((3, 3, 3), np.float32), labels)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        malis_weights(np.full((2, 3, 3), 2.0, np.float32), labels)
    with pytest.raises(TypeError, match="float"):
        malis_weights(np.zeros((2, 3, 3), np.int64), labels)
    with pytest.raises(TypeError, match="integer label image"):
        malis_weights(np.zeros((2, 3, 3), np.float32), labels.astype(float))
    with pytest.raises(ValueError, match="two different voxels"):
        maximin_edge(np.zeros((2, 3, 3)), (1, 1), (1, 1))
