"""Self-checks for the 3D exercises: the output shape of an anisotropic valid U-Net, the
missing-section augmentation and the blocks of a scanning prediction.

Used in: notebooks/05_3d_unet
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..models import UNet
from ..predict import scan_blocks
from ._core import CheckResult, _call, _Fail, _NotImplemented, _run

__all__ = ["check_output_shape_3d", "check_missing_sections", "check_scan_blocks"]


# --- the output shape of a valid 3D U-Net with per-level factors and kernels -------------------

# (input shape, downsample per level, kernel per level): isotropic and anisotropic nets, kernels
# (1, 3, 3) where z is coarse, and inputs that do not fit (a pooled size that is odd or <= 0)
_SHAPE_CASES = (
    ((44, 44, 44), ((2, 2, 2),), ((3, 3, 3), (3, 3, 3))),
    ((48, 132, 132), ((2, 2, 2), (2, 2, 2)), ((3, 3, 3),) * 3),
    ((18, 68, 68), ((1, 2, 2), (2, 2, 2)), ((1, 3, 3), (3, 3, 3), (3, 3, 3))),
    ((20, 140, 140), ((1, 2, 2), (1, 2, 2), (2, 2, 2)),
     ((1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3))),
    ((7, 60, 60), ((1, 2, 2),), ((1, 3, 3), (3, 3, 3))),
)
_NOT_FITTING = (
    ((45, 44, 44), ((2, 2, 2),), ((3, 3, 3), (3, 3, 3))),  # 41 cannot be halved
    ((8, 68, 68), ((1, 2, 2), (2, 2, 2)), ((1, 3, 3), (3, 3, 3), (3, 3, 3))),  # z runs out
)


def _library_shape(case) -> tuple[int, ...] | None:
    """The U-Net's own answer, or None where the input does not fit."""
    shape, factors, kernels = case
    net = UNet(dims=3, depth=len(kernels), downsample=factors, kernel_size=kernels,
               padding="valid", base_features=1, seed=0)
    try:
        return net.output_shape(shape)
    except ValueError:
        return None


def _shape_by_rule(shape, factors, kernels, *, bottom: bool = True, same_kernel: bool = False,
                   up: bool = True) -> tuple[int, ...] | None:
    """The valid U-Net arithmetic, with switches for the usual mistakes."""
    out = []
    for axis, size in enumerate(shape):
        ks = [(k[0] if same_kernel else k[axis]) for k in kernels]
        fs = [f[axis] for f in factors]
        for k, f in zip(ks, fs):
            size -= 2 * (k - 1)
            if size <= 0 or size % f:
                return None
            size //= f
        if bottom:
            size -= 2 * (ks[-1] - 1)
        for k, f in zip(ks[-2::-1], fs[::-1]):
            size = size * f - (2 * (k - 1) if up else 0)
        if size <= 0:
            return None
        out.append(size)
    return tuple(out)


_SHAPE_MISTAKES = (
    (dict(bottom=False), "you left out the two convolutions of the bottom level: every level, "
                         "the coarsest too, has two valid convolutions"),
    (dict(up=False), "you left out the convolutions on the way up: after each upsampling the "
                     "decoder level has two valid convolutions too"),
    (dict(same_kernel=True), "you used the z kernel size for every axis: a (1, 3, 3) kernel "
                             "removes 0 voxels along z and 2 along y and x per convolution; "
                             "take kernel[axis] for each axis"),
)


def _as_shape(got) -> tuple[int, ...] | None:
    if got is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    try:
        values = tuple(int(v) for v in got)
    except (TypeError, ValueError):
        raise _Fail(f"return the output shape as a tuple of 3 ints (z, y, x), got {got!r}") \
            from None
    if len(values) != 3 or any(v != w for v, w in zip(values, got)):
        raise _Fail(f"return the output shape as a tuple of 3 ints (z, y, x), got {got!r}")
    return values


