"""Self-check for the Zendo opener: a rule written as a function, against the master's.

Used in: notebooks/00_setup_and_data
"""

from __future__ import annotations

from collections.abc import Callable

from ._core import CheckResult, _Fail, _run

__all__ = ["check_zendo_rule"]


def check_zendo_rule(fn: Callable, round: int, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(scene) -> bool`` against the rule of Zendo round ``round`` on every scene.

    >>> check_zendo_rule(lambda s: any(p.colour == "red" for p in s),
    ...                  0).passed  # doctest: +NORMALIZE_WHITESPACE
    ✅ zendo rule: correct — the master's rule ('there is a red piece'): your rule agrees on
    all 1329 scenes of 1 to 3 pieces
    True

    Used in: notebooks/00_setup_and_data
    """
    from .. import zendo

    def body() -> str:
        result = zendo.check_rule(fn, round, verbose=False)
        if not result.same:
            raise _Fail(result.message.removeprefix("❌ "))
        return result.message.removeprefix("✅ ")

    return _run("zendo rule", body, verbose)
