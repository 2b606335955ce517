"""Where a segmentation goes wrong: the merge and split errors behind the VOI numbers.

VOI says how much is split and merged; these functions say *which* neurons,
so a notebook can show them and ask why (a faint membrane? a thin neck?).

Used in: notebooks/01_classical_boundaries, 02_deep_boundaries, 04_malis.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ._validate import as_labels, same_shape
from .evaluate import contingency_table
from .targets import face_neighbours

__all__ = ["Merge", "merge_errors", "split_errors", "contact", "contact_pairs",
           "pairs_touching_in", "maximin_affinities", "thin_objects", "merges_by_cause",
           "CAUSES"]

CAUSES = ("at a membrane gap", "along a thin neurite", "touching elsewhere", "not touching")


class Merge(NamedTuple):
    """Segment ``segment`` covers (a large part of) ground-truth neurons ``a`` and ``b``."""

    segment: int
    a: int
    b: int


def _significant(gt: np.ndarray, seg: np.ndarray, min_voxels: int, by: str,
                 min_fraction: float = 0.0) -> dict:
    """For every id of ``by`` ("seg" or "gt"), the ids of the other it overlaps substantially:
    at least ``min_voxels`` voxels and ``min_fraction`` of the ground-truth object."""
    table = contingency_table(gt, seg)
    keep = table.counts >= min_voxels
    if min_fraction > 0:
        _, neuron = np.unique(table.gt_ids, return_inverse=True)
        size = np.bincount(neuron, weights=table.counts)  # each neuron's labelled voxels
        keep &= table.counts >= min_fraction * size[neuron]
    keys, values = ((table.seg_ids, table.gt_ids) if by == "seg" else
                    (table.gt_ids, table.seg_ids))
    groups: dict[int, list[int]] = {}
    for key, value in zip(keys[keep].tolist(), values[keep].tolist()):
        groups.setdefault(key, []).append(value)
    return groups


def merge_errors(gt: np.ndarray, seg: np.ndarray, *, min_voxels: int = 20,
                 min_fraction: float = 0.0) -> list[Merge]:
    """Pairs of neurons that share a segment, each with at least ``min_voxels`` in it.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth (0 = background, ignored) and segmentation.
    min_voxels : int, optional
        Overlaps smaller than this are boundary noise, not merges.
    min_fraction : float in [0, 1), optional
        Overlaps smaller than this fraction of the neuron are not merges either. In 3D
        a boundary one voxel off along a large contact puts hundreds of voxels of one
        neuron into its neighbour's segment; e.g. 0.1 counts only the segments that hold
        a tenth of each neuron.

    Returns
    -------
    list of Merge
        ``(segment, a, b)`` with ``a < b``, sorted.

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2, 3, 3]], np.uint64)
    >>> seg = np.array([[7, 7, 7, 7, 8, 8]], np.uint64)
    >>> merge_errors(gt, seg, min_voxels=1)
    [Merge(segment=7, a=1, b=2)]
    """
    _check(gt, seg, min_voxels, min_fraction)
    merges = []
    for segment, ids in _significant(gt, seg, min_voxels, "seg", min_fraction).items():
        ids = sorted(ids)
        merges += [Merge(segment, a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    return sorted(merges)


def split_errors(gt: np.ndarray, seg: np.ndarray, *, min_voxels: int = 20) -> dict[int, list]:
    """Neurons cut into several segments: ``{gt id: [segment ids]}``.

    >>> gt = np.array([[1, 1, 1, 2, 2]], np.uint64)
    >>> split_errors(gt, np.array([[4, 4, 5, 6, 6]], np.uint64), min_voxels=1)
    {1: [4, 5]}
    """
    _check(gt, seg, min_voxels)
    return {g: sorted(s) for g, s in _significant(gt, seg, min_voxels, by="gt").items()
            if len(s) > 1}


def contact(labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """Voxels of object ``a`` or ``b`` that touch the other one (face neighbours).

    >>> contact(np.array([[1, 1, 2, 2]], np.uint64), 1, 2).astype(int)
    array([[0, 1, 1, 0]])
    """
    labels = as_labels(labels)
    if int(a) == int(b):
        raise ValueError(f"a contact needs two different objects, got a = b = {a}")
    out = np.zeros(labels.shape, bool)
    for here, back in face_neighbours(labels.shape):
        first, second = labels[here], labels[back]
        touch = ((first == a) & (second == b)) | ((first == b) & (second == a))
        out[here] |= touch
        out[back] |= touch
    return out


def pairs_touching_in(labels: np.ndarray, where: np.ndarray) -> set[tuple[int, int]]:
    """Pairs ``(a, b)``, ``a < b``, of objects that touch at a voxel where ``where`` is True.

    Two face-neighbour voxels of different non-zero labels are a contact; it
    counts if either voxel is in ``where`` (e.g. the faint-membrane patches).

    >>> labels = np.array([[1, 2, 3]], np.uint64)
    >>> sorted(pairs_touching_in(labels, np.array([[False, False, True]])))
    [(2, 3)]
    """
    labels = as_labels(labels)
    where = np.asarray(where, dtype=bool)
    same_shape(labels, where, ("labels", "where"))
    return {(int(a), int(b)) for a, b in np.unique(contact_pairs(labels, where), axis=0)}


def thin_objects(labels: np.ndarray, *, voxel_size, radius_nm: float) -> set[int]:
    """Objects whose median voxel lies at most ``radius_nm`` from the object's boundary.

    The distance is :func:`mbl_seg.targets.distance_transform`'s (nm, to the
    nearest boundary voxel): a thin neurite has most of its voxels near its
    surface, a thick one most of them deep inside.

    >>> labels = np.zeros((1, 9, 12), np.uint64); labels[0, :, :3] = 1; labels[0, :, 3:] = 2
    >>> sorted(thin_objects(labels, voxel_size=(8, 8, 8), radius_nm=8))
    [1]
    """
    from scipy import ndimage

    from .targets import distance_transform

    labels = as_labels(labels)
    distance = distance_transform(labels, voxel_size=voxel_size)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        return set()
    medians = ndimage.median(distance, labels, ids)
    return {int(i) for i, m in zip(ids, np.atleast_1d(medians)) if m <= radius_nm}


def merges_by_cause(gt: np.ndarray, seg: np.ndarray, *, gaps: np.ndarray,
                    thin: set[int] = frozenset(), min_voxels: int = 20,
                    min_fraction: float = 0.0) -> dict[str, list]:
    """The merge errors of ``seg``, each under the first cause (of :data:`CAUSES`) that fits.

    A merged pair ``(a, b)`` of :func:`merge_errors` is "at a membrane gap" if
    the two neurons touch where ``gaps`` is True (e.g. the data's faint or
    missing membrane patches, dilated a little); else, if they touch, "along a
    thin neurite" if either is in ``thin`` (:func:`thin_objects`), and
    "touching elsewhere" if not; else "not touching" (joined only through a
    third neuron, or across a gap in the labels). The first three are the
    pairs whose own contact the segmentation failed to cut. ``min_voxels`` and
    ``min_fraction``: what counts as a merge, as in :func:`merge_errors`.

    >>> gt = np.array([[[1, 1, 2, 2, 0, 3, 3]]], np.uint64)
    >>> seg = np.ones_like(gt)
    >>> gaps = np.zeros(gt.shape, bool); gaps[0, 0, 2] = True
    >>> {c: [(m.a, m.b) for m in v] for c, v in merges_by_cause(gt, seg, gaps=gaps,
    ...                                                          min_voxels=1).items()}
    {'at a membrane gap': [(1, 2)], 'along a thin neurite': [], 'touching elsewhere': [], \
'not touching': [(1, 3), (2, 3)]}
    """
    merges = merge_errors(gt, seg, min_voxels=min_voxels, min_fraction=min_fraction)
    gt = as_labels(gt, name="gt")
    gaps = np.asarray(gaps, dtype=bool)
    same_shape(gt, gaps, ("gt", "gaps"))
    at_gap = pairs_touching_in(gt, gaps)
    touching = {(int(a), int(b)) for a, b in np.unique(contact_pairs(gt), axis=0)}
    thin = {int(t) for t in thin}
    out: dict[str, list] = {cause: [] for cause in CAUSES}
    for merge in merges:
        pair = (merge.a, merge.b)
        if pair in at_gap:
            cause = CAUSES[0]
        elif pair not in touching:
            cause = CAUSES[3]
        else:
            cause = CAUSES[1] if merge.a in thin or merge.b in thin else CAUSES[2]
        out[cause].append(merge)
    return out


def maximin_affinities(affs: np.ndarray, labels: np.ndarray) -> dict[tuple[int, int], float]:
    """For every pair of objects, the affinity of the edge that would merge them.

    Two objects ``a`` and ``b`` end up in one connected component of the
    affinities thresholded at ``t`` exactly when ``t`` is below their *maximin
    affinity*: the largest, over voxels ``u`` in ``a`` and ``v`` in ``b``, of the
    weakest edge on the best path from ``u`` to ``v``. It is the one edge a
    MALIS loss pushes down for that pair. Computed with Kruskal's algorithm on
    a maximum spanning tree of the voxel graph.

    Parameters
    ----------
    affs : (2, Y, X) or (3, Z, Y, X) ndarray of float in [0, 1]
        Nearest-neighbour affinities, course convention: ``affs[k][i]`` links
        voxel ``i`` with its neighbour one step back along axis ``k``.
    labels : (Y, X) or (Z, Y, X) ndarray of uint64
        Ground-truth objects; 0 (background / unknown) is ignored.

    Returns
    -------
    dict
        ``{(a, b): maximin affinity}`` with ``a < b``, for every pair of
        labelled objects connected by the graph (all pairs, for a full grid).

    Examples
    --------
    >>> labels = np.array([[1, 1, 2, 2]], np.uint64)
    >>> affs = np.zeros((2, 1, 4), np.float32)
    >>> affs[1] = [[0.0, 0.75, 0.25, 0.5]]  # edges to the left neighbour
    >>> maximin_affinities(affs, labels)
    {(1, 2): 0.25}
    """
    labels = as_labels(labels)
    affs = _as_affinities(affs, labels)
    heads, tails, weights = _tree_edges(affs)
    parent = list(range(labels.size))
    flat = labels.ravel().tolist()
    members = [{v} if v else set() for v in flat]  # the object ids of each component
    found: dict[tuple[int, int], float] = {}
    for u, v, w in zip(heads.tolist(), tails.tolist(), weights.tolist()):
        ru, rv = _root(parent, u), _root(parent, v)
        if len(members[ru]) < len(members[rv]):
            ru, rv = rv, ru
        for a in members[ru]:
            for b in members[rv]:
                key = (a, b) if a < b else (b, a)
                if a != b and key not in found:
                    found[key] = w
        parent[rv] = ru
        members[ru] |= members[rv]
        members[rv] = set()
    return dict(sorted(found.items()))


def _as_affinities(affs, labels: np.ndarray) -> np.ndarray:
    """Check nearest-neighbour affinities for ``labels`` and return them."""
    if not isinstance(affs, np.ndarray):
        raise TypeError(f"affs must be a numpy array, got {type(affs).__name__}")
    expected = (labels.ndim, *labels.shape)
    if affs.shape != expected:
        raise ValueError(f"affs must have shape {expected} (one channel per axis, channels "
                         f"first) for labels of shape {labels.shape}, got {affs.shape}")
    if not np.issubdtype(affs.dtype, np.floating):
        raise TypeError(f"affs must be float affinities in [0, 1], got dtype {affs.dtype}")
    if not np.all(np.isfinite(affs)) or affs.min() < 0 or affs.max() > 1:
        raise ValueError("affs must be finite and in [0, 1] (probabilities, not logits: "
                         f"apply a sigmoid), got values in [{np.nanmin(affs)}, {np.nanmax(affs)}]")
    return affs


def _tree_edges(affs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of a maximum spanning tree of the voxel graph, strongest first."""
    shape = affs.shape[1:]
    index = np.arange(int(np.prod(shape))).reshape(shape)
    heads, tails, weights = [], [], []
    for k, (here, back) in enumerate(face_neighbours(shape)):
        heads.append(index[here].ravel())
        tails.append(index[back].ravel())
        weights.append(affs[k][here].ravel())
    heads, tails, weights = map(np.concatenate, (heads, tails, weights))
    # scipy finds a *minimum* tree and drops zero weights: 2 - a is in [1, 2]; the
    # tree's entries carry the edge's index + 1, so the weights come back exactly
    ranks = np.empty(weights.size)
    ranks[np.argsort(-weights, kind="stable")] = 1.0 + np.arange(weights.size) / weights.size
    graph = sparse.csr_matrix((ranks, (heads, tails)), shape=(index.size,) * 2)
    tree = csgraph.minimum_spanning_tree(graph).tocoo()
    order = np.argsort(tree.data, kind="stable")
    edge = np.argsort(-weights, kind="stable")[np.rint((tree.data[order] - 1.0)
                                                         * weights.size).astype(np.int64)]
    return heads[edge], tails[edge], weights[edge]


