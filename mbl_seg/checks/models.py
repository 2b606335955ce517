"""Self-checks for the U-Net exercises: centre-cropping a skip connection and the output
size of a valid U-Net along one axis.

Used in: notebooks/02_deep_boundaries
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import torch

from ..models import center_crop
from ._core import CheckResult, _call, _Fail, _NotImplemented, _run

__all__ = ["check_center_crop", "check_unet_output_size"]


# --- center_crop ------------------------------------------------------------------------------

# (input shape (b, c, *spatial), target spatial shape): even size differences only, so the
# centre is unambiguous; non-square targets, so swapped axes show; c larger than the targets.
_CROP_CASES = (
    ((2, 5, 8, 10), (4, 2)),
    ((1, 1, 6, 6), (2, 2)),
    ((1, 4, 7, 9), (3, 5)),
    ((1, 3, 6, 8, 10), (2, 4, 6)),
    ((2, 2, 5, 9, 7), (3, 3, 3)),
)


def _crop_at(x: torch.Tensor, starts, shape) -> torch.Tensor:
    return x[(slice(None), slice(None), *(slice(a, a + t) for a, t in zip(starts, shape)))]


def _offset_hint(x: torch.Tensor, shape, got: torch.Tensor) -> str | None:
    """Which wrongly placed window (corner, end, centre +- 1) the student's crop is."""
    diffs = [s - t for s, t in zip(x.shape[2:], shape)]
    windows = [
        ([0] * len(diffs), "you cropped from the corner (start 0): start each axis at "
                           "(size - target) // 2 so the crop is centred"),
        (diffs, "you kept the last voxels of each axis: start at (size - target) // 2, "
                "not at size - target"),
    ]
    for shifts in product((-1, 0, 1), repeat=len(diffs)):
        starts = [d // 2 + s for d, s in zip(diffs, shifts)]
        if any(shifts) and all(0 <= a <= d for a, d in zip(starts, diffs)):
            windows.append((starts, "your crop is off by one voxel from the centre: start "
                                    "at (size - target) // 2 and take `target` voxels"))
    for starts, hint in windows:
        if torch.equal(got, _crop_at(x, starts, shape)):
            return hint
    return None


def _crop_hint(x: torch.Tensor, shape, got) -> str:
    """The hint for one wrong answer of the student's center_crop."""
    expected = tuple(x.shape[:2]) + tuple(shape)
    if got is None:
        return "your function returned None: did you forget the `return` line?"
    if not isinstance(got, torch.Tensor):
        return (f"return a torch.Tensor (slicing `x` keeps it one), got {type(got).__name__}")
    if tuple(got.shape[:2]) != expected[:2]:
        return ("you cropped the batch or channel axis: crop only the spatial axes "
                "x.shape[2:] and keep the first two axes whole (`x[:, :, ...]`)")
    if tuple(got.shape[2:]) == tuple(shape)[::-1] and tuple(shape) != tuple(shape)[::-1]:
        return ("your crop has the axes swapped: `shape` is in the same (z, y, x) / (y, x) "
                "order as the axes of x")
    if tuple(got.shape) != expected:
        return (f"your crop has shape {tuple(got.shape)}, expected {expected}: a crop of "
                "`target` voxels from `start` is `start:start + target`")
    return _offset_hint(x, shape, got) or (
        "the shape is right but the values are not the centre: start each axis at "
        "(size - target) // 2")


def _check_crops(fn: Callable) -> str:
    for in_shape, shape in _CROP_CASES:
        x = torch.arange(torch.Size(in_shape).numel()).reshape(in_shape)
        try:
            got = _call(fn, x.clone(), shape)
        except _NotImplemented:
            raise
        except Exception as err:  # a 2D-only solution crashes on the first 3D case
            if len(in_shape) == 5:
                raise _Fail(f"your function works on 2D input but fails on 3D input "
                            f"{in_shape} ({type(err).__name__}: {err}): make it work for any "
                            "number of spatial axes, e.g. build one slice per axis") from None
            raise
        if isinstance(got, torch.Tensor) and torch.equal(got, center_crop(x, shape)):
            continue
        hint = _crop_hint(x, shape, got)
        if len(in_shape) == 5 and "off by one" not in hint and "corner" not in hint:
            hint = ("your function works on 2D input but not on 3D input: make it work for "
                    f"any number of spatial axes. ({hint})")
        raise _Fail(f"cropping x of shape {in_shape} to {shape} went wrong. Hint: {hint}")
    return f"your crops match on all {len(_CROP_CASES)} test tensors (2D and 3D)"


def check_center_crop(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(x, shape)``: crop a (b, c, *spatial) tensor to ``shape`` around its centre.

    Parameters
    ----------
    fn : callable
        Your function: takes a torch tensor ``x`` of shape (b, c, y, x) or
        (b, c, z, y, x) and a spatial ``shape`` (one size per spatial axis) and
        returns ``x`` cropped to (b, c, *shape), starting each axis at
        ``(size - target) // 2``.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> from mbl_seg.models import center_crop
    >>> check_center_crop(center_crop).passed
    ✅ center_crop: correct — your crops match on all 5 test tensors (2D and 3D)
    True

    Used in: notebooks/02_deep_boundaries
    """
    return _run("center_crop", lambda: _check_crops(fn), verbose)


# --- output size of a valid U-Net ------------------------------------------------------------


def _size(size: int, depth: int, kernel: int, factor: int, *, convs: int = 2, up_convs: bool = True,
          bottom: bool = True, loss: int | None = None, pools: int | None = None,
          check: bool = True, true_div: bool = False) -> float | str:
    """Valid U-Net arithmetic on one axis, with switches that reproduce typical mistakes.

    Returns the output size, or "ValueError" when the input does not fit.
    """
    loss = (kernel - 1) if loss is None else loss
    pools = depth - 1 if pools is None else pools
    for _ in range(pools):
        size -= convs * loss
        if check and (size < 1 or size % factor):
            return "ValueError"
        size = size / factor if true_div else size // factor
    size -= convs * loss if bottom else 0
    for _ in range(pools):
        size = size * factor - (convs * loss if up_convs else 0)
    return "ValueError" if check and size < 1 else size


# (input size, depth, kernel size, downsample): valid inputs first, then ones that do not fit.
_SIZE_CASES = ((572, 5, 3, 2), (44, 3, 3, 2), (10, 1, 3, 2), (100, 3, 3, 2), (92, 3, 5, 2),
               (25, 2, 3, 3))
_NOT_FITTING = ((101, 3, 3, 2), (30, 3, 3, 2))
_DEPTH_HINT = ("`depth` counts resolution levels, bottom included: there are depth - 1 "
               "poolings and upsamplings")
_SIZE_MISTAKES = (  # (the switches of _size that reproduce a mistake, its hint)
    (dict(up_convs=False), "you forgot the convolutions on the way up: every decoder level "
                           "has two valid convolutions too"),
    (dict(convs=1), "each level has two convolutions, each removing kernel_size - 1 voxels; "
                    "you counted one per level"),
    (dict(bottom=False), "you forgot the two convolutions of the bottom level (between the "
                         "last pooling and the first upsampling)"),
    (dict(loss=0), "that is 'same'-padding arithmetic: with valid convolutions each "
                   "convolution removes kernel_size - 1 voxels"),
    (dict(loss=2), "a valid convolution removes kernel_size - 1 voxels: you used 2, i.e. "
                   "kernel size 3 only"),
)


def _mistakes() -> list[tuple[Callable, str]]:
    """Predictors of typical wrong answers; each mistake with and without the fit check."""
    fit_hint = ("check that every size before a max-pooling is a positive multiple of "
                "`downsample` (and that the output is >= 1); raise a ValueError otherwise")
    mistakes = [(lambda c: _size(*c, check=False), fit_hint),
                (lambda c: _size(*c, check=False, true_div=True), fit_hint),
                (lambda c: c[0], "you returned the input size: that is 'same'-padding "
                                 "arithmetic; with valid convolutions each convolution removes "
                                 "kernel_size - 1 voxels")]
    switches = [(kw, hint) for kw, hint in _SIZE_MISTAKES]
    switches += [("kernel", "a valid convolution removes kernel_size - 1 voxels, not "
                            "kernel_size"), ("depth", _DEPTH_HINT)]
    for kw, hint in switches:
        for check in (True, False):
            def predict(c, kw=kw, check=check):
                extra = kw if isinstance(kw, dict) else {"kernel": {"loss": c[2]},
                                                         "depth": {"pools": c[1]}}[kw]
                return _size(*c, check=check, **extra)
            mistakes.append((predict, hint))
    return mistakes


def _answer(fn: Callable, case) -> int | float | str:
    """The student's answer for one case: a number, or "ValueError" when it raised one."""
    try:
        got = _call(fn, *case)
    except ValueError:
        return "ValueError"
    if got is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    if isinstance(got, bool) or not isinstance(got, (int, float)) and not hasattr(got, "item"):
        raise _Fail(f"your function should return one number (the output size), got {got!r}")
    return got.item() if hasattr(got, "item") else got


def _check_sizes(fn: Callable) -> str:
    cases = _SIZE_CASES + _NOT_FITTING
    answers = [(case, _answer(fn, case)) for case in cases]
    wrong = [(c, got) for c, got in answers if got != _size(*c)]
    if not wrong:
        return f"your sizes match on all {len(cases)} test cases"
    for predict, hint in _mistakes():  # noqa: B007 - the hint of the mistake found, used below
        if all(got == predict(c) for c, got in answers):
            break
    else:
        hint = ("go level by level: two convolutions (each - (kernel_size - 1)), then a "
                "max-pooling (/ downsample, must divide) on the way down; two convolutions "
                "at the bottom; upsampling (* downsample) and two convolutions on the way up")
    (size, depth, kernel, factor), got = wrong[0]
    expected = _size(size, depth, kernel, factor)
    said = "raised ValueError" if got == "ValueError" else f"returned {got}"
    wanted = "a ValueError (it does not fit)" if expected == "ValueError" else str(expected)
    raise _Fail(f"for input_size={size}, depth={depth}, kernel_size={kernel}, "
                f"downsample={factor} you {said}, expected {wanted}. Hint: {hint}")


def check_unet_output_size(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(input_size, depth, kernel_size, downsample)``: a valid U-Net's output size.

    Parameters
    ----------
    fn : callable
        Your function: the output size along one axis of a U-Net with
        ``depth`` levels (bottom included), two valid convolutions per level
        on the way down and on the way up, max-pooling and upsampling by
        ``downsample``; raises ``ValueError`` when the input does not fit.
        It is called with the four arguments in this order.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> def same_size(input_size, depth, kernel_size=3, downsample=2):
    ...     return input_size
    >>> check_unet_output_size(same_size).passed  # doctest: +ELLIPSIS
    ❌ unet_output_size: for input_size=572, ... you returned 572, expected 388. Hint: ...
    False

    Used in: notebooks/02_deep_boundaries
    """
    return _run("unet_output_size", lambda: _check_sizes(fn), verbose)
