"""The region adjacency graph of fragments, with the affinities on every contact face.

Two fragments are adjacent when some affinity edge (a pair of face-neighbour
voxels) joins a voxel of one to a voxel of the other. Every such edge is one
*contact*; a graph edge keeps what agglomeration needs to score and merge
exactly: the number of contacts, the sum of their affinities (the mean of a
merged edge is then a sum over the union of contacts, not a mean of means)
and a histogram of their affinities (quantiles of a merged edge come from
the summed histograms).

Everything is gathered in one vectorised pass over the affinity channels: no
Python loop over voxels or over edges.

Used in: notebooks/07_agglomeration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ._validate import as_affinities, as_labels, as_number
from .evaluate import contingency_table
from .targets import as_offsets, nearest_offsets

__all__ = ["RegionGraph", "combine", "dense_ids", "edge_quantile", "region_graph", "same_object"]

BINS = 256  # affinity histogram bins per edge, as waterz's histogram quantiles


class RegionGraph(NamedTuple):
    """Adjacent fragment pairs and the statistics of their contact faces.

    Attributes
    ----------
    edges : (E, 2) ndarray of uint64
        Fragment ids ``u < v`` of each adjacent pair, sorted.
    contacts : (E,) ndarray of int64
        Number of affinity edges between the two fragments (the contact face's size).
    affinity_sum : (E,) ndarray of float64
        Sum of those affinities; ``affinity_sum / contacts`` is the mean affinity.
    histogram : (E, bins) ndarray of int32, or None
        Counts of those affinities in ``bins`` equal bins over [0, 1] (None
        when the graph was built without, for mean scoring).
    sizes : dict of int to int
        Voxels of every fragment.
    """

    edges: np.ndarray
    contacts: np.ndarray
    affinity_sum: np.ndarray
    histogram: np.ndarray
    sizes: dict

    @property
    def mean_affinity(self) -> np.ndarray:
        return self.affinity_sum / np.maximum(self.contacts, 1)

    def quantile(self, q: float) -> np.ndarray:
        """The ``q`` quantile of every edge's contact affinities, from its histogram."""
        if self.histogram is None:
            raise ValueError("this graph was built without histograms (bins=None): build it "
                             "with region_graph(..., bins=256) to read quantiles")
        return edge_quantile(self.histogram, q)


def region_graph(affs: np.ndarray, fragments: np.ndarray, *,
                 offsets: Sequence[Sequence[int]] | None = None,
                 bins: int | None = BINS) -> RegionGraph:
    """The region adjacency graph of ``fragments`` with contact statistics from ``affs``.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], channels first; ``affs[k][i]`` links voxel ``i``
        and ``i + offsets[k]``.
    fragments : (Z, Y, X) or (Y, X) ndarray of uint64
        Fragment ids, 0 = no fragment (its contacts are left out).
    offsets : list of tuple of int, optional
        One per channel; default the nearest neighbours
        (:func:`mbl_seg.targets.nearest_offsets`).
    bins : int or None
        Histogram bins per edge over [0, 1]; None: no histograms (enough for
        mean scoring, and faster).

    Returns
    -------
    RegionGraph

    Examples
    --------
    >>> frags = np.array([[1, 1, 2, 2]], np.uint64)
    >>> affs = np.ones((2, 1, 4), np.float32); affs[1, 0, 2] = 0.25
    >>> g = region_graph(affs, frags)
    >>> g.edges.tolist(), g.contacts.tolist(), g.mean_affinity.tolist()
    ([[1, 2]], [1], [0.25])
    """
    if bins is not None:
        bins = as_number(bins, "bins", integer=True, positive=True)
    affs, fragments, offsets = checked_inputs(affs, fragments, offsets)
    return _graph(affs, *id_lookup(fragments), offsets, bins)


def combine(graphs: Sequence[RegionGraph]) -> RegionGraph:
    """One graph from parts of it: the contacts of the same pair in several parts are pooled.

    The statistics of a contact face are sums (contacts, affinity sum,
    histogram), so the graph of a volume is the sum of the graphs of its
    pieces, as long as every contact is counted in exactly one piece (how
    the block-wise pipeline of :mod:`mbl_seg.blockwise` builds the graph of a
    volume that never sits in memory). Fragment sizes add up too. Histograms
    are kept only if every part has them.

    Examples
    --------
    >>> a = region_graph(np.ones((2, 1, 2)), np.array([[1, 2]], np.uint64))
    >>> b = region_graph(np.full((2, 1, 2), 0.5), np.array([[1, 2]], np.uint64))
    >>> g = combine([a, b])
    >>> g.edges.tolist(), g.contacts.tolist(), g.mean_affinity.tolist(), g.sizes
    ([[1, 2]], [2], [0.75], {1: 2, 2: 2})
    """
    graphs = list(graphs)
    if not graphs or not all(isinstance(g, RegionGraph) for g in graphs):
        raise TypeError("combine takes a non-empty sequence of RegionGraph (from region_graph)")
    edges = np.concatenate([np.asarray(g.edges, np.uint64).reshape(-1, 2) for g in graphs])
    pairs, inverse = (np.unique(edges, axis=0, return_inverse=True) if len(edges)
                      else (edges, np.zeros(0, np.intp)))
    inverse = inverse.ravel()
    contacts = np.bincount(inverse, np.concatenate([g.contacts for g in graphs]),
                           minlength=len(pairs)).astype(np.int64)
    total = np.bincount(inverse, np.concatenate([g.affinity_sum for g in graphs]),
                        minlength=len(pairs))
    histogram = None
    if all(g.histogram is not None for g in graphs):
        stacked = np.concatenate([g.histogram for g in graphs])
        histogram = np.zeros((len(pairs), stacked.shape[1]), np.int64)
        np.add.at(histogram, inverse, stacked)
        histogram = histogram.astype(np.int32)
    sizes: dict = {}
    for g in graphs:
        for i, n in g.sizes.items():
            sizes[i] = sizes.get(i, 0) + n
    return RegionGraph(pairs.astype(np.uint64), contacts, total, histogram, sizes)


def same_object(graph: RegionGraph, fragments: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For every edge: do its two fragments lie (mostly) in the same ground-truth object?

    Each fragment is given the truth id that covers most of its voxels
    (background 0 counts like any id); an edge joins the same object when
    both its fragments have the same, non-zero id. What agglomeration should
    merge (True) and should not (False): a way to see how well edge scores
    separate the two.

    Parameters
    ----------
    graph : RegionGraph
        Of ``fragments`` (:func:`region_graph`).
    fragments, truth : ndarray of uint64, the same shape

    Returns
    -------
    (E,) ndarray of bool

    Examples
    --------
    >>> frags = np.array([[1, 1, 2, 2, 3, 3]], np.uint64)
    >>> truth = np.array([[5, 5, 5, 5, 6, 6]], np.uint64)
    >>> g = region_graph(np.ones((2, 1, 6), np.float32), frags)
    >>> g.edges.tolist(), same_object(g, frags, truth).tolist()
    ([[1, 2], [2, 3]], [True, False])
    """
    fragments, truth = as_labels(fragments), as_labels(truth, name="truth")
    if fragments.shape != truth.shape:
        raise ValueError(f"fragments {fragments.shape} and truth {truth.shape} must have the "
                         "same shape")
    table = contingency_table(truth, fragments, ignore_gt=())
    order = np.lexsort((-table.counts, table.seg_ids))  # per fragment, largest overlap first
    frags, first = np.unique(table.seg_ids[order], return_index=True)
    majority = table.gt_ids[order][first]
    u, v = np.searchsorted(frags, graph.edges[:, 0]), np.searchsorted(frags, graph.edges[:, 1])
    return (majority[u] == majority[v]) & (majority[u] != 0)


def checked_inputs(affs, fragments, offsets) -> tuple[np.ndarray, np.ndarray, list]:
    """``affs``, ``fragments`` and ``offsets`` checked against each other (channels first)."""
    fragments = as_labels(fragments)
    count = len(nearest_offsets(fragments.ndim)) if offsets is None else len(offsets)
    affs = as_affinities(affs, channels=count if np.ndim(affs) == fragments.ndim + 1 else None)
    if affs.shape[1:] != fragments.shape:
        raise ValueError(f"affs {affs.shape} and fragments {fragments.shape} do not match: "
                         "expected affs (K, *fragments.shape), channels first")
    offsets = as_offsets(nearest_offsets(fragments.ndim) if offsets is None else offsets,
                         fragments.ndim)
    if len(offsets) != len(affs):
        raise ValueError(f"affs has {len(affs)} channels but {len(offsets)} offsets were given")
    return affs, fragments, offsets


def dense_ids(fragments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted ids of ``fragments`` and every voxel's index into them (``np.intp``).

    >>> ids, dense = dense_ids(np.array([[0, 7, 7, 3]], np.uint64))
    >>> ids.tolist(), dense.tolist()
    ([0, 3, 7], [[0, 2, 2, 1]])
    """
    ids, labels, lut = id_lookup(fragments)
    return ids, lut[labels]


def id_lookup(fragments: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted ids, labels, lut): each voxel's index into the ids is ``lut[labels[voxel]]``.

    Fragments numbered 1..N (as :func:`mbl_seg.segment.fragments` makes them)
    are their own labels, with a table over 0..max made in two passes: no volume
    of indices is made. Scattered ids (a volume cut out of a larger one) fall
    back to sorting: the labels are then the indices, and the table the identity.
    """
    top = int(fragments.max(initial=0))
    if top <= 4 * fragments.size + 1024:
        from ._rag_kernels import id_table  # compiled: two passes over the volume

        labels = np.ascontiguousarray(fragments)
        present, lut = id_table(labels)
        return np.flatnonzero(present).astype(np.uint64), labels, lut
    ids, dense = np.unique(fragments, return_inverse=True)
    return ids, dense.reshape(fragments.shape).astype(np.intp), np.arange(len(ids), dtype=np.intp)


def _graph(affs: np.ndarray, ids: np.ndarray, labels: np.ndarray, lut: np.ndarray,
           offsets: list[tuple[int, ...]], bins: int | None, sizes: bool = True) -> RegionGraph:
    """The graph from checked inputs (:func:`id_lookup`); no histograms if ``bins`` is None,
    no fragment sizes (an empty dict: agglomerating a volume needs none) if not ``sizes``."""
    from ._rag_kernels import graph_arrays

    n = len(ids)
    background = np.flatnonzero(ids == 0)  # index 0 if the volume has background, else none
    pairs, contacts, total, histogram, voxels = graph_arrays(
        affs, labels, lut, offsets, n, int(background[0]) if len(background) else -1, bins,
        sizes)
    edges = np.stack([ids[pairs // n], ids[pairs % n]], axis=1).astype(np.uint64)
    counted = {} if voxels is None else {
        int(i): int(c) for i, c in zip(ids.tolist(), voxels.tolist()) if i != 0}
    return RegionGraph(edges, contacts, total, histogram, counted)


def edge_quantile(histogram: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of each row's values, read from its histogram over [0, 1].

    The value of rank ``min(floor(q * n), n - 1)`` (0-based) among the row's
    ``n`` sorted values (the definition waterz uses), as the centre of its
    bin. With affinities on the bin centres (as uint8-quantised affinities
    are) this equals sorting the values themselves.

    >>> h = np.zeros((1, 4), np.int32); h[0, [0, 3]] = [2, 2]  # 0.125 x 2, 0.875 x 2
    >>> edge_quantile(h, 0.5).tolist(), edge_quantile(h, 0.25).tolist()
    ([0.875], [0.125])
    """
    q = as_number(q, "q", nonnegative=True)
    if q > 1:
        raise ValueError(f"q is a quantile in [0, 1], got {q}")
    return _edge_quantile(np.atleast_2d(histogram), q)


def quantile_of_row(row: np.ndarray, n: int, q: float) -> float:
    """:func:`edge_quantile` of one edge's histogram ``row`` of ``n`` contacts, fast.

    The same rule for the merge loop, which rescores one pooled edge at a time
    (tests check it against :func:`edge_quantile`).
    """
    rank = min(int(q * n), max(n - 1, 0))
    index = int(np.cumsum(row).searchsorted(rank, side="right"))
    return (min(index, len(row) - 1) + 0.5) / len(row)


def _edge_quantile(histogram: np.ndarray, q: float) -> np.ndarray:
    """:func:`edge_quantile` of a 2D histogram, ``q`` already checked."""
    n = histogram.sum(axis=1)
    rank = np.minimum(np.floor(q * n), np.maximum(n - 1, 0)).astype(np.int64)
    cumulative = np.cumsum(histogram, axis=1)
    index = (cumulative <= rank[:, None]).sum(axis=1)
    bins = histogram.shape[1]
    return (np.minimum(index, bins - 1) + 0.5) / bins
