"""Exercises with consequences: later cells use the student's function, so stop cleanly first.

When a notebook trains with the student's ``balance_weights`` or makes its
targets with the student's ``my_affinities``, an unfinished or wrong exercise
must not let the notebook run on to a misleading result. ``require`` runs the
exercise's self-check quietly and, unless it passes, stops the cell with one
short message that says what to finish and why.

Used in: notebooks/02_deep_boundaries, 03_affinities.
"""

from __future__ import annotations

from collections.abc import Callable

from ._core import CheckResult

__all__ = ["ExerciseNotDone", "require"]


class ExerciseNotDone(RuntimeError):
    """Raised by `require` when the exercise a cell builds on does not pass its check yet."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is all a student needs
        return [f"\x1b[1;31mExerciseNotDone\x1b[0m: {self}"]


def require(check: Callable[..., CheckResult], fn: Callable, *, used_for: str) -> Callable:
    """Return ``fn`` if it passes ``check``; otherwise stop with a message for the student.

    Parameters
    ----------
    check : callable
        The exercise's self-check, e.g. ``checks.check_balance_weights``.
    fn : callable
        The student's function.
    used_for : str
        What the next cells do with it, e.g. ``"the training below weighs its loss with it"``.

    Returns
    -------
    callable
        ``fn`` itself, so a cell can write ``weights = require(check, fn, used_for=...)``.

    Raises
    ------
    ExerciseNotDone
        If the check does not pass (the exercise is unfinished or wrong).

    Examples
    --------
    >>> from mbl_seg.checks import check_center_crop
    >>> def center_crop(x, shape):
    ...     raise NotImplementedError
    >>> require(check_center_crop, center_crop,
    ...         used_for="the cell below crops with it")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    mbl_seg.checks.require.ExerciseNotDone: `center_crop` is not done yet (not implemented yet
    — fill in the TODO), and the cell below crops with it. Finish the exercise and run its cell
    again (stuck? the solution notebook in solutions/ has an answer).
    """
    if not callable(check) or not callable(fn):
        raise TypeError("require(check, fn, used_for=...) takes a self-check and your function, "
                        f"got {type(check).__name__} and {type(fn).__name__}")
    result = check(fn, verbose=False)
    if not result.passed:
        name = getattr(fn, "__name__", "your function")
        raise ExerciseNotDone(
            f"`{name}` is not done yet ({result.message}), and {used_for}. Finish the "
            "exercise and run its cell again (stuck? the solution notebook in solutions/ "
            "has an answer).")
    return fn