def _check_shapes(fn: Callable) -> str:
    for case in _SHAPE_CASES:
        expected = _library_shape(case)
        try:
            got = _as_shape(_call(fn, *case))
        except IndexError as err:
            raise _Fail(f"your function raised IndexError ({err}) for input {case[0]}, "
                        f"downsample {case[1]}, kernels {case[2]}. Hint: there is one kernel "
                        f"per level ({len(case[2])} here) but one downsample factor per step "
                        f"between two levels ({len(case[1])}, one fewer): the bottom level has "
                        "kernels and no factor") from None
        if got == expected:
            continue
        hint = next((h for kw, h in _SHAPE_MISTAKES if _shape_by_rule(*case, **kw) == got),
                    None)
        if hint is None and got == tuple(reversed(expected)):
            hint = ("your shape is in the reverse order of the axes: return (z, y, x), the "
                    "order of the input shape")
        hint = hint or ("follow one axis at a time: down (two convolutions, then divide by the "
                        "factor), the bottom level's two convolutions, then up (multiply by the "
                        "factor, two convolutions)")
        raise _Fail(f"for input {case[0]}, downsample {case[1]}, kernels {case[2]} you gave "
                    f"{got}, expected {expected}. Hint: {hint}")
    for case in _NOT_FITTING:
        try:
            got = _call(fn, *case)
        except ValueError:
            continue
        raise _Fail(f"input {case[0]} with downsample {case[1]} does not fit (a size before "
                    f"pooling is odd, or runs out), but your function returned {got!r}: raise "
                    "a ValueError when a size before pooling is not divisible by the factor "
                    "or a size drops to 0 or below")
    return (f"your shapes match the U-Net on all {len(_SHAPE_CASES)} nets, and you refuse the "
            f"{len(_NOT_FITTING)} inputs that do not fit")


