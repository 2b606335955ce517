"""Self-checks: call them on your own implementation to get "correct" or a specific hint.

Each check runs your function on small cases whose answers are known, and
when the answer is wrong, compares it with the answers that typical
mistakes would give, to tell you which mistake it looks like.

Used in: notebooks/00_setup_and_data (and every later exercise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .evaluate import arand_from_table, voi_from_table

__all__ = ["CheckResult", "check_voi_from_table", "check_arand_from_table"]


class CheckResult(NamedTuple):
    """The outcome of a self-check: ``passed`` and a message for the student."""

    name: str
    passed: bool
    message: str

    def __str__(self) -> str:
        mark = "✅" if self.passed else "❌"
        return f"{mark} {self.name}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


class _NotImplemented(Exception):
    pass


def _call(fn: Callable, *args) -> Any:
    """Call the student's function on a copy of the inputs; report what went wrong."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    try:
        return fn(*copies)
    except NotImplementedError as err:
        raise _NotImplemented from err


def _report(name: str, passed: bool, message: str, verbose: bool) -> CheckResult:
    result = CheckResult(name, passed, message)
    if verbose:
        print(result)
    return result


def _run(name: str, verbose: bool, body: Callable[[], tuple[bool, str]]) -> CheckResult:
    """Run a check body, turning unfinished or crashing student code into a hint."""
    try:
        passed, message = body()
    except _NotImplemented:
        passed, message = False, "not implemented yet: fill in the TODO and run this check again"
    except Exception as err:  # noqa: BLE001 - any error in student code becomes a hint
        passed, message = False, (f"your function raised {type(err).__name__}: {err}. "
                                  "Read the traceback by calling it yourself on a small input.")
    return _report(name, passed, message, verbose)


def _as_pair(value, what: str) -> tuple[float, float]:
    try:
        a, b = value
        return float(a), float(b)
    except (TypeError, ValueError):
        raise TypeError(f"it should return two numbers ({what}), got {value!r}") from None


# Small contingency tables: rows = ground-truth objects, columns = segments.
_TABLES = [
    np.array([[4, 4]]),  # one neuron split in two halves
    np.array([[3], [5]]),  # two neurons merged
    np.array([[6, 2, 0], [0, 3, 5], [1, 0, 7]]),  # a bit of everything, with zeros
    np.array([[10, 0], [0, 10]]),  # perfect
]


def _entropies(table: np.ndarray, normalise: bool = True) -> dict[str, float]:
    p = table / table.sum() if normalise else table.astype(float)
    nz = p[p > 0]
    h_joint = -(nz * np.log2(nz)).sum()
    rows, cols = p.sum(1), p.sum(0)
    h_gt = -(rows[rows > 0] * np.log2(rows[rows > 0])).sum()
    h_seg = -(cols[cols > 0] * np.log2(cols[cols > 0])).sum()
    return {"joint": h_joint, "gt": h_gt, "seg": h_seg}


def _voi_mistake(table: np.ndarray, got: tuple[float, float]) -> str | None:
    """Name the typical mistake that explains ``got`` for ``table``, if any."""
    split, merge = voi_from_table(table)
    h = _entropies(table)
    close = lambda a, b: np.allclose(a, b, atol=1e-6)  # noqa: E731
    if close(got, (merge, split)) and not close(split, merge):
        return ("split and merge are swapped: split = H(seg | gt) (how much a neuron is "
                "spread over segments), merge = H(gt | seg)")
    if close(got, (split * np.log(2), merge * np.log(2))):
        return "your values are in nats: use np.log2 to get bits"
    if close(got, (split * np.log10(2), merge * np.log10(2))):
        return "your values use log10: use np.log2 to get bits"
    raw = _entropies(table, normalise=False)
    if close(got, (raw["joint"] - raw["gt"], raw["joint"] - raw["seg"])):
        return "normalise the table first: p_ij = n_ij / n (the entries must sum to 1)"
    mutual = h["gt"] + h["seg"] - h["joint"]
    if any(close(g, v) for g in got for v in (h["joint"], mutual)) and h["joint"] > 1e-9:
        return ("one of your numbers is the joint entropy H(gt, seg) or the mutual information; "
                "the conditional entropy is H(seg | gt) = H(gt, seg) - H(gt)")
    if close(got, (h["seg"], h["gt"])) or close(got, (h["gt"], h["seg"])):
        return ("you returned the entropies H(seg) and H(gt); subtract them from the joint "
                "entropy: split = H(gt, seg) - H(gt), merge = H(gt, seg) - H(seg)")
    return None


def check_voi_from_table(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(table) -> (split, merge)``: VOI in bits from a dense contingency table.

    ``table[i, j]`` counts the voxels of ground-truth object ``i`` in segment ``j``
    (background already removed).

    Examples
    --------
    >>> from mbl_seg.evaluate import voi_from_table
    >>> check_voi_from_table(voi_from_table, verbose=False).passed
    True
    """
    def body() -> tuple[bool, str]:
        for table in _TABLES:
            got = _as_pair(_call(fn, table), "split, merge")
            expected = voi_from_table(table)
            if np.isnan(got).any():
                return False, (f"you returned nan for the table {table.tolist()}: 0 * log(0) "
                               "is 0 by convention; only sum over the non-zero entries")
            if not np.allclose(got, expected, atol=1e-6):
                hint = _voi_mistake(table, got) or (
                    "first turn counts into probabilities p_ij = n_ij / n, then "
                    "split = H(gt, seg) - H(gt) and merge = H(gt, seg) - H(seg)")
                return False, (f"for the table {table.tolist()} you got "
                               f"(split={got[0]:.3f}, merge={got[1]:.3f}), expected "
                               f"(split={expected.split:.3f}, merge={expected.merge:.3f}). "
                               f"Hint: {hint}")
        return True, "correct! split and merge match on all test tables"

    return _run("voi_from_table", verbose, body)


def check_arand_from_table(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(table) -> float``: adapted Rand error from a dense contingency table.

    Examples
    --------
    >>> from mbl_seg.evaluate import arand_from_table
    >>> check_arand_from_table(arand_from_table, verbose=False).passed
    True
    """
    def body() -> tuple[bool, str]:
        for table in _TABLES:
            got = _call(fn, table)
            if np.ndim(got) != 0:
                return False, f"it should return one number, got {got!r}"
            got, expected = float(got), arand_from_table(table)
            if np.isclose(got, expected, atol=1e-6):
                continue
            hint = "precision and recall count *pairs* of voxels: sum n_ij^2 - n, not sum n_ij"
            if np.isclose(got, 1 - expected, atol=1e-6):
                hint = "you returned the F-score; the error is 1 - F-score"
            return False, (f"for the table {table.tolist()} you got {got:.4f}, expected "
                           f"{expected:.4f}. Hint: {hint}")
        return True, "correct! the adapted Rand error matches on all test tables"

    return _run("arand_from_table", verbose, body)
