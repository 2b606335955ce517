"""Scorings of edges: the built-in ones as names and objects, and a student's own function."""

import numpy as np
import pytest

from mbl_seg.agglomeration import agglomerate, merge_history
from mbl_seg.rag import BINS, region_graph
from mbl_seg.scoring import Mean, Quantile, as_scoring


def _volume(seed, shape=(10, 10), pieces=12):
    rng = np.random.default_rng(seed)
    centres = rng.random((pieces, 2)) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    frags = np.argmin(((grid[..., None, :] - centres) ** 2).sum(-1), -1).astype(np.uint64) + 1
    affs = ((rng.integers(0, BINS, (2, *shape)) + 0.5) / BINS).astype(np.float32)
    return affs, frags


def sure_of_large_faces(contacts, sums, histograms):
    """A student's scoring: the mean, but small faces must earn their merge."""
    return 1 - sums / contacts + 0.5 / np.sqrt(contacts)


@pytest.mark.parametrize("seed", range(4))
def test_a_scoring_of_ones_own_merges_the_best_edge_scored_from_scratch(seed):
    affs, frags = _volume(seed)
    history = merge_history(affs, frags, scoring=sure_of_large_faces)
    seg = frags.copy()
    for a, b, score in zip(history.a, history.b, history.score):
        graph = region_graph(affs, seg)  # the segmentation as it was before this merge
        scores = sure_of_large_faces(graph.contacts, graph.affinity_sum, None)
        k = np.flatnonzero((graph.edges[:, 0] == a) & (graph.edges[:, 1] == b))
        assert len(k) == 1 and score == pytest.approx(scores[k[0]], abs=1e-9)
        assert score == pytest.approx(scores.min(), abs=1e-9)
        seg[seg == b] = a


@pytest.mark.parametrize("name,options,scoring", [
    ("mean", {}, Mean()), ("quantile", {"quantile": 0.75}, Quantile(0.75))])
def test_names_and_objects_give_the_same_segmentations(name, options, scoring):
    affs, frags = _volume(9)
    thresholds = [0.2, 0.5, 0.8]
    by_name = list(agglomerate(affs, frags, thresholds=thresholds, scoring=name, **options))
    by_object = list(agglomerate(affs, frags, thresholds=thresholds, scoring=scoring))
    assert all(np.array_equal(a, b) for a, b in zip(by_name, by_object))


def test_a_function_as_the_mean_gives_the_means_segmentations():
    affs, frags = _volume(10)
    mine = list(agglomerate(affs, frags, thresholds=[0.3, 0.6],
                            scoring=lambda contacts, sums, histograms: 1 - sums / contacts))
    mean = list(agglomerate(affs, frags, thresholds=[0.3, 0.6]))
    assert all(np.array_equal(a, b) for a, b in zip(mine, mean))


@pytest.mark.parametrize("bad,words", [
    ("median", "scoring must be 'mean', 'quantile'"),
    (0.5, "scoring must be"),
])
def test_bad_scorings_are_explained(bad, words):
    with pytest.raises(ValueError, match=words):
        as_scoring(bad)


def test_a_scoring_that_gives_the_wrong_number_of_scores_is_named():
    affs, frags = _volume(11)
    with pytest.raises(ValueError, match="one finite score per edge"):
        list(agglomerate(affs, frags, thresholds=[0.5],
                         scoring=lambda contacts, sums, histograms: np.zeros(3)))


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_the_one_edge_fast_path_is_the_same_rule(q):
    from mbl_seg.rag import edge_quantile, quantile_of_row

    rng = np.random.default_rng(int(q * 100))
    histograms = rng.integers(0, 4, (50, 16)) * (rng.random((50, 16)) < 0.3)
    histograms[:, 0] += 1  # every edge has a contact
    expected = edge_quantile(histograms, q)
    got = [quantile_of_row(row, int(row.sum()), q) for row in histograms]
    assert np.allclose(got, expected)
    assert np.allclose([Quantile(q).one(int(r.sum()), 0.0, r) for r in histograms], 1 - expected)
