"""Hierarchical agglomeration of fragments: merge the most affine pair first, again and again.

Every edge of the region adjacency graph (:mod:`mbl_seg.rag`) gets a score,
``1 - mean affinity`` of its contacts (or ``1 -`` a quantile of them). The
edge with the lowest score is merged; the merged region's edges to its
neighbours are updated *exactly*: the contacts of both merged regions with a
common neighbour are pooled (the mean is the sum over the union of contacts
divided by their number, not a mean of means; quantiles come from the summed
histograms), and the scores are recomputed. Thresholds are passed in
increasing order; the segmentation at each is yielded as the merging reaches
it, so one run gives the whole split/merge curve (as waterz does).

The merges are those of waterz's mean-affinity agglomeration (the same segmentations on
the course volumes); the merge loop is compiled (:mod:`mbl_seg._merge_loop`) for mean and
quantile scoring, Python for a scoring of one's own (``bench/bench_agglomerate.py``).

A threshold ``t`` merges while the lowest score is below ``t``; ``t = 0`` gives
the fragments back, and ``t >= 1`` merges every connected set of fragments.

Used in: notebooks/07_agglomeration.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from ._validate import as_labels, as_number, same_shape
from .evaluate import Table, arand_from_table, contingency_table, voi_from_table
from .rag import BINS, RegionGraph, _graph, checked_inputs, id_lookup
from .scoring import Mean, Quantile, as_scoring

__all__ = ["MergeHistory", "Sweep", "agglomerate", "agglomerate_graph", "merge_history", "sweep"]


class MergeHistory(NamedTuple):
    """Merges in the order they happened: the region whose smallest fragment is ``a`` and the
    one whose smallest fragment is ``b`` (``a < b``) were merged at ``score``."""

    a: np.ndarray
    b: np.ndarray
    score: np.ndarray


def agglomerate(affs: np.ndarray, fragments: np.ndarray, *, thresholds: Sequence[float],
                scoring: str = "mean", quantile: float = 0.5,
                offsets: Sequence[Sequence[int]] | None = None) -> Iterator[np.ndarray]:
    """Yield the segmentation of ``fragments`` after merging up to each threshold.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], channels first (nearest neighbours unless ``offsets``).
    fragments : (Z, Y, X) or (Y, X) ndarray of uint64
        Over-segmentation, 0 = no fragment (never merged).
    thresholds : sequence of float
        Increasing score thresholds in [0, 1]; one segmentation per threshold.
    scoring : "mean", "quantile" or a function
        Score of an edge: ``1 - mean`` or ``1 - quantile`` of its contact affinities,
        or your own (:mod:`mbl_seg.scoring`).
    quantile : float
        Which quantile, for ``scoring="quantile"`` (0.5: the median).
    offsets : list of tuple of int, optional
        The offset of each affinity channel.

    Returns
    -------
    iterator of (Z, Y, X) or (Y, X) ndarray of uint64
        One segmentation per threshold, each a new array; each segment has the
        smallest fragment id in it, 0 stays 0. The inputs are checked and the
        graph is built when ``agglomerate`` is called; the merging happens as
        the iterator is advanced, one threshold at a time.

    Examples
    --------
    >>> frags = np.array([[1, 2, 3]], np.uint64)
    >>> affs = np.zeros((2, 1, 3), np.float32); affs[1, 0, 1] = 0.9; affs[1, 0, 2] = 0.3
    >>> [s.tolist() for s in agglomerate(affs, frags, thresholds=[0.0, 0.5, 1.0])]
    [[[1, 2, 3]], [[1, 1, 3]], [[1, 1, 1]]]
    """
    thresholds = _as_thresholds(thresholds)  # checked now, not at the first next()
    merger, ids, labels, lut = _start(affs, fragments, scoring, quantile, offsets)
    return _segmentations(merger, labels, lut, thresholds)


def _segmentations(merger: _Merger, labels: np.ndarray, lut: np.ndarray,
                   thresholds: list[float]) -> Iterator[np.ndarray]:
    from ._merge_loop import relabel_volume

    for threshold in thresholds:
        merger.merge_below(threshold)
        table = merger.relabel()[np.maximum(lut, 0)]  # by label (absent labels: unused)
        yield relabel_volume(table, labels)


def agglomerate_graph(graph: RegionGraph, *, thresholds: Sequence[float], scoring: str = "mean",
                      quantile: float = 0.5) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`agglomerate` on a region graph alone: yield a fragment-to-segment table per threshold.

    For volumes that do not fit in memory, the graph is all agglomeration
    needs (:mod:`mbl_seg.blockwise` gathers it block by block); the volume is
    relabelled later, block by block, with the table.

    Parameters
    ----------
    graph : RegionGraph
        From :func:`mbl_seg.rag.region_graph` or :func:`mbl_seg.rag.combine`;
        its ``sizes`` name every fragment (fragments without edges stay alone).
    thresholds, scoring, quantile :
        As for :func:`agglomerate` (quantile scoring needs the graph's histograms).

    Returns
    -------
    iterator of (ids, segments), two (N,) ndarrays of uint64
        The sorted fragment ids and, for each, the smallest fragment id of its
        segment: the same merges, in the same order, as :func:`agglomerate`.

    Examples
    --------
    >>> from mbl_seg.rag import region_graph
    >>> frags = np.array([[1, 2, 3]], np.uint64)
    >>> affs = np.zeros((2, 1, 3), np.float32); affs[1, 0, 1] = 0.9; affs[1, 0, 2] = 0.3
    >>> [s.tolist() for _, s in agglomerate_graph(region_graph(affs, frags), thresholds=[0.5])]
    [[1, 1, 3]]
    """
    thresholds = _as_thresholds(thresholds)
    if not isinstance(graph, RegionGraph):
        raise TypeError(f"graph must be a RegionGraph (mbl_seg.rag.region_graph), got "
                        f"{type(graph).__name__}")
    scoring = as_scoring(scoring, quantile)
    if scoring.histograms and graph.histogram is None:
        raise ValueError(f"{scoring} scoring needs a graph with histograms: build it with "
                         "region_graph(..., bins=256)")
    ids = np.union1d(np.fromiter(graph.sizes, np.uint64, len(graph.sizes)),
                     np.asarray(graph.edges, np.uint64).ravel()).astype(np.uint64)
    ids = ids[ids != 0]
    if not ids.size:  # nothing to merge: an empty table per threshold
        empty = np.zeros(0, np.uint64)
        return iter([(empty, empty.copy()) for _ in thresholds])
    return _tables(_merger(graph, ids, scoring), thresholds)


