"""Checks of a notebook's own results: is a number in the range the lesson expects?

Training on a CPU differs in the last digits between machines, so a notebook
prints its exact numbers in a table and states what must hold with these
functions, whose printed verdict does not depend on those digits.

With ``$MBL_SEG_RECORD_CHECKS`` set to a file, every check also appends one line of
JSON to it (what was checked, the value(s), the range, the verdict):
``bench/spread.py`` runs the notebooks over seeds and thread counts so and reports
the spread of every checked quantity, from which the ranges are set.

Used in: notebooks/01_classical_boundaries and every later notebook with results.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ..env import select_seed
from ._core import CheckResult

__all__ = ["expect_between", "expect_equal", "expect_less"]


def _number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    return number


def _record(kind: str, what: str, values: list, limits: list, passed: bool) -> None:
    """Append the check to ``$MBL_SEG_RECORD_CHECKS`` (one JSON object per line), if set."""
    path = os.environ.get("MBL_SEG_RECORD_CHECKS")
    if path:
        torch = sys.modules.get("torch")  # the run's seed and torch threads, as set up
        line = {"kind": kind, "what": what, "values": values, "limits": limits, "passed": passed,
                "seed": select_seed(),
                "threads": torch.get_num_threads() if torch is not None else None}
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")


def expect_between(value: float, low: float, high: float, what: str, *,
                   verbose: bool = True) -> CheckResult:
    """Say whether ``low <= value <= high``, without printing ``value`` itself.

    >>> expect_between(0.8, 0.5, 1.2, "VOI total (bits)").passed
    ✅ VOI total (bits): between 0.5 and 1.2 as expected
    True
    """
    number = _number(value, what)
    if low > high:
        raise ValueError(f"low must not exceed high, got {low} > {high}")
    passed = bool(np.isfinite(number) and low <= number <= high)
    message = (f"between {low:g} and {high:g} as expected" if passed else
               f"{number:.4g} is outside the expected range {low:g} to {high:g}")
    result = CheckResult(what, passed, message)
    _record("between", what, [number], [low, high], passed)
    if verbose:
        print(result)
    return result


def expect_less(smaller: float, larger: float, what: str, *, verbose: bool = True) -> CheckResult:
    """Say whether ``smaller < larger`` (e.g. one method's VOI below another's).

    >>> expect_less(0.8, 0.9, "U-Net VOI below classical VOI").passed
    ✅ U-Net VOI below classical VOI: yes
    True
    """
    a, b = _number(smaller, what), _number(larger, what)
    passed = bool(a < b)
    result = CheckResult(what, passed, "yes" if passed else f"no: {a:.4g} >= {b:.4g}")
    _record("less", what, [a, b], [], passed)
    if verbose:
        print(result)
    return result


def expect_equal(value, expected, what: str, *, verbose: bool = True) -> CheckResult:
    """Say whether ``value == expected``, for what is exact: names, counts, choices.

    >>> expect_equal("median, t = 0.60", "median, t = 0.60", "the row uses the choice").passed
    ✅ the row uses the choice: yes
    True
    >>> expect_equal(3, 4, "blocks done", verbose=False).message
    'no: 3, expected 4'
    """
    if isinstance(value, float) or isinstance(expected, float):
        raise TypeError(f"{what}: expect_equal compares exact values (names, counts); for "
                        "measured numbers use expect_between or expect_less")
    passed = bool(value == expected)
    result = CheckResult(what, passed, "yes" if passed else f"no: {value!r}, expected {expected!r}")
    _record("equal", what, [repr(value)], [repr(expected)], passed)
    if verbose:
        print(result)
    return result
