import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from mbl_seg.agglomeration import agglomerate, merge_history, sweep
from mbl_seg.evaluate import evaluate
from mbl_seg.rag import BINS, region_graph
from mbl_seg.segment import agglomerate as reexported
from mbl_seg.targets import nearest_offsets, offset_slices


def _blocky(shape, n_ids, seed, step=3, background=False):
    rng = np.random.default_rng(seed)
    frags = rng.integers(0 if background else 1, n_ids + 1,
                         size=tuple(-(-s // step) for s in shape))
    for axis, s in enumerate(shape):
        frags = np.repeat(frags, step, axis=axis).take(range(s), axis=axis)
    affs = rng.random((len(shape),) + tuple(shape)).astype(np.float32)
    return affs, frags.astype(np.uint64)


def _apply(history, frags, k):
    """The segmentation after the first ``k`` merges of ``history`` (smallest id per region)."""
    ids = np.unique(frags)
    lut = {int(i): int(i) for i in ids}
    for a, b in zip(history.a[:k].tolist(), history.b[:k].tolist()):
        old = lut[b] if lut[b] != b else b
        region_a = [i for i, r in lut.items() if r == lut[a]]
        region_b = [i for i, r in lut.items() if r == lut[b]]
        assert min(region_a) == a and min(region_b) == b and old == b
        for i in region_b:
            lut[i] = a
    return np.vectorize(lambda i: lut[int(i)], otypes=[np.uint64])(frags)


def _contacts(affs, seg, u, v):
    values = []
    for k, offset in enumerate(nearest_offsets(seg.ndim)):
        a, b = offset_slices(seg.shape, offset)
        pair = ((seg[a] == u) & (seg[b] == v)) | ((seg[a] == v) & (seg[b] == u))
        values.append(affs[k][a][pair])
    return np.concatenate(values)


def test_threshold_zero_gives_the_fragments_back():
    affs, frags = _blocky((6, 9, 9), 12, 0)
    (seg,) = agglomerate(affs, frags, thresholds=[0.0])
    assert np.array_equal(seg, frags)
    assert seg.dtype == np.uint64


def test_threshold_one_merges_every_connected_set_of_fragments():
    affs = np.random.default_rng(1).random((2, 20, 24)).astype(np.float32)
    frags = (np.arange(20)[:, None] // 3 * 10 + np.arange(24)[None, :] // 3 + 1).astype(np.uint64)
    frags[9:11] = 0  # background bands cut the fragments into at least four sets
    frags[:, 11:13] = 0
    (seg,) = agglomerate(affs, frags, thresholds=[1.0])
    graph = region_graph(affs, frags)
    ids = np.unique(frags[frags > 0])
    index = {int(i): k for k, i in enumerate(ids)}
    rows = [index[int(u)] for u in graph.edges[:, 0]]
    cols = [index[int(v)] for v in graph.edges[:, 1]]
    adjacency = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids),) * 2)
    count, component = connected_components(adjacency, directed=False)
    assert count >= 4
    for c in range(count):
        members = ids[component == c]
        in_seg = np.unique(seg[np.isin(frags, members)])
        assert in_seg.tolist() == [members.min()]
    assert np.array_equal(seg == 0, frags == 0)


def _chain():
    """Fragments 1..5 in a row; affinities on the faces 1|2 .. 4|5 (x-edges), none elsewhere."""
    frags = np.repeat(np.arange(1, 6, dtype=np.uint64), 2)[None, :].repeat(2, axis=0)
    affs = np.zeros((2,) + frags.shape, np.float32)
    for column, value in zip((2, 4, 6, 8), (0.9, 0.2, 0.8, 0.6)):
        affs[1, :, column] = value  # links column-1 and column
    return affs, frags


def test_merge_order_on_a_hand_made_chain():
    history = merge_history(*_chain())
    assert history.a.tolist() == [1, 3, 3, 1]
    assert history.b.tolist() == [2, 4, 5, 3]
    assert np.allclose(history.score, [0.1, 0.2, 0.4, 0.8])


def test_merged_edges_pool_contacts_exactly_not_as_a_mean_of_means():
    # A = 1 touches C = 3 on three contacts at 0.9, B = 2 touches C on one contact at 0.1,
    # A and B merge first; then {A, B}-C has mean (3 * 0.9 + 0.1) / 4 = 0.7 (score 0.3),
    # ahead of C-D = 3-4 at 0.6 (score 0.4). A mean of means (0.5) would take C-D first.
    frags = np.array([[1, 3, 4],
                      [1, 3, 4],
                      [1, 3, 4],
                      [2, 3, 4]], np.uint64)
    affs = np.zeros((2, 4, 3), np.float32)
    affs[1, :3, 1] = 0.9  # A|C
    affs[1, 3, 1] = 0.1   # B|C
    affs[1, :, 2] = 0.6   # C|D
    affs[0, 3, 0] = 0.95  # A|B (y-edge into row 3)
    history = merge_history(affs, frags)
    assert list(zip(history.a.tolist(), history.b.tolist())) == [(1, 2), (1, 3), (1, 4)]
    assert np.allclose(history.score, [0.05, 0.3, 0.4])


@pytest.mark.parametrize("scoring,q", [("mean", None), ("quantile", 0.5), ("quantile", 0.75)])
def test_every_merge_is_the_best_edge_scored_from_scratch(scoring, q):
    """Replay the history: each merge joins the pair with the lowest score recomputed from the
    segmentation as it was, and its score is that recomputation (mean, or sorted contacts)."""
    rng = np.random.default_rng(7)
    frags = _blocky((12, 12), 14, 2)[1]
    # affinities on the histogram's bin centres: quantiles from histograms are then exact
    affs = ((rng.integers(0, BINS, (2, 12, 12)) + 0.5) / BINS).astype(np.float32)
    options = {} if q is None else {"scoring": scoring, "quantile": q}
    history = merge_history(affs, frags, **options)
    for k in range(len(history.a)):
        seg = _apply(history, frags, k)
        graph = region_graph(affs, seg)
        if q is None:
            scores = 1 - graph.mean_affinity
        else:
            scores = 1 - graph.quantile(q)
        pair = (history.a[k], history.b[k])
        where = np.flatnonzero((graph.edges[:, 0] == pair[0]) & (graph.edges[:, 1] == pair[1]))
        assert len(where) == 1, f"merge {k} joins regions that do not touch"
        values = np.sort(_contacts(affs, seg, *pair))
        if q is None:
            expected = 1 - values.astype(np.float64).mean()
        else:
            expected = 1 - values[min(int(np.floor(q * len(values))), len(values) - 1)]
        assert history.score[k] == pytest.approx(expected, abs=1e-9)
        assert history.score[k] == pytest.approx(scores.min(), abs=1e-9)


def test_one_run_gives_every_threshold_as_separate_runs_do():
    affs, frags = _blocky((5, 9, 9), 20, 3)
    thresholds = [0.2, 0.4, 0.5, 0.6, 0.9]
    together = list(agglomerate(affs, frags, thresholds=thresholds))
    for t, seg in zip(thresholds, together):
        (alone,) = agglomerate(affs, frags, thresholds=[t])
        assert np.array_equal(seg, alone)
    counts = [len(np.unique(s)) for s in together]
    assert counts == sorted(counts, reverse=True)


def test_sweep_scores_equal_evaluating_each_segmentation():
    affs, frags = _blocky((6, 12, 12), 25, 4)
    truth = _blocky((6, 12, 12), 4, 5, step=6, background=True)[1]
    thresholds = [0.0, 0.3, 0.5, 0.7, 1.0]
    result = sweep(affs, frags, truth, thresholds=thresholds)
    for k, seg in enumerate(agglomerate(affs, frags, thresholds=thresholds)):
        scores = evaluate(truth, seg)
        assert result.voi_split[k] == pytest.approx(scores.voi_split, abs=1e-9)
        assert result.voi_merge[k] == pytest.approx(scores.voi_merge, abs=1e-9)
        assert result.arand[k] == pytest.approx(scores.arand, abs=1e-9)
        assert result.segments[k] == len(np.unique(seg))
    assert result.best in thresholds
    assert result.voi_total[thresholds.index(result.best)] == result.voi_total.min()
    assert "<- best" in str(result)


def test_perfect_affinities_agglomerate_to_the_truth():
    truth = _blocky((6, 12, 12), 5, 6, step=4)[1]
    from mbl_seg.targets import affinities

    frags = _blocky((6, 12, 12), 40, 8, step=2)[1] + truth * np.uint64(100)  # within truth
    (seg,) = agglomerate(affinities(truth), frags, thresholds=[0.5])
    assert evaluate(truth, seg).voi_total == pytest.approx(0.0, abs=1e-12)


def test_segment_reexports_agglomerate():
    assert reexported is agglomerate


@pytest.mark.parametrize("options,error,words", [
    ({"thresholds": [0.5, 0.2]}, ValueError, "increase"),
    ({"thresholds": 0.5}, TypeError, "sequence"),
    ({"thresholds": [0.5], "scoring": "median"}, ValueError, "scoring"),
    ({"thresholds": [0.5], "scoring": "quantile", "quantile": 2.0}, ValueError, "quantile"),
    ({"thresholds": [-0.1]}, ValueError, "threshold"),
])
def test_bad_options_are_explained(options, error, words):
    affs, frags = _blocky((6, 6), 4, 0)
    with pytest.raises(error, match=words):
        list(agglomerate(affs, frags, **options))


def test_mismatched_truth_is_explained():
    affs, frags = _blocky((6, 6), 4, 0)
    with pytest.raises(ValueError, match="truth"):
        sweep(affs, frags, frags[:5], thresholds=[0.5])


def test_bad_options_are_explained_at_the_call_not_at_the_first_segmentation():
    affs, frags = _blocky((6, 6), 4, 0)
    with pytest.raises(ValueError, match="increase"):
        agglomerate(affs, frags, thresholds=[0.5, 0.2])
    with pytest.raises(ValueError, match="do not match"):
        agglomerate(affs[:, :5], frags, thresholds=[0.5])


@pytest.mark.parametrize("scoring", ["mean", "quantile"])
def test_agglomerating_the_graph_alone_gives_the_same_segmentation(scoring):
    from mbl_seg.agglomeration import agglomerate_graph
    from mbl_seg.rag import BINS, region_graph

    rng = np.random.default_rng(3)
    frags = rng.integers(1, 30, (6, 9, 9)).astype(np.uint64)
    affs = rng.random((3, 6, 9, 9)).astype(np.float32)
    graph = region_graph(affs, frags, bins=BINS)
    thresholds = [0.2, 0.5, 0.8]
    for seg, (ids, segments) in zip(agglomerate(affs, frags, thresholds=thresholds,
                                                scoring=scoring),
                                    agglomerate_graph(graph, thresholds=thresholds,
                                                      scoring=scoring)):
        assert np.array_equal(segments[np.searchsorted(ids, frags)], seg)


def test_agglomerate_graph_explains_bad_input():
    from mbl_seg.agglomeration import agglomerate_graph
    from mbl_seg.rag import region_graph

    g = region_graph(np.ones((2, 1, 3)), np.array([[1, 1, 2]], np.uint64), bins=None)
    with pytest.raises(TypeError, match="RegionGraph"):
        agglomerate_graph("graph", thresholds=[0.5])
    with pytest.raises(ValueError, match="histograms"):
        agglomerate_graph(g, thresholds=[0.5], scoring="quantile")
    with pytest.raises(ValueError, match="increase"):
        agglomerate_graph(g, thresholds=[0.5, 0.2])
