"""Segmentation metrics: variation of information (split / merge) and adapted Rand error.

Both compare a segmentation ``seg`` with the ground truth ``gt`` through their
*contingency table*: ``n[i, j]`` = number of voxels in ground-truth object
``i`` and segment ``j``. Ground-truth label 0 (background / unknown) is
ignored: those voxels are dropped before counting. Segmentation label 0 is an
ordinary segment.

* VOI split = H(seg | gt): how much a neuron is cut into pieces (bits).
* VOI merge = H(gt | seg): how much a segment mixes different neurons (bits).
* ARAND = 1 - F-score of Rand precision and recall over voxel pairs (CREMI).
* CREMI score = sqrt(VOI total * ARAND).

Used in: notebooks/00_setup_and_data and every later notebook's results table.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import as_labels, same_shape

__all__ = [
    "Table", "VOI", "Scores", "contingency_table", "voi", "voi_from_table", "arand",
    "arand_from_table", "cremi_score", "evaluate",
]


class Table(NamedTuple):
    """A sparse contingency table: ``counts[k]`` voxels are in ``gt_ids[k]`` and ``seg_ids[k]``."""

    gt_ids: np.ndarray
    seg_ids: np.ndarray
    counts: np.ndarray

    def dense(self) -> np.ndarray:
        """As a dense (n_gt, n_seg) array, rows and columns in increasing id order."""
        gt_u, gi = np.unique(self.gt_ids, return_inverse=True)
        seg_u, si = np.unique(self.seg_ids, return_inverse=True)
        out = np.zeros((len(gt_u), len(seg_u)), dtype=np.int64)
        np.add.at(out, (gi, si), self.counts)
        return out


class VOI(NamedTuple):
    """Variation of information in bits: ``split`` = H(seg|gt), ``merge`` = H(gt|seg)."""

    split: float
    merge: float

    @property
    def total(self) -> float:
        """split + merge."""
        return self.split + self.merge


class Scores(NamedTuple):
    """All metrics of one comparison (VOI in bits, ARAND and CREMI score unitless)."""

    voi_split: float
    voi_merge: float
    voi_total: float
    arand: float
    cremi_score: float

    def __str__(self) -> str:
        return (f"VOI split {self.voi_split:.3f} | VOI merge {self.voi_merge:.3f} | "
                f"VOI total {self.voi_total:.3f} | ARAND {self.arand:.3f} | "
                f"CREMI score {self.cremi_score:.3f}")


def contingency_table(gt: np.ndarray, seg: np.ndarray) -> Table:
    """Count voxels per (ground-truth id, segment id) pair, ignoring gt == 0.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of non-negative ints
        Ground truth and segmentation, same shape.

    Returns
    -------
    Table
        Sparse table: ``gt_ids``, ``seg_ids`` (uint64) and ``counts`` (int64).

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2]])
    >>> seg = np.array([[5, 6, 6, 6]])
    >>> contingency_table(gt, seg).dense()
    array([[1, 1],
           [0, 2]])
    """
    gt = as_labels(gt, name="gt")
    seg = as_labels(seg, name="seg")
    same_shape(gt, seg, ("gt", "seg"))
    keep = gt.ravel() != 0
    g, s = gt.ravel()[keep], seg.ravel()[keep]
    if g.size == 0:
        raise ValueError("nothing to evaluate: the ground truth is all background (0)")
    # Neurons are spatially coherent, so the flat arrays come in long runs of
    # one (gt, seg) pair: count runs first, then sort only the run starts.
    change = np.empty(g.size, dtype=bool)
    change[0] = True
    np.not_equal(g[1:], g[:-1], out=change[1:])
    change[1:] |= s[1:] != s[:-1]
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, g.size))
    g, s = g[starts], s[starts]
    gt_u, gi = np.unique(g, return_inverse=True)
    seg_u, si = np.unique(s, return_inverse=True)
    key = gi.astype(np.int64) * len(seg_u) + si
    pairs, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=lengths).astype(np.int64)
    return Table(gt_u[pairs // len(seg_u)], seg_u[pairs % len(seg_u)], counts)


def _xlog2x(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log2(x[pos])
    return out


def _marginals(table):
    """Joint, row (gt) and column (seg) sums of a dense or sparse table, as counts."""
    if isinstance(table, Table):
        _, gi = np.unique(table.gt_ids, return_inverse=True)
        _, si = np.unique(table.seg_ids, return_inverse=True)
        joint = table.counts.astype(np.float64)
        return joint, np.bincount(gi, weights=joint), np.bincount(si, weights=joint)
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"a contingency table is 2D (gt rows, seg columns), got {table.shape}")
    if (table < 0).any():
        raise ValueError("a contingency table holds counts, found negative entries")
    return table.ravel(), table.sum(axis=1), table.sum(axis=0)


def voi_from_table(table) -> VOI:
    """VOI (split, merge) in bits from a contingency table (dense array or :class:`Table`).

    With ``p_ij = n_ij / n``: split = H(seg|gt) = H(gt, seg) - H(gt),
    merge = H(gt|seg) = H(gt, seg) - H(seg).

    Examples
    --------
    >>> voi_from_table(np.array([[2, 2]]))  # one neuron cut in two halves
    VOI(split=1.0, merge=0.0)
    """
    joint, rows, cols = _marginals(table)
    n = joint.sum()
    if n == 0:
        raise ValueError("the contingency table is empty")
    h_joint = -_xlog2x(joint / n).sum()
    h_gt = -_xlog2x(rows / n).sum()
    h_seg = -_xlog2x(cols / n).sum()
    return VOI(max(float(h_joint - h_gt), 0.0), max(float(h_joint - h_seg), 0.0))


def arand_from_table(table) -> float:
    """Adapted Rand error from a contingency table: 1 - F-score of Rand precision/recall.

    Counted over pairs of distinct voxels (as scikit-image does): with
    ``a_i`` the gt object sizes and ``b_j`` the segment sizes,
    precision = (sum n_ij^2 - n) / (sum b_j^2 - n) (pairs put together by the
    segmentation that belong together) and recall = (sum n_ij^2 - n) /
    (sum a_i^2 - n) (pairs that belong together and were put together).

    Examples
    --------
    >>> arand_from_table(np.array([[3, 0], [0, 2]]))
    0.0
    """
    joint, rows, cols = _marginals(table)
    n = joint.sum()
    if n == 0:
        raise ValueError("the contingency table is empty")
    together = (joint**2).sum() - n
    seg_pairs = (cols**2).sum() - n
    gt_pairs = (rows**2).sum() - n
    # no pairs at all on one side: nothing there can be wrong
    precision = together / seg_pairs if seg_pairs > 0 else 1.0
    recall = together / gt_pairs if gt_pairs > 0 else 1.0
    if precision + recall == 0:
        return 1.0
    return max(float(1.0 - 2.0 * precision * recall / (precision + recall)), 0.0)


def voi(gt: np.ndarray, seg: np.ndarray) -> VOI:
    """Variation of information, split and merge, in bits (gt label 0 ignored).

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of non-negative ints
        Ground truth and segmentation of the same shape.

    Returns
    -------
    VOI
        ``split`` = H(seg|gt), ``merge`` = H(gt|seg); ``.total`` is their sum.

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2]])
    >>> voi(gt, np.array([[1, 1, 1, 1]]))  # two neurons merged
    VOI(split=0.0, merge=1.0)
    """
    return voi_from_table(contingency_table(gt, seg))


def arand(gt: np.ndarray, seg: np.ndarray) -> float:
    """Adapted Rand error (CREMI definition) in [0, 1]; 0 = perfect; gt label 0 ignored.

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2]])
    >>> arand(gt, gt)
    0.0
    """
    return arand_from_table(contingency_table(gt, seg))


def cremi_score(gt: np.ndarray, seg: np.ndarray) -> float:
    """CREMI score: the geometric mean sqrt(VOI total * ARAND); lower is better.

    >>> cremi_score(np.array([[1, 2]]), np.array([[1, 2]]))
    0.0
    """
    return evaluate(gt, seg).cremi_score


def evaluate(gt: np.ndarray, seg: np.ndarray) -> Scores:
    """VOI split/merge/total, ARAND and CREMI score from one contingency table.

    Examples
    --------
    >>> print(evaluate(np.array([[1, 1, 2, 2]]), np.array([[1, 1, 2, 3]])))
    VOI split 0.500 | VOI merge 0.000 | VOI total 0.500 | ARAND 0.333 | CREMI score 0.408
    """
    table = contingency_table(gt, seg)
    v = voi_from_table(table)
    a = arand_from_table(table)
    return Scores(v.split, v.merge, v.total, a, float(np.sqrt(v.total * a)))
