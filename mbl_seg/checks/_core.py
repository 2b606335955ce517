"""The machinery every self-check shares: the result type, running student code safely,
comparing answers and naming the mistake that explains them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

class CheckResult(NamedTuple):
    """The outcome of a self-check: ``passed`` and a message for the student.

    ``print(result)`` shows e.g. ``✅ voi_from_table: correct — ...``;
    ``bool(result)`` is ``result.passed``. In a notebook the check has already
    printed the message, so displaying the result adds nothing.
    """

    name: str
    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{'✅' if self.passed else '❌'} {self.name}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        # The check printed the message already: no second copy as Out[...].
        pass


# --- machinery shared by every check --------------------------------------------------------


class _Fail(Exception):
    """Raised inside a check body to stop at the first wrong answer with a message."""


class _NotImplemented(Exception):
    pass


def _call(fn: Callable, *args) -> Any:
    """Call the student's function on copies of the inputs (so it cannot spoil them)."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    try:
        return fn(*copies)
    except NotImplementedError as err:
        raise _NotImplemented from err


def _run(name: str, body: Callable[[], str], verbose: bool) -> CheckResult:
    """Run a check body; unfinished or crashing student code becomes a message, not a traceback."""
    try:
        result = CheckResult(name, True, f"correct — {body()}")
    except _NotImplemented:
        result = CheckResult(name, False, "not implemented yet — fill in the TODO")
    except _Fail as fail:
        result = CheckResult(name, False, str(fail))
    except Exception as err:  # noqa: BLE001 - any error in student code becomes a hint
        text = re.sub(r" at 0x[0-9a-fA-F]+", "", str(err))  # keep the message deterministic
        result = CheckResult(name, False, (
            f"your function raised {type(err).__name__}: {text} — call it yourself on one of "
            "the small examples from the notebook to see the full traceback"))
    if verbose:
        print(result)
    return result


def _numbers(value: Any, count: int, what: str) -> np.ndarray:
    """The student's return value as ``count`` floats, or a _Fail saying what came back."""
    if value is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    try:
        out = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError, RuntimeError):
        out = np.empty(0)
    if out.size != count:
        noun = "one number" if count == 1 else f"{count} numbers"
        raise _Fail(f"your function should return {noun} ({what}), got {value!r}")
    return out


def _close(a, b, atol: float = 1e-6) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), atol=atol, rtol=1e-6))


def _diagnose(cases: Sequence[tuple[Any, np.ndarray]],
              mistakes: Sequence[tuple[Callable[[Any], list], str]]) -> str | None:
    """The hint of the first mistake that explains the student's answers on *all* cases.

    ``cases`` are (input, student answer) pairs; each mistake maps an input to
    the answers it would give (a list: some mistakes have several variants).
    """
    for predict, hint in mistakes:
        if all(any(_close(got, p) for p in predict(x)) for x, got in cases):
            return hint
    return None


def _fmt(values) -> str:
    """``0.5000`` for one number, ``(0.5000, 1.0000)`` for several."""
    text = ", ".join(f"{v:.4f}" for v in np.atleast_1d(values))
    return text if np.size(values) == 1 else f"({text})"


def _has_zero(table: np.ndarray) -> bool:
    return bool((table == 0).any())


def _check_tables(fn, tables, reference, *, count, what, mistakes, generic_hint,
                  zero_hint=None) -> str:
    """Run ``fn`` on every table, compare with ``reference``, and fail with the best hint."""
    cases = [(t, _numbers(_call(fn, t), count, what)) for t in tables]
    wrong = [(t, got) for t, got in cases if not _close(got, reference(t))]
    if not wrong:
        return f"your answers match on all {len(tables)} test tables"
    table, got = wrong[0]
    not_finite = any(not np.isfinite(g).all() for _, g in wrong)
    if zero_hint and (not_finite or all(_has_zero(t) for t, _ in wrong)):
        hint = zero_hint
    elif not_finite:
        hint = "you returned nan or inf: look for a division by zero"
    else:
        hint = _diagnose(cases, mistakes) or generic_hint
    raise _Fail(f"for the table {table.tolist()} you returned {what} = {_fmt(got)}, "
                f"expected {_fmt(reference(table))}. Hint: {hint}")
