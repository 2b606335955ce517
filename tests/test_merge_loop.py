"""The compiled merge loop (mbl_seg._merge_loop) makes the merges of the Python loop, in order."""

import numpy as np
import pytest

from mbl_seg.agglomeration import _merger, agglomerate, merge_history
from mbl_seg.rag import _edge_quantile
from mbl_seg.scoring import Mean, Quantile, as_scoring


class _PythonQuantile:
    """Quantile scoring written as a scoring of one's own: it takes the Python loop."""

    histograms = True

    def __init__(self, q):
        self.q = q

    def __call__(self, contacts, sums, histograms):
        return 1.0 - _edge_quantile(histograms, self.q)


def _random_case(shape, n_ids, seed):
    rng = np.random.default_rng(seed)
    frags = rng.integers(1, n_ids + 1, size=tuple(-(-s // 2) for s in shape))
    for axis, s in enumerate(shape):
        frags = np.repeat(frags, 2, axis=axis).take(range(s), axis=axis)
    # quantised affinities: many ties, so the order of equal scores is tested too
    affs = np.round(rng.random((len(shape),) + tuple(shape)) * 8) / 8
    return affs.astype(np.float32), frags.astype(np.uint64)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("compiled,python", [
    (Mean(), lambda contacts, sums, histograms: 1.0 - sums / contacts),
    (Quantile(0.5), _PythonQuantile(0.5)),
    (Quantile(0.75), _PythonQuantile(0.75)),
])
def test_compiled_and_python_loops_merge_the_same_pairs_in_the_same_order(seed, compiled,
                                                                          python):
    affs, frags = _random_case((6, 14, 14) if seed % 2 else (30, 30), 25 + seed, seed)
    fast = merge_history(affs, frags, scoring=compiled)
    slow = merge_history(affs, frags, scoring=python)
    assert len(fast.a) > 10
    assert np.array_equal(fast.a, slow.a) and np.array_equal(fast.b, slow.b)
    assert np.allclose(fast.score, slow.score, rtol=0, atol=1e-12)


def test_the_built_in_scorings_take_the_compiled_loop_and_others_the_python_one():
    from mbl_seg._merge_loop import CompiledMerger
    from mbl_seg.rag import region_graph

    affs, frags = _random_case((20, 20), 10, 0)
    graph = region_graph(affs, frags, bins=256)
    ids = np.unique(frags)
    assert isinstance(_merger(graph, ids, as_scoring("mean")), CompiledMerger)
    assert isinstance(_merger(graph, ids, as_scoring("quantile", 0.3)), CompiledMerger)
    own = as_scoring(lambda contacts, sums, histograms: 1.0 - sums / contacts)
    assert not isinstance(_merger(graph, ids, own), CompiledMerger)


def test_thresholds_resume_the_compiled_loop_where_it_stopped():
    affs, frags = _random_case((24, 24), 30, 3)
    at_once = list(agglomerate(affs, frags, thresholds=[0.3, 0.5, 0.7]))
    for threshold, seg in zip([0.3, 0.5, 0.7], at_once):
        (alone,) = agglomerate(affs, frags, thresholds=[threshold])
        assert np.array_equal(seg, alone)


def test_nothing_to_merge():
    frags = np.ones((4, 4), np.uint64)
    history = merge_history(np.ones((2, 4, 4), np.float32), frags)
    assert history.a.size == 0 and history.a.dtype == np.uint64