def _tables(merger: _Merger, thresholds: list[float]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for threshold in thresholds:
        merger.merge_below(threshold)
        yield merger.ids, merger.relabel()


def merge_history(affs: np.ndarray, fragments: np.ndarray, *, scoring: str = "mean",
                  quantile: float = 0.5,
                  offsets: Sequence[Sequence[int]] | None = None) -> MergeHistory:
    """Every merge of a full agglomeration (up to threshold 1), in order.

    >>> frags = np.array([[1, 2, 3]], np.uint64)
    >>> affs = np.zeros((2, 1, 3), np.float32); affs[1, 0, 1] = 0.9; affs[1, 0, 2] = 0.3
    >>> h = merge_history(affs, frags)
    >>> h.a.tolist(), h.b.tolist(), h.score.round(2).tolist()
    ([1, 1], [2, 3], [0.1, 0.7])
    """
    merger = _start(affs, fragments, scoring, quantile, offsets)[0]
    merger.merge_below(1.0)
    return MergeHistory(*merger.merges())


class Sweep(NamedTuple):
    """Scores of one agglomeration at every threshold (VOI in bits, ARAND unitless).

    ``best`` is the threshold with the lowest VOI total (pick it on validation
    data, report it on test data); ``str(sweep)`` is a table of every row.
    """

    thresholds: np.ndarray
    voi_split: np.ndarray
    voi_merge: np.ndarray
    arand: np.ndarray
    segments: np.ndarray

    @property
    def voi_total(self) -> np.ndarray:
        return self.voi_split + self.voi_merge

    @property
    def best(self) -> float:
        """The threshold with the lowest VOI total (the lower one on a tie)."""
        return float(self.thresholds[int(np.argmin(self.voi_total))])

    def __str__(self) -> str:
        lines = ["threshold  segments  VOI split  VOI merge  VOI total   ARAND"]
        best = int(np.argmin(self.voi_total))
        for k, t in enumerate(self.thresholds):
            mark = "  <- best" if k == best else ""
            lines.append(f"{t:9.2f}  {self.segments[k]:8d}  {self.voi_split[k]:9.3f}  "
                         f"{self.voi_merge[k]:9.3f}  {self.voi_total[k]:9.3f}  "
                         f"{self.arand[k]:6.3f}{mark}")
        return "\n".join(lines)


def sweep(affs: np.ndarray, fragments: np.ndarray, truth: np.ndarray, *,
          thresholds: Sequence[float], scoring: str = "mean", quantile: float = 0.5,
          offsets: Sequence[Sequence[int]] | None = None) -> Sweep:
    """Agglomerate once and score the segmentation at every threshold against ``truth``.

    The same merges as :func:`agglomerate`, but no volume is relabelled: the
    contingency table of ``truth`` and ``fragments`` is counted once, and the
    table at each threshold is that one with fragment ids replaced by their
    segment's (exact, and fast enough for a dense sweep).

    Parameters
    ----------
    affs, fragments, thresholds, scoring, quantile, offsets
        As in :func:`agglomerate`.
    truth : ndarray of uint64, the shape of ``fragments``
        Ground truth, 0 = background (ignored by the metrics).

    Returns
    -------
    Sweep

    Examples
    --------
    >>> frags = np.array([[1, 2, 3]], np.uint64)
    >>> affs = np.zeros((2, 1, 3), np.float32); affs[1, 0, 1] = 0.9; affs[1, 0, 2] = 0.3
    >>> result = sweep(affs, frags, np.array([[7, 7, 8]]), thresholds=[0.0, 0.5, 1.0])
    >>> result.voi_total.round(3).tolist(), result.best
    ([0.667, 0.0, 0.918], 0.5)
    """
    thresholds = _as_thresholds(thresholds)
    truth = as_labels(truth, name="truth")
    same_shape(truth, np.asarray(fragments), ("truth", "fragments"))
    merger, ids, _, _ = _start(affs, fragments, scoring, quantile, offsets)
    table = contingency_table(truth, fragments)
    where = np.searchsorted(ids, table.seg_ids)  # each entry's fragment, as an index into ids
    rows = {"voi_split": [], "voi_merge": [], "arand": [], "segments": []}
    for threshold in thresholds:
        merger.merge_below(threshold)
        segment = merger.relabel()
        merged = _merge_entries(table.gt_ids, segment[where], table.counts)
        voi = voi_from_table(merged)
        rows["voi_split"].append(voi.split)
        rows["voi_merge"].append(voi.merge)
        rows["arand"].append(arand_from_table(merged))
        rows["segments"].append(len(np.unique(segment[segment > 0])))
    return Sweep(np.array(thresholds), *(np.array(rows[k]) for k in
                                         ("voi_split", "voi_merge", "arand", "segments")))


def _merge_entries(gt_ids: np.ndarray, seg_ids: np.ndarray, counts: np.ndarray) -> Table:
    """A contingency table whose repeated (gt, seg) pairs are summed into one entry."""
    pairs, inverse = np.unique(np.stack([gt_ids, seg_ids]), axis=1, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=counts).astype(np.int64)
    return Table(pairs[0], pairs[1], summed)


def _start(affs, fragments, scoring, quantile, offsets) -> tuple:
    """Check the inputs, build the graph (histograms only if the scoring reads them), start.

    Returns (merger, ids, labels, lut): a voxel's fragment is ``lut[labels[voxel]]``.
    """
    scoring = as_scoring(scoring, quantile)
    affs, fragments, offsets = checked_inputs(affs, fragments, offsets)
    ids, labels, lut = id_lookup(fragments)
    graph = _graph(affs, ids, labels, lut, offsets, BINS if scoring.histograms else None,
                   sizes=False)
    return _merger(graph, ids, scoring), ids, labels, lut


def _merger(graph: RegionGraph, ids: np.ndarray, scoring):
    """The compiled merge loop for the built-in scorings, the Python one for any other."""
    if type(scoring) in (Mean, Quantile):
        from ._merge_loop import CompiledMerger

        return CompiledMerger(graph, ids, scoring)
    return _Merger(graph, ids, scoring)


def _as_thresholds(thresholds) -> list[float]:
    if np.ndim(thresholds) == 0:
        raise TypeError(f"thresholds must be a sequence of numbers, e.g. [0.1, 0.3, 0.5], got "
                        f"{thresholds!r}")
    values = [as_number(t, "each threshold", nonnegative=True) for t in thresholds]
    if any(b < a for a, b in zip(values, values[1:])):
        raise ValueError(f"thresholds must increase (one agglomeration run passes them in "
                         f"order), got {list(thresholds)}")
    return values


class _Merger:
    """The state of an agglomeration: regions (union-find), their edges, a heap of scores.

    Fragments are numbered by their index into the sorted ids (so the smallest
    index of a region is its smallest fragment id). The heap holds ``(score,
    edge, version)``; an edge's version goes up when its contacts change (its
    old entries are then stale) and to -1 when it is pooled into another edge.
    Edges keep their fragment ends; the regions they join are the union-find
    roots of those, so an edge that only moves to a merged region keeps its
    heap entry.
    """

    def __init__(self, graph: RegionGraph, ids: np.ndarray, scoring) -> None:
        from ._cuts import _find

        self._find = _find.py_func  # the union-find of the compiled loops, run by Python
        self.scoring = scoring
        self.one = getattr(scoring, "one", None)  # a scoring's own fast path for one edge
        n = len(ids)
        self.ids = ids
        self.parent = list(range(n))
        self.smallest = list(range(n))  # of each region (by its root): its smallest fragment
        self.neighbours: list[dict[int, int]] = [{} for _ in range(n)]
        self.contacts = graph.contacts.astype(np.int64).tolist()
        self.sums = graph.affinity_sum.tolist()
        self.histograms = graph.histogram.astype(np.int64) if scoring.histograms else None
        self.ends = np.searchsorted(ids, graph.edges).tolist()
        self.version = [0] * len(self.contacts)
        self.history: list[tuple[int, int, float]] = []
        for e, (u, v) in enumerate(self.ends):
            self.neighbours[u][v] = e
            self.neighbours[v][u] = e
        scores = np.asarray(scoring(graph.contacts, graph.affinity_sum, self.histograms),
                            np.float64)
        if scores.shape != (len(self.contacts),) or not np.isfinite(scores).all():
            raise ValueError(f"the scoring must give one finite score per edge: "
                             f"{len(self.contacts)} edges, got {scores.shape} scores")
        self.heap = [(score, e, 0) for e, score in enumerate(scores.tolist())]
        heapq.heapify(self.heap)

    def _score(self, e: int) -> float:
        if self.one is not None:
            row = None if self.histograms is None else self.histograms[e]
            return float(self.one(self.contacts[e], self.sums[e], row))
        rows = None if self.histograms is None else self.histograms[e:e + 1]
        return float(self.scoring(np.array(self.contacts[e:e + 1]),
                                  np.array(self.sums[e:e + 1]), rows)[0])

    def merge_below(self, threshold: float) -> None:
        heap, version, root, ends = self.heap, self.version, self._root, self.ends
        everything = threshold >= 1.0
        while heap and (everything or heap[0][0] < threshold):
            score, e, seen = heapq.heappop(heap)
            if seen != version[e]:
                continue  # stale: the edge's contacts changed, or it was pooled into another
            a, b = ends[e]
            self._merge(root(a), root(b), score)

    def _merge(self, u: int, v: int, score: float) -> None:
        """Merge regions u and v: the one with fewer neighbours goes into the other."""
        neighbours = self.neighbours
        keep, gone = (u, v) if len(neighbours[u]) >= len(neighbours[v]) else (v, u)
        a, b = sorted((self.smallest[u], self.smallest[v]))
        self.history.append((a, b, score))
        self.parent[gone] = keep
        self.smallest[keep] = a
        mine, theirs = neighbours[keep], neighbours[gone]
        neighbours[gone] = {}
        del mine[gone]
        for other, e in theirs.items():
            if other == keep:
                continue
            near = neighbours[other]
            del near[gone]
            shared = mine.get(other)
            if shared is None:  # a new neighbour: the edge (and its heap entry) moves over
                mine[other] = e
                near[keep] = e
                continue
            # a common neighbour: pool the contacts of both edges into one, rescore it
            self.contacts[shared] += self.contacts[e]
            self.sums[shared] += self.sums[e]
            if self.histograms is not None:
                self.histograms[shared] += self.histograms[e]
            self.version[e] = -1
            self.version[shared] += 1
            heapq.heappush(self.heap, (self._score(shared), shared, self.version[shared]))

    def _root(self, i: int) -> int:
        return self._find(self.parent, i)

    def relabel(self) -> np.ndarray:
        """For every fragment (index into the ids), the smallest fragment id of its region."""
        from ._cuts import region_smallest

        return region_smallest(self.parent, self.smallest, self.ids)

    def merges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The history as fragment ids (a < b) and scores."""
        if not self.history:
            return np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0)
        a, b, score = (np.array(column) for column in zip(*self.history))
        return self.ids[a], self.ids[b], score.astype(np.float64)

