"""Self-checks for the metrics exercises: VOI and adapted Rand error from a contingency table.

Used in: notebooks/00_setup_and_data
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..evaluate import arand_from_table, voi_from_table
from ._core import CheckResult, _check_tables, _run

__all__ = ["check_voi_from_table", "check_arand_from_table"]


# --- test tables and reference quantities ---------------------------------------------------

# Rows = ground-truth objects (background removed), columns = segments. Tables
# without zeros come first; some tables have zeros, and split != merge in several.
_TABLES = (
    np.array([[4, 4]]),  # one neuron cut in two halves
    np.array([[3], [5]]),  # two neurons merged in one segment
    np.array([[5, 1], [2, 4]]),  # a bit of both, no zeros
    np.array([[6, 2, 0], [0, 3, 5], [1, 0, 7]]),  # a bit of everything, with zeros
    np.array([[10, 0], [0, 10]]),  # perfect
    np.array([[9, 3, 0], [0, 0, 4]]),  # one neuron split, one fine, with zeros
)
for _table in _TABLES:
    _table.flags.writeable = False  # students get copies; the originals never change


def _h(p: np.ndarray) -> float:
    """Entropy in bits of the (not necessarily normalised) non-zero entries of ``p``."""
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _entropies(table: np.ndarray, *, normalise: bool = True) -> tuple[float, float, float]:
    """H(gt, seg), H(gt), H(seg) in bits."""
    p = table / table.sum() if normalise else table.astype(np.float64)
    return _h(p), _h(p.sum(axis=1)), _h(p.sum(axis=0))


def _voi_ref(table: np.ndarray) -> tuple[float, float]:
    return tuple(voi_from_table(table))


def _voi_mistakes() -> list[tuple[Callable, str]]:
    def scaled(factor):
        return lambda t: [np.multiply(_voi_ref(t), factor)]

    def unnormalised(t):
        joint, h_gt, h_seg = _entropies(t, normalise=False)
        return [(joint - h_gt, joint - h_seg)]

    def joint_or_mutual(t):
        joint, h_gt, h_seg = _entropies(t)
        both = (joint, h_gt + h_seg - joint)
        return [(a, b) for a in both for b in both]

    def marginals(t):
        _, h_gt, h_seg = _entropies(t)
        return [(h_seg, h_gt), (h_gt, h_seg)]

    return [
        (lambda t: [_voi_ref(t)[::-1]],
         "split and merge are swapped: split = H(seg | gt) (one neuron spread over several "
         "segments), merge = H(gt | seg) (one segment covering several neurons)"),
        (scaled(np.log(2)), "your values are in nats (natural log): use np.log2 to get bits"),
        (scaled(np.log10(2)), "your values use log10: use np.log2 to get bits"),
        (unnormalised, "normalise the table first: p_ij = n_ij / n, so the entries sum to 1"),
        (joint_or_mutual,
         "you returned the joint entropy H(gt, seg) or the mutual information I(gt; seg); "
         "the conditional entropies are split = H(gt, seg) - H(gt), merge = H(gt, seg) - H(seg)"),
        (marginals,
         "you returned the entropies H(seg) and H(gt) of the marginals; subtract them from "
         "the joint entropy: split = H(gt, seg) - H(gt), merge = H(gt, seg) - H(seg)"),
    ]


def check_voi_from_table(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(table) -> (split, merge)``: the VOI in bits from a dense contingency table.

    Parameters
    ----------
    fn : callable
        Your function: takes a (n_gt, n_seg) ndarray of counts (rows =
        ground-truth objects, background row removed; columns = segments) and
        returns ``(split, merge)`` = (H(seg | gt), H(gt | seg)) in bits.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> from mbl_seg.evaluate import voi_from_table
    >>> check_voi_from_table(voi_from_table).passed
    ✅ voi_from_table: correct — your answers match on all 6 test tables
    True

    Used in: notebooks/00_setup_and_data
    """
    return _run("voi_from_table", lambda: _check_tables(
        fn, _TABLES, _voi_ref, count=2, what="split, merge", mistakes=_voi_mistakes(),
        generic_hint=("turn counts into probabilities p_ij = n_ij / n, then split = "
                      "H(gt, seg) - H(gt) and merge = H(gt, seg) - H(seg), with log2"),
        zero_hint=("your function goes wrong on tables with zero entries: 0 * log(0) is nan "
                   "in numpy but counts as 0 in an entropy — sum only over the non-zero "
                   "entries")), verbose)


def _rand_parts(table: np.ndarray, self_pairs: bool = False) -> tuple[float, float]:
    """Rand precision and recall of a dense table, over pairs of voxels."""
    t = table.astype(np.float64)
    n = 0.0 if self_pairs else t.sum()
    together = (t**2).sum() - n
    return together / ((t.sum(0) ** 2).sum() - n), together / ((t.sum(1) ** 2).sum() - n)


def _arand_mistakes() -> list[tuple[Callable, str]]:
    def f_score(precision, recall):
        return 2 * precision * recall / (precision + recall)

    return [
        (lambda t: [1 - arand_from_table(t)],
         "you returned the F-score; the adapted Rand *error* is 1 - F-score"),
        (lambda t: [1 - f_score(*_rand_parts(t, self_pairs=True))],
         "you counted each voxel as a pair with itself: count pairs of distinct voxels, "
         "sum n_ij^2 - n (likewise sum a_i^2 - n and sum b_j^2 - n)"),
        (lambda t: [1 - sum(_rand_parts(t)) / 2],
         "combine precision P and recall R with the F-score 2PR / (P + R), not their average"),
        (lambda t: [1 - x for x in _rand_parts(t)],
         "you returned 1 - precision or 1 - recall alone: combine them with the F-score "
         "2PR / (P + R)"),
    ]


def check_arand_from_table(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(table) -> float``: the adapted Rand error from a dense contingency table.

    Parameters
    ----------
    fn : callable
        Your function: takes a (n_gt, n_seg) ndarray of voxel counts (rows =
        ground-truth objects, background removed; columns = segments) and
        returns 1 - F-score of Rand precision and recall, over pairs of voxels.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> def my_arand(table):
    ...     raise NotImplementedError("TODO")
    >>> result = check_arand_from_table(my_arand)
    ❌ arand_from_table: not implemented yet — fill in the TODO

    Used in: notebooks/00_setup_and_data
    """
    return _run("arand_from_table", lambda: _check_tables(
        fn, _TABLES, arand_from_table, count=1, what="adapted Rand error",
        mistakes=_arand_mistakes(),
        generic_hint=("count pairs: together = sum n_ij^2 - n, gt pairs = sum a_i^2 - n, "
                      "seg pairs = sum b_j^2 - n; precision = together / seg pairs, "
                      "recall = together / gt pairs; return 1 - 2PR / (P + R)")), verbose)