def check_output_shape_3d(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(input_shape, downsample, kernel_size) -> (z, y, x)`` of a valid 3D U-Net.

    ``downsample`` has one (z, y, x) factor per level transition, ``kernel_size`` one
    (z, y, x) kernel per level; two valid convolutions per level on the way down, at the
    bottom and on the way up. Inputs that do not fit raise ``ValueError``.

    >>> def library(shape, downsample, kernel_size):
    ...     return UNet(dims=3, depth=len(kernel_size), downsample=downsample,
    ...                 kernel_size=kernel_size, base_features=1).output_shape(shape)
    >>> check_output_shape_3d(library).passed
    ✅ output_shape_3d: correct — your shapes match the U-Net on all 5 nets, and you refuse the 2 inputs that do not fit
    True
    """
    return _run("output_shape_3d", lambda: _check_shapes(fn), verbose)


# --- missing sections ---------------------------------------------------------------------------


def _missing_by_rule(raw, labels, rng, probability, *, blank_labels=False):
    drop = rng.random(raw.shape[0]) < probability
    raw, labels = raw.copy(), labels.copy()
    raw[drop] = 0
    if blank_labels:
        labels[drop] = 0
    return raw, labels


def _cases():
    rng = np.random.default_rng(7)
    raw = rng.integers(1, 256, (12, 9, 10), dtype=np.uint8)  # no 0: a blank section shows
    labels = rng.integers(1, 5, (12, 9, 10)).astype(np.uint64)
    return [(raw, labels, 0.3, 11), (raw, labels, 0.0, 1), (raw, labels, 1.0, 2),
            (raw[:5], labels[:5], 0.5, 3)]


def _check_missing(fn: Callable) -> str:
    for raw, labels, p, seed in _cases():
        before = raw.copy(), labels.copy()
        try:  # not _call: the originals go in, so that in-place edits show
            got = fn(raw, labels, np.random.default_rng(seed), p)
        except NotImplementedError as err:
            raise _NotImplemented from err
        if not (np.array_equal(raw, before[0]) and np.array_equal(labels, before[1])):
            raw[...], labels[...] = before
            raise _Fail("your function changed the arrays it was given: work on copies "
                        "(raw.copy()), the volume is read again for the next sample")
        if not isinstance(got, tuple) or len(got) != 2:
            raise _Fail(f"return two arrays, (raw, labels), got {type(got).__name__}")
        new_raw, new_labels = (np.asarray(a) for a in got)
        expected = _missing_by_rule(raw, labels, np.random.default_rng(seed), p)
        if np.array_equal(new_raw, expected[0]) and np.array_equal(new_labels, expected[1]):
            continue
        blanked = _missing_by_rule(raw, labels, np.random.default_rng(seed), p,
                                   blank_labels=True)
        if np.array_equal(new_raw, expected[0]) and np.array_equal(new_labels, blanked[1]):
            raise _Fail("you blanked the labels too: keep them. The neurons go on through a "
                        "missing section; the network learns to bridge it from the sections "
                        "around it, so the targets stay")
        changed = [z for z in range(raw.shape[0]) if not np.array_equal(new_raw[z], raw[z])]
        if changed and all(np.all(new_raw[z] == new_raw[z].flat[0]) and new_raw[z].flat[0]
                           for z in changed):
            raise _Fail("a missing section is all 0 in raw, as the microscope records it "
                        "(the data's missing sections are 0 too), not another constant")
        if np.array_equal(new_labels, labels) and new_raw.shape == raw.shape:
            dropped = [z for z in range(raw.shape[0]) if not new_raw[z].any()]
            draws = np.random.default_rng(seed).random(raw.shape[0])
            wanted = np.flatnonzero(draws < p).tolist()
            if dropped != wanted:
                raise _Fail(f"with probability {p} and seed {seed} the sections to blank are "
                            f"{wanted}, yours are {dropped}: draw once, "
                            "`rng.random(raw.shape[0]) < probability`, one number per section")
        raise _Fail("a missing section is all 0 in raw (as the microscope records it), the "
                    "other sections unchanged, and the labels unchanged")
    return f"your augmentation matches on all {len(_cases())} test volumes"


def check_missing_sections(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(raw, labels, rng, probability) -> (raw, labels)``: blank random sections.

    Each section is missing with ``probability`` (draw ``rng.random(z) < probability``
    once); a missing section is 0 in raw, labels are kept; the inputs are not changed.

    >>> def right(raw, labels, rng, probability):
    ...     raw = raw.copy()
    ...     raw[rng.random(raw.shape[0]) < probability] = 0
    ...     return raw, labels.copy()
    >>> check_missing_sections(right).passed
    ✅ missing_sections: correct — your augmentation matches on all 4 test volumes
    True
    """
    return _run("missing_sections", lambda: _check_missing(fn), verbose)


# --- the blocks of a scanning prediction ------------------------------------------------------

_SCAN_CASES = (((10,), (4,), (2,)), ((48, 256, 256), (24, 128, 128), (40, 40, 40)),
               ((50, 100, 90), (16, 64, 64), (8, 40, 40)), ((7, 9), (7, 4), (0, 6)))


def _as_blocks(got) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
    if got is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    try:
        blocks = [(tuple(read), tuple(write)) for read, write in got]
    except (TypeError, ValueError):
        raise _Fail("return a list of (read, write) pairs, each a tuple of slices, one per "
                    "axis") from None
    for read, write in blocks:
        if not all(isinstance(x, slice) for x in read + write):
            raise _Fail(f"read and write must be tuples of slices, got {read!r}, {write!r}")
    return blocks


def _plain(blocks):
    return [tuple((x.start, x.stop) for x in read + write) for read, write in blocks]


def _scan_hint(shape, block, context, got) -> str:
    writes = [w for _, w in got]
    if any(w.stop > n for ws in writes for w, n in zip(ws, shape)):
        return ("a block writes past the end of the volume: crop the last block of each axis "
                "to what is left, stop = min(start + block, size)")
    for ws in writes:
        for w, n, b in zip(ws, shape, block):
            if w.stop == n and w.start % b and w.stop - w.start == min(b, n):
                return ("the last block of an axis is cropped (stop = size), not shifted back to "
                        "keep its full size: a shifted block writes again what the block before "
                        "it wrote; blocks start at 0, block, 2 * block, ...")
    if len(got) < len(scan_blocks(shape, block, context)):
        return ("some voxels are never written: blocks start at 0, block, 2 * block, ... "
                "up to the size, the last one cropped")
    for (read, write) in got:
        for r, w, c in zip(read, write, context):
            if r.start == w.start - c // 2:
                return ("read starts where write starts: the padding (context // 2 before) "
                        "has already moved every voxel by context // 2, so don't subtract it")
            if r.stop - r.start != w.stop - w.start + c:
                return "read is the write block plus the whole context: stop = write.stop + context"
    if sorted(_plain(got)) == sorted(_plain(scan_blocks(shape, block, context))):
        return ("list the blocks in C order (the last axis fastest), e.g. with "
                "itertools.product over the block starts of each axis")
    return ("write tiles the volume from 0 in steps of the block (the last one cropped), read "
            "starts where write starts and is context longer; list them in C order")


def _check_scan(fn: Callable) -> str:
    for shape, block, context in _SCAN_CASES:
        got = _as_blocks(_call(fn, shape, block, context))
        if _plain(got) == _plain(scan_blocks(shape, block, context)):
            continue
        raise _Fail(f"for a volume {shape}, output blocks {block} and context {context} your "
                    f"blocks differ. Hint: {_scan_hint(shape, block, context, got)}")
    return f"your blocks match on all {len(_SCAN_CASES)} volumes, 1D to 3D"


def check_scan_blocks(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(volume_shape, output_block, context) -> [(read, write), ...]``.

    The same convention as :func:`mbl_seg.predict.scan_blocks`: ``write`` tiles
    the volume from 0, the last block of each axis cropped; ``read`` slices the
    volume padded by ``context // 2`` before (and the rest after), starts where
    ``write`` starts and is ``context`` longer; blocks in C order.

    >>> check_scan_blocks(scan_blocks).passed
    ✅ scan_blocks: correct — your blocks match on all 4 volumes, 1D to 3D
    True
    """
    return _run("scan_blocks", lambda: _check_scan(fn), verbose)
