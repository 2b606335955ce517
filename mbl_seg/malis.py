"""MALIS pair counts: which edge of an affinity graph decides each pair of voxels.

The graph has one node per voxel and one edge per nearest-neighbour affinity:
with the course convention, ``affs[k][i]`` is the edge between voxel ``i`` and
voxel ``i + offsets[k]``, offsets ``(-1, 0, 0), (0, -1, 0), (0, 0, -1)`` in 3D
(``(-1, 0), (0, -1)`` in 2D); channel ``k`` at index 0 along its axis has no edge.

The *maximin edge* of two voxels is the weakest edge on the path between them
whose weakest edge is strongest. Thresholding the affinities just above it
separates the two voxels; just below, it connects them. Kruskal's algorithm
finds every maximin edge at once: visit the edges from the highest affinity
down, and when an edge joins two components A and B, it is the maximin edge of
every pair (u in A, v in B).

Pair convention (Turaga et al. 2009): only pairs of two *labelled* voxels count,
each unordered pair once, never a voxel with itself; label 0 (background /
unknown) takes part in no pair. When an edge merges A and B:

* ``pos`` += sum over labels l > 0 of countA[l] * countB[l] (same object),
* ``neg`` += (#labelled in A) * (#labelled in B) - that (different objects).

Ties: edges are visited by decreasing affinity, equal affinities in increasing
flat edge index (``np.argsort(-affs.ravel(), kind="stable")``).

Constrained MALIS (Funke et al. 2018, TPAMI) makes two passes with the
ground-truth affinities ``gt`` (1 = both voxels in the same object, else 0):
the positive pass on ``min(affs, gt)`` keeps only the positive counts, the
negative pass on ``max(affs, gt)`` keeps only the negative counts.

Used in: notebooks/04_malis
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _malis_kernels as _kernels
from ._validate import as_labels
from .targets import affinities

__all__ = ["MalisCounts", "malis_weights", "maximin_edge", "weighted_edges", "descending_order"]


class MalisCounts(NamedTuple):
    """Per-edge pair counts, int64 arrays shaped like the affinities ``(c, [z,] y, x)``.

    ``pos[k][i]``: pairs of voxels of the same object whose maximin edge is
    ``affs[k][i]``; ``neg[k][i]``: pairs of voxels of different objects.
    """

    pos: np.ndarray
    neg: np.ndarray


def malis_weights(affs: np.ndarray, labels: np.ndarray, *,
                  constrained: bool = False) -> MalisCounts:
    """Count, for every edge, the voxel pairs for which it is the maximin edge.

    Parameters
    ----------
    affs : (ndim, [Z,] Y, X) ndarray of float
        Predicted nearest-neighbour affinities in [0, 1] (course convention:
        ``affs[k][i]`` links ``i`` and ``i + offsets[k]``, offsets -1 along axis k).
    labels : ([Z,] Y, X) ndarray of int
        Ground-truth objects, 0 = background (in no pair).
    constrained : bool, optional
        False (default): one pass, MALIS of Turaga et al. 2009. True: the
        positive pass on ``min(affs, gt)`` and the negative pass on
        ``max(affs, gt)`` of Funke et al. 2018.

    Returns
    -------
    MalisCounts
        ``pos`` and ``neg``, int64 arrays shaped like ``affs``; 0 on the edges
        that leave the volume. Unconstrained, ``pos.sum() + neg.sum()`` is the
        number of connected pairs of labelled voxels.

    Examples
    --------
    >>> affs = np.array([[[0.0, 0.0, 0.0]], [[0.0, 0.9, 0.2]]], dtype=np.float32)
    >>> counts = malis_weights(affs, np.array([[1, 1, 2]]))
    >>> counts.pos.tolist(), counts.neg.tolist()
    ([[[0, 0, 0]], [[0, 1, 0]]], [[[0, 0, 0]], [[0, 0, 2]]])

    Used in: notebooks/04_malis
    """
    affs, labels = _check(affs, labels)
    e_pos, pos, e_neg, neg = _passes(affs, labels, affinities(labels) if constrained else None)
    return MalisCounts(_dense(e_pos, pos, affs.shape), _dense(e_neg, neg, affs.shape))


def maximin_edge(affs: np.ndarray, u: tuple[int, ...], v: tuple[int, ...]) -> float:
    """The affinity of the maximin edge between voxels ``u`` and ``v`` (a small reference).

    Parameters
    ----------
    affs : (ndim, [Z,] Y, X) ndarray of float
        Nearest-neighbour affinities, course convention.
    u, v : tuple of int
        Two different voxels, e.g. ``(y, x)`` in 2D.

    Returns
    -------
    float
        The largest ``t`` such that a path from ``u`` to ``v`` uses only edges
        with affinity >= ``t``.

    Examples
    --------
    >>> affs = np.array([[[0, 0], [0.2, 0.9]], [[0, 0.8], [0, 0.7]]])
    >>> maximin_edge(affs, (0, 0), (1, 0))  # around via (0, 1) and (1, 1): 0.7, not 0.2
    0.7

    Used in: notebooks/04_malis
    """
    affs = np.asarray(affs, dtype=np.float64)
    shape = affs.shape[1:]
    if affs.ndim < 3 or affs.shape[0] != len(shape):
        raise ValueError(f"affs must be (ndim, [z,] y, x) nearest-neighbour affinities, "
                         f"got shape {affs.shape}")
    a, b = (int(np.ravel_multi_index(tuple(p), shape)) for p in (u, v))  # checks bounds
    if a == b:
        raise ValueError(f"u and v must be two different voxels, got {u} twice")
    parent = np.arange(int(np.prod(shape)), dtype=np.int64)
    strides = _strides(shape)
    find = _kernels._find  # the same union-find as the MALIS pass
    for e in np.argsort(-affs.ravel(), kind="stable"):
        k, i = divmod(int(e), len(parent))
        if (i // strides[k]) % shape[k] == 0:
            continue  # index 0 along axis k: this edge would leave the volume
        parent[find(parent, i)] = find(parent, i - strides[k])
        if find(parent, a) == find(parent, b):
            return float(affs.reshape(len(shape), -1)[k, i])
    raise AssertionError("unreachable: the grid graph is connected")


# --- validation and graph helpers -----------------------------------------------------------


def _check(affs, labels) -> tuple[np.ndarray, np.ndarray]:
    labels = as_labels(labels)
    if not isinstance(affs, np.ndarray) or not np.issubdtype(affs.dtype, np.floating):
        raise TypeError(f"affs must be a float numpy array, got {type(affs).__name__} "
                        f"{getattr(affs, 'dtype', '')}")
    if affs.shape != (labels.ndim, *labels.shape):
        raise ValueError(f"affs must have shape (ndim, *labels.shape) = "
                         f"{(labels.ndim, *labels.shape)} (one channel per axis), "
                         f"got {affs.shape}")
    affs = affs.astype(np.float32, copy=False)
    if affs.size and not (np.isfinite(affs).all() and affs.min() >= 0 and affs.max() <= 1):
        raise ValueError("affs must be probabilities in [0, 1] (apply a sigmoid to logits), "
                         f"found values in [{affs.min()}, {affs.max()}]")
    return affs, labels


def _strides(shape: tuple[int, ...]) -> np.ndarray:
    """Flat-index distance from a voxel to its neighbour at -1 along each axis."""
    return np.array([int(np.prod(shape[k + 1:])) for k in range(len(shape))], dtype=np.int64)


def descending_order(affs: np.ndarray) -> np.ndarray:
    """Flat indices of the in-volume edges by decreasing affinity, ties by index.

    The same as ``np.argsort(-affs.ravel(), kind="stable")`` without the edges
    that leave the volume, for affinities in [0, 1], in a fraction of the time.
    """
    if affs.size >= 2**31:
        raise ValueError(f"affs of shape {affs.shape} has too many edges for one MALIS call "
                         "(at most 2**31 - 1): compute it on patches")
    valid = np.ones(affs.shape, dtype=bool)
    for k in range(affs.shape[0]):
        valid[k][(slice(None),) * k + (0,)] = False  # index 0 along axis k: no neighbour
    return _kernels._sorted_edges(affs.ravel(), valid.ravel())


def _merges(affs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """(edges, pos, neg) of the merging edges only: every other edge decides no pair."""
    order = descending_order(affs)
    return _kernels._kruskal(order, _strides(labels.shape), labels.ravel().view(np.int64))


def _passes(affs: np.ndarray, labels: np.ndarray, gt: np.ndarray | None = None):
    """(edges, pos) and (edges, neg) of one pass, or of the two constrained passes.

    ``gt`` (the ground-truth affinities of ``labels``) given means constrained.
    """
    if gt is None:
        edges, pos, neg = _merges(affs, labels)
        return edges, pos, edges, neg
    e_pos, pos, _ = _merges(np.minimum(affs, gt), labels)
    e_neg, _, neg = _merges(np.maximum(affs, gt), labels)
    return e_pos, pos, e_neg, neg


def _dense(edges: np.ndarray, counts: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(int(np.prod(shape)), dtype=np.int64)
    out[edges] = counts
    return out.reshape(shape)


def weighted_edges(affs: np.ndarray, labels: np.ndarray, *,
                    constrained: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MALIS loss as (flat edge, number of pairs, target affinity) triples, zeros dropped.

    Unconstrained: each pair pulls its maximin edge to 1 (same object) or 0.
    Constrained: each edge is pulled to its ground-truth affinity; this differs
    only when an object is cut in two inside the patch, where pulling the edge
    between the pieces up would teach a merge.
    """
    affs, labels = _check(affs, labels)
    gt = affinities(labels) if constrained else None
    e_pos, pos, e_neg, neg = _passes(affs, labels, gt)
    if constrained:
        targets = (gt.ravel()[e_pos], gt.ravel()[e_neg])
    else:
        targets = (np.ones(len(e_pos), np.float32), np.zeros(len(e_neg), np.float32))
    keep_pos, keep_neg = pos > 0, neg > 0
    return (np.concatenate([e_pos[keep_pos], e_neg[keep_neg]]),
            np.concatenate([pos[keep_pos], neg[keep_neg]]),
            np.concatenate([targets[0][keep_pos], targets[1][keep_neg]]))
