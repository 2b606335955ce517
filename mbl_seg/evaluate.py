"""Segmentation metrics: variation of information (split / merge) and adapted Rand error.

Both compare a segmentation ``seg`` with the ground truth ``gt`` through their
*contingency table*: ``n[i, j]`` = number of voxels in ground-truth object
``i`` and segment ``j``.

* Ground-truth label 0 (background / unknown) is ignored: those voxels are
  dropped before counting, whatever the segmentation says there.
* Segmentation label 0 is an ordinary segment: a segmentation that leaves
  neuron voxels at 0 is scored as if 0 were one (big, merged) object.
* VOI split = H(seg | gt): how much a neuron is cut into pieces (bits).
* VOI merge = H(gt | seg): how much a segment mixes different neurons (bits).
* ARAND = 1 - F-score of Rand precision and recall over voxel pairs (CREMI).
* CREMI score = sqrt(VOI total * ARAND).

The numbers equal ``skimage.metrics.variation_of_information(gt, seg,
ignore_labels=[0])`` (which is in bits too, ``[split, merge]``) and
``skimage.metrics.adapted_rand_error(gt, seg, ignore_labels=(0,))[0]``, but are
computed much faster on large uint64 volumes and accept any label ids.

Used in: notebooks/00_setup_and_data (and every later notebook's results table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ._validate import as_labels, same_shape

__all__ = [
    "Table", "VOI", "Scores", "contingency_table", "voi", "voi_from_table", "arand",
    "arand_from_table", "cremi_score", "evaluate",
]


class Table(NamedTuple):
    """A sparse contingency table: ``counts[k]`` voxels are in ``gt_ids[k]`` and ``seg_ids[k]``.

    Only the non-zero entries are stored, sorted by (gt id, seg id).
    """

    gt_ids: np.ndarray
    seg_ids: np.ndarray
    counts: np.ndarray

    def dense(self) -> np.ndarray:
        """As a dense (n_gt, n_seg) int64 array, rows and columns in increasing id order."""
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
        """split + merge, in bits."""
        return self.split + self.merge


class Scores(NamedTuple):
    """All metrics of one comparison (VOI in bits; ARAND and CREMI score unitless, 0 = perfect)."""

    voi_split: float
    voi_merge: float
    voi_total: float
    arand: float
    cremi_score: float

    def __str__(self) -> str:
        return (f"VOI split {self.voi_split:.3f} | VOI merge {self.voi_merge:.3f} | "
                f"VOI total {self.voi_total:.3f} | ARAND {self.arand:.3f} | "
                f"CREMI score {self.cremi_score:.3f}")


def contingency_table(gt: np.ndarray, seg: np.ndarray, *,
                      ignore_gt: Sequence[int] = (0,)) -> Table:
    """Count the voxels of every (ground-truth id, segment id) pair.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64 (any non-negative ints)
        Ground truth and segmentation of the same shape; segmentation label 0
        is an ordinary segment.
    ignore_gt : sequence of int, optional
        Ground-truth ids whose voxels are dropped before counting (default:
        background 0).

    Returns
    -------
    Table
        Sparse table: ``gt_ids``, ``seg_ids`` (uint64) and ``counts`` (int64).

    Raises
    ------
    ValueError
        If every voxel of ``gt`` has an ignored label (nothing to evaluate).

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2, 0]])
    >>> seg = np.array([[5, 6, 6, 6, 6]])
    >>> contingency_table(gt, seg).dense()
    array([[1, 1],
           [0, 2]])

    Used in: notebooks/00_setup_and_data
    """
    gt = as_labels(gt, name="gt")
    seg = as_labels(seg, name="seg")
    same_shape(gt, seg, ("gt", "seg"))
    ignore = _ignore_ids(ignore_gt)
    g, s = gt.ravel(), seg.ravel()  # views for contiguous arrays
    if g.size == 0:
        raise ValueError(f"nothing to evaluate: gt is empty (shape {gt.shape})")
    starts, lengths = _runs(g, s)
    g, s = g[starts], s[starts]
    if ignore.size:
        keep = ~np.isin(g, ignore)
        g, s, lengths = g[keep], s[keep], lengths[keep]
    if g.size == 0:
        raise ValueError("nothing to evaluate: ground truth is all background "
                         f"(every voxel has an ignored label {tuple(ignore.tolist())})")
    return _count_pairs(g, s, lengths)


def _ignore_ids(ignore_gt) -> np.ndarray:
    ids = np.asarray(ignore_gt).ravel()
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise ValueError(f"ignore_gt must hold non-negative integer ids, got {ignore_gt!r}")
    return ids.astype(np.uint64)


def _runs(g: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs of equal (g, s) pairs along the flat order.

    Neurons are spatially coherent, so the flat arrays come in long runs of one
    pair: counting runs first leaves far fewer entries to sort.
    """
    change = np.empty(g.size, dtype=bool)
    change[0] = True
    np.not_equal(g[1:], g[:-1], out=change[1:])
    change[1:] |= s[1:] != s[:-1]
    starts = np.flatnonzero(change)
    lengths = np.diff(starts, append=g.size)
    return starts, lengths


