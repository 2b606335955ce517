"""Self-checks for the loss exercises: class-balancing weights for boundary targets.

Used in: notebooks/02_deep_boundaries
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..losses import balance_weights
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_balance_weights"]


def _targets() -> list[torch.Tensor]:
    rng = np.random.default_rng(0)
    rare = (rng.random((2, 1, 6, 7)) < 0.2).astype(np.float32)
    rare[0, 0, 0, 0] = 1.0  # both samples differ in their fraction: per-batch matters
    half = np.zeros((1, 1, 4, 4), np.float32)
    half[..., :2] = 1
    very_rare = np.zeros((1, 1, 10, 10), np.float32)
    very_rare[0, 0, 5, 5] = 1  # 1 %: 0.5 / f = 50, clipped to 10
    empty = np.zeros((1, 1, 3, 3), np.float32)  # no boundary at all in this patch
    return [torch.from_numpy(t) for t in (rare, half, very_rare, empty)]


def _mistakes(target: torch.Tensor) -> dict[str, torch.Tensor]:
    f = target.mean()
    return {
        "swapped": torch.where(target > 0.5, 0.5 / (1 - f), 0.5 / f).clamp(max=10),
        "no half": torch.where(target > 0.5, 1 / f, 1 / (1 - f)).clamp(max=10),
        "per sample": torch.cat([balance_weights(t[None]) for t in target]),
        "unclipped": torch.where(target > 0.5, 0.5 / f, 0.5 / (1 - f)),
    }


_HINTS = {
    "swapped": "the rare class must get the *large* weight: w_pos = 0.5 / f with f the fraction "
               "of boundary voxels, w_neg = 0.5 / (1 - f)",
    "no half": "your weights are twice too large: with 0.5 / f each class contributes half, "
               "so balanced classes (f = 0.5) give weight 1",
    "per sample": "compute f over the whole batch (target.mean()), not per sample",
    "unclipped": "clip the weights at 10 (`.clamp(max=10)`): a very rare class would "
                 "otherwise dominate the loss (and a patch without boundaries divide by zero)",
}


def _body(fn: Callable) -> str:
    for target in _targets():
        got = _call(fn, target.clone())
        if got is None:
            raise _Fail("your function returned None: did you forget the `return` line?")
        got = torch.as_tensor(got, dtype=torch.float32)
        if got.shape != target.shape:
            raise _Fail(f"your weights have shape {tuple(got.shape)}, expected the target's "
                        f"shape {tuple(target.shape)}: one weight per voxel")
        want = balance_weights(target)
        if torch.allclose(got, want, atol=1e-5):
            continue
        if not torch.isfinite(got).all():
            hint = _HINTS["unclipped"]
        else:
            hint = next((_HINTS[name] for name, wrong in _mistakes(target).items()
                         if torch.isfinite(wrong).all() and torch.allclose(got, wrong, atol=1e-5)),
                        "boundary voxels get min(0.5 / f, 10), the others min(0.5 / (1 - f), 10)")
        fraction = float(target.mean())
        raise _Fail(f"for a target with {fraction:.0%} boundary voxels your weights are wrong. "
                    f"Hint: {hint}")
    return "your weights match on all test targets, including a patch without boundaries"


def check_balance_weights(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(target) -> weights``: inverse-frequency class weights, clipped at 10.

    ``target`` is a (b, 1, y, x) float tensor of 0/1 (1 = boundary); with f the
    fraction of boundary voxels in the whole batch, boundary voxels get
    ``min(0.5 / f, 10)`` and the others ``min(0.5 / (1 - f), 10)``.

    Examples
    --------
    >>> check_balance_weights(balance_weights).passed
    ✅ balance_weights: correct — your weights match on all test targets, including a patch without boundaries
    True

    Used in: notebooks/02_deep_boundaries
    """
    return _run("balance_weights", lambda: _body(fn), verbose)