def _root(parent: list[int], p: int) -> int:
    while parent[p] != p:
        parent[p] = parent[parent[p]]  # path halving keeps the trees shallow
        p = parent[p]
    return p


def contact_pairs(labels: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """The ids ``(a, b)``, ``a < b``, of every face-neighbour contact (at ``where``, if given).

    One row per pair of touching voxels, so a long contact gives many rows
    (``np.unique(..., return_counts=True)`` measures it).

    >>> contact_pairs(np.array([[1, 1, 2], [3, 3, 2]], np.uint64)).tolist()
    [[1, 3], [1, 3], [1, 2], [2, 3]]
    """
    labels = as_labels(labels)
    found = []
    for here, back in face_neighbours(labels.shape):
        lo, hi = labels[back], labels[here]
        keep = (lo != hi) & (lo > 0) & (hi > 0)
        if where is not None:
            keep &= where[back] | where[here]
        found.append(np.sort(np.stack([lo[keep], hi[keep]], axis=1), axis=1))
    return np.concatenate(found)


def _check(gt, seg, min_voxels, min_fraction=0.0) -> None:
    same_shape(as_labels(gt, name="gt"), as_labels(seg, name="seg"), ("gt", "seg"))
    if not isinstance(min_voxels, (int, np.integer)) or min_voxels < 1:
        raise ValueError(f"min_voxels must be a positive int, got {min_voxels!r}")
    if not isinstance(min_fraction, (int, float, np.floating)) or not 0 <= min_fraction < 1:
        raise ValueError(f"min_fraction must be a fraction in [0, 1), got {min_fraction!r}")