def _count_pairs(g: np.ndarray, s: np.ndarray, weights: np.ndarray) -> Table:
    """Sum ``weights`` per distinct (g, s) pair."""
    gt_u, gi = _compact(g)
    seg_u, si = _compact(s)
    n_seg = int(si.max()) + 1
    key = gi * n_seg + si  # fits int64: ids < 2**31, or renumbered below the number of runs
    keys, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(keys))
    gt_ids, seg_ids = (keys // n_seg).astype(np.uint64), (keys % n_seg).astype(np.uint64)
    if gt_u is not None:
        gt_ids = gt_u[gt_ids]
    if seg_u is not None:
        seg_ids = seg_u[seg_ids]
    return Table(gt_ids, seg_ids, counts.astype(np.int64))


def _compact(ids: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Ids as int64 indices < 2**31 and the table that maps them back (None: unchanged)."""
    if ids.max() < 2**31:
        return None, ids.astype(np.int64)
    # Large ids (say 2**40) are renumbered 0..n-1 so that one int64 key holds a pair.
    uniq = np.sort(ids)  # np.unique(ids) hashes, slow with millions of distinct ids
    uniq = uniq[np.r_[True, uniq[1:] != uniq[:-1]]]
    if len(uniq) <= 2**15:  # the table stays in cache, so binary search beats an argsort
        return uniq, np.searchsorted(uniq, ids)
    return uniq, np.unique(ids, return_inverse=True)[1].ravel()


def _entries(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero counts of a dense table or :class:`Table`, with their row and column index."""
    if isinstance(table, Table):
        _, rows = np.unique(table.gt_ids, return_inverse=True)
        _, cols = np.unique(table.seg_ids, return_inverse=True)
        counts = np.asarray(table.counts)
    else:
        table = np.asarray(table)
        if table.ndim != 2:
            raise ValueError("a contingency table is 2D (rows = gt objects, columns = "
                             f"segments), got shape {table.shape}")
        if not (np.issubdtype(table.dtype, np.number) or table.dtype == bool):
            raise TypeError(f"a contingency table holds counts, got dtype {table.dtype}")
        if not np.isfinite(table).all() or (table < 0).any():
            raise ValueError("a contingency table holds counts (finite, >= 0), "
                             "found negative or non-finite entries")
        rows, cols = np.nonzero(table)
        counts = table[rows, cols]
    counts = counts.astype(np.int64 if np.issubdtype(counts.dtype, np.integer)
                           or counts.dtype == bool else np.float64)
    if counts.sum() <= 0:
        raise ValueError("nothing to evaluate: the contingency table is empty (all zeros)")
    return counts, rows.ravel(), cols.ravel()


def _voi(counts, rows, cols) -> VOI:
    c = counts.astype(np.float64)
    row_sums = np.bincount(rows, weights=c)[rows]
    col_sums = np.bincount(cols, weights=c)[cols]
    # H(seg|gt) = sum_ij p_ij log2(a_i / n_ij): every term >= 0, exactly 0 when n_ij = a_i.
    split = float((c * np.log2(row_sums / c)).sum() / c.sum())
    merge = float((c * np.log2(col_sums / c)).sum() / c.sum())
    return VOI(max(split, 0.0) + 0.0, max(merge, 0.0) + 0.0)


def _arand(counts, rows, cols) -> float:
    if counts.dtype.kind == "f" and (counts != np.round(counts)).any():
        raise ValueError("the adapted Rand error counts voxel pairs: give it a table of "
                         "voxel counts, not probabilities")
    # Integer sums of squares are exact up to n ~ 3e9 voxels; floats beyond that.
    if counts.dtype.kind == "i" and counts.sum() > 3_000_000_000:
        counts = counts.astype(np.float64)
    n = counts.sum()
    together = (counts * counts).sum() - n  # ordered pairs of distinct voxels together in both
    gt_sizes = np.bincount(rows, weights=counts).astype(counts.dtype)
    seg_sizes = np.bincount(cols, weights=counts).astype(counts.dtype)
    gt_pairs = (gt_sizes * gt_sizes).sum() - n
    seg_pairs = (seg_sizes * seg_sizes).sum() - n
    if gt_pairs + seg_pairs == 0:  # all singletons on both sides: nothing can be wrong
        return 0.0
    # F-score of precision = together / seg_pairs and recall = together / gt_pairs.
    fscore = together / (0.5 * seg_pairs + 0.5 * gt_pairs)
    return float(min(max(1.0 - fscore, 0.0), 1.0)) + 0.0


def voi_from_table(table) -> VOI:
    """Variation of information (split, merge) in bits from a contingency table.

    With ``p_ij = n_ij / n`` and row / column sums ``p_i`` / ``p_j``:
    split = H(seg|gt) = H(gt, seg) - H(gt) and merge = H(gt|seg) = H(gt, seg) - H(seg).

    Parameters
    ----------
    table : (n_gt, n_seg) ndarray of counts, or Table
        Rows = ground-truth objects (background row already removed),
        columns = segments; a :class:`Table` from :func:`contingency_table` works too.

    Returns
    -------
    VOI
        ``split``, ``merge`` (bits, >= 0) and ``.total``.

    Examples
    --------
    >>> voi_from_table(np.array([[2, 2]]))  # one neuron cut in two halves
    VOI(split=1.0, merge=0.0)

    Used in: notebooks/00_setup_and_data
    """
    return _voi(*_entries(table))


def arand_from_table(table) -> float:
    """Adapted Rand error from a contingency table: 1 - F-score of Rand precision and recall.

    Counted over ordered pairs of distinct voxels, as scikit-image does. With
    ``a_i`` the ground-truth object sizes, ``b_j`` the segment sizes and
    ``n`` the number of voxels: precision = (sum n_ij^2 - n) / (sum b_j^2 - n)
    (of the pairs the segmentation puts together, the fraction that belong
    together), recall = (sum n_ij^2 - n) / (sum a_i^2 - n). (The original
    SNEMI3D / CREMI scripts also count each voxel as a pair with itself, so
    their numbers differ slightly.)

    Parameters
    ----------
    table : (n_gt, n_seg) ndarray of counts, or Table
        Rows = ground-truth objects (background removed), columns = segments;
        voxel counts, not probabilities.

    Returns
    -------
    float
        In [0, 1]; 0 = perfect.

    Examples
    --------
    >>> arand_from_table(np.array([[3, 0], [0, 2]]))
    0.0
    >>> round(arand_from_table(np.array([[3], [2]])), 3)  # two neurons merged in one segment
    0.429

    Used in: notebooks/00_setup_and_data
    """
    return _arand(*_entries(table))


def voi(gt: np.ndarray, seg: np.ndarray) -> VOI:
    """Variation of information, split and merge, in bits (gt label 0 ignored).

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth (0 = background, ignored) and segmentation of the same
        shape (label 0 is an ordinary segment).

    Returns
    -------
    VOI
        ``split`` = H(seg|gt), ``merge`` = H(gt|seg); ``.total`` is their sum.

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2]])
    >>> voi(gt, np.array([[1, 1, 1, 1]]))  # two neurons merged
    VOI(split=0.0, merge=1.0)

    Used in: notebooks/00_setup_and_data
    """
    return voi_from_table(contingency_table(gt, seg))


def arand(gt: np.ndarray, seg: np.ndarray) -> float:
    """Adapted Rand error (CREMI definition, alpha = 0.5) in [0, 1]; 0 = perfect.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth (0 = background, ignored) and segmentation of the same
        shape (label 0 is an ordinary segment).

    Returns
    -------
    float
        1 - F-score of Rand precision and recall (see :func:`arand_from_table`).

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2]])
    >>> arand(gt, gt)
    0.0

    Used in: notebooks/00_setup_and_data
    """
    return arand_from_table(contingency_table(gt, seg))


def cremi_score(gt: np.ndarray, seg: np.ndarray) -> float:
    """CREMI score: the geometric mean sqrt(VOI total * ARAND); 0 = perfect.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth (0 = background, ignored) and segmentation of the same
        shape (label 0 is an ordinary segment).

    Returns
    -------
    float

    Examples
    --------
    >>> cremi_score(np.array([[1, 2]]), np.array([[1, 2]]))
    0.0

    Used in: notebooks/00_setup_and_data
    """
    return evaluate(gt, seg).cremi_score


def evaluate(gt: np.ndarray, seg: np.ndarray) -> Scores:
    """VOI split / merge / total, ARAND and CREMI score, from one contingency table.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth (0 = background, ignored) and segmentation of the same
        shape (label 0 is an ordinary segment).

    Returns
    -------
    Scores
        ``print(scores)`` gives a one-line summary.

    Examples
    --------
    >>> print(evaluate(np.array([[1, 1, 2, 2]]), np.array([[1, 1, 2, 3]])))
    VOI split 0.500 | VOI merge 0.000 | VOI total 0.500 | ARAND 0.333 | CREMI score 0.408

    Used in: notebooks/00_setup_and_data
    """
    entries = _entries(contingency_table(gt, seg))
    v, a = _voi(*entries), _arand(*entries)
    return Scores(v.split, v.merge, v.total, a, float(np.sqrt(v.total * a)))
