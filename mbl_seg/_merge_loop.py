"""The merge loop of hierarchical agglomeration, compiled (numba), for the built-in scorings.

The same algorithm as the Python loop of :mod:`mbl_seg.agglomeration` (which stays for a
scoring of one's own): regions in a union-find, each region's edges in a hash map from
neighbour to edge, a heap of ``(score, edge, version)`` whose stale entries are skipped.
Mean and quantile scores are computed here, by the rules of :class:`mbl_seg.scoring.Mean`
and :class:`mbl_seg.scoring.Quantile` (tests check both loops give the same merges).

The heap is three arrays and a binary heap of its own: numba's ``heapq`` on a typed list
of tuples is slower than Python's.

Used in: :func:`mbl_seg.agglomeration.agglomerate` and everything built on it.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.typed import Dict, List

from ._cuts import _find, region_smallest

MEAN, QUANTILE = 0, 1


@numba.njit(cache=True)
def _before(ks, es, vs, i, j):
    """Heap order: score, then edge, then version (as Python compares the tuples)."""
    if ks[i] != ks[j]:
        return ks[i] < ks[j]
    if es[i] != es[j]:
        return es[i] < es[j]
    return vs[i] < vs[j]


@numba.njit(cache=True)
def _swap(ks, es, vs, i, j):
    ks[i], ks[j] = ks[j], ks[i]
    es[i], es[j] = es[j], es[i]
    vs[i], vs[j] = vs[j], vs[i]


@numba.njit(cache=True)
def _sift_down(ks, es, vs, size, i):
    while True:
        smallest, left = i, 2 * i + 1
        if left < size and _before(ks, es, vs, left, smallest):
            smallest = left
        if left + 1 < size and _before(ks, es, vs, left + 1, smallest):
            smallest = left + 1
        if smallest == i:
            return
        _swap(ks, es, vs, i, smallest)
        i = smallest


@numba.njit(cache=True)
def _score(e, mode, q, contacts, sums, hist):
    if mode == MEAN:
        return 1.0 - sums[e] / contacts[e]
    n = contacts[e]
    rank = min(int(q * n), max(n - 1, 0))
    bins = hist.shape[1]
    running = 0
    for index in range(bins):
        running += hist[e, index]
        if running > rank:
            return 1.0 - (index + 0.5) / bins
    return 1.0 - (bins - 0.5) / bins


@numba.njit(cache=True)
def _scores(mode, q, contacts, sums, hist):
    out = np.empty(len(contacts), np.float64)
    for e in range(len(contacts)):
        out[e] = _score(e, mode, q, contacts, sums, hist)
    return out


def relabel_volume(table: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """``table[dense]``, a new array: each voxel's segment from its fragment's index.

    The array is made by numpy, which asks the kernel for huge pages on large arrays;
    one allocated inside compiled code costs a page fault every 4 KiB (on a volume of
    4 Mvoxels, 8 ms against 28 ms).
    """
    out = np.empty(dense.shape, table.dtype)
    _relabel_into(table, np.ascontiguousarray(dense), out)
    return out


@numba.njit(cache=True)
def _relabel_into(table, dense, out):
    flat_out, flat_in = out.reshape(-1), dense.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = table[flat_in[i]]


@numba.njit(cache=True)
def _start(ends_u, ends_v, scores, n):
    adj = List()
    for _ in range(n):
        adj.append(Dict.empty(key_type=types.int64, value_type=types.int64))
    for e in range(len(ends_u)):
        adj[ends_u[e]][ends_v[e]] = e
        adj[ends_v[e]][ends_u[e]] = e
    m = len(scores)
    ks = np.empty(max(2 * m, 1), np.float64)  # each merge pushes at most one entry
    es = np.empty(max(2 * m, 1), np.int64)
    vs = np.zeros(max(2 * m, 1), np.int64)
    ks[:m] = scores
    es[:m] = np.arange(m)
    for i in range(m // 2 - 1, -1, -1):
        _sift_down(ks, es, vs, m, i)
    return adj, ks, es, vs


@numba.njit(cache=True)
def _merge_below(threshold, everything, size, ks, es, vs, version, parent, smallest, adj,
                 ends_u, ends_v, contacts, sums, hist, mode, q, history, done):
    """Merge while the best score is below ``threshold``; returns (heap size, merges done)."""
    while size > 0 and (everything or ks[0] < threshold):
        score, e, seen = ks[0], es[0], vs[0]
        size -= 1
        _swap(ks, es, vs, 0, size)
        _sift_down(ks, es, vs, size, 0)
        if seen != version[e]:
            continue  # stale: the edge's contacts changed, or it was pooled into another
        u, v = _find(parent, ends_u[e]), _find(parent, ends_v[e])
        keep, gone = (u, v) if len(adj[u]) >= len(adj[v]) else (v, u)
        a, b = min(smallest[u], smallest[v]), max(smallest[u], smallest[v])
        history[done, 0], history[done, 1], history[done, 2] = a, b, score
        done += 1
        parent[gone] = keep
        smallest[keep] = a
        mine, theirs = adj[keep], adj[gone]
        adj[gone] = Dict.empty(key_type=types.int64, value_type=types.int64)
        del mine[gone]
        for other, edge in theirs.items():
            if other == keep:
                continue
            near = adj[other]
            del near[gone]
            if other not in mine:  # a new neighbour: the edge (and its heap entry) moves over
                mine[other] = edge
                near[keep] = edge
                continue
            # a common neighbour: pool the contacts of both edges into one, rescore it
            shared = mine[other]
            contacts[shared] += contacts[edge]
            sums[shared] += sums[edge]
            if mode == QUANTILE:
                hist[shared] += hist[edge]
            version[edge] = -1
            version[shared] += 1
            i = size  # push, sift up
            ks[i], es[i], vs[i] = _score(shared, mode, q, contacts, sums, hist), shared, \
                version[shared]
            size += 1
            while i > 0 and _before(ks, es, vs, i, (i - 1) // 2):
                _swap(ks, es, vs, i, (i - 1) // 2)
                i = (i - 1) // 2
    return size, done


class CompiledMerger:
    """The state of an agglomeration with mean or quantile scoring, for the compiled loop.

    The interface of :class:`mbl_seg.agglomeration._Merger`: ``merge_below``,
    ``relabel``, ``merges``.
    """

    def __init__(self, graph, ids: np.ndarray, scoring) -> None:
        from .scoring import Quantile

        n = len(ids)
        self.ids = ids
        self.mode, self.q = (QUANTILE, float(scoring.q)) if isinstance(scoring, Quantile) \
            else (MEAN, 0.0)
        ends = np.searchsorted(ids, graph.edges).astype(np.int64).reshape(-1, 2)
        self.ends_u, self.ends_v = ends[:, 0].copy(), ends[:, 1].copy()
        self.contacts = graph.contacts.astype(np.int64)
        self.sums = graph.affinity_sum.astype(np.float64)
        self.hist = (np.array(graph.histogram, np.int32) if self.mode == QUANTILE
                     else np.zeros((1, 1), np.int32))  # a copy: pooling changes it
        self.version = np.zeros(len(self.contacts), np.int64)
        self.parent = np.arange(n, dtype=np.int64)
        self.smallest = np.arange(n, dtype=np.int64)
        scores = _scores(self.mode, self.q, self.contacts, self.sums, self.hist)
        self.adj, self.ks, self.es, self.vs = _start(self.ends_u, self.ends_v, scores, n)
        self.size = len(self.contacts)
        self.history = np.zeros((max(n - 1, 1), 3))
        self.done = 0

    def merge_below(self, threshold: float) -> None:
        self.size, self.done = _merge_below(
            float(threshold), threshold >= 1.0, self.size, self.ks, self.es, self.vs,
            self.version, self.parent, self.smallest, self.adj, self.ends_u, self.ends_v,
            self.contacts, self.sums, self.hist, self.mode, self.q, self.history, self.done)

    def relabel(self) -> np.ndarray:
        """For every fragment (index into the ids), the smallest fragment id of its region."""
        return region_smallest(self.parent, self.smallest, self.ids)

    def merges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The history as fragment ids (a < b) and scores."""
        done = self.history[:self.done]
        a, b = done[:, 0].astype(np.int64), done[:, 1].astype(np.int64)
        return self.ids[a], self.ids[b], done[:, 2].copy()
