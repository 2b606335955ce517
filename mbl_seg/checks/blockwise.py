"""Self-checks for the block arithmetic of notebook 08: what a block reads, and what it costs.

Used in: notebooks/08_scaling_up
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_overhead", "check_read_region", "overhead", "read_region"]


def read_region(write: tuple, context: tuple, shape: tuple) -> tuple:
    """The reference: the slices a block reads, ``write`` grown by ``context`` on each side,
    clipped to a volume of ``shape``.

    >>> read_region((slice(0, 32), slice(128, 256)), (8, 16), (40, 300))
    (slice(0, 40, None), slice(112, 272, None))
    """
    return tuple(slice(max(0, w.start - c), min(n, w.stop + c))
                 for w, c, n in zip(write, context, shape))


def overhead(block_shape: tuple, context: tuple) -> float:
    """The reference: voxels read per voxel written, for a block inside the volume.

    >>> overhead((32, 128, 128), (20, 20, 20))
    3.8759765625
    """
    return math.prod(b + 2 * c for b, c in zip(block_shape, context)) / math.prod(block_shape)


def _read_cases():
    return [
        ("a block inside the volume", (slice(32, 64), slice(128, 256), slice(128, 256)),
         (8, 16, 16), (128, 512, 512)),
        ("the first block (its read region stops at 0)",
         (slice(0, 32), slice(0, 128), slice(0, 128)), (8, 16, 16), (128, 512, 512)),
        ("the last, smaller block (its read region stops at the volume's end)",
         (slice(96, 100), slice(384, 500), slice(0, 128)), (8, 16, 16), (100, 500, 512)),
        ("no context", (slice(10, 20), slice(5, 9)), (0, 0), (30, 30)),
        ("a context larger than the block", (slice(4, 8), slice(4, 8)), (10, 3), (12, 30)),
    ]


def _as_slices(got, ndim: int) -> tuple:
    if got is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    try:
        got = tuple(got)
    except TypeError:
        raise _Fail(f"return a tuple of slices, one per axis, got a {type(got).__name__}") from None
    if len(got) != ndim or not all(isinstance(s, slice) for s in got):
        raise _Fail(f"return a tuple of {ndim} slices (one per axis), got {got!r}")
    return tuple(slice(int(s.start), int(s.stop)) for s in got)


def _read_body(fn: Callable) -> str:
    for what, write, context, shape in _read_cases():
        got = _as_slices(_call(fn, write, context, shape), len(write))
        want = read_region(write, context, shape)
        if got == want:
            continue
        unclipped = tuple(slice(w.start - c, w.stop + c) for w, c in zip(write, context))
        one_side = tuple(slice(w.start - c, w.stop) for w, c in zip(write, context))
        if len(write) > 1 and got == want[::-1]:
            hint = ("your slices are in the reverse order of the axes: one per axis, in the "
                    "order of write (z, y, x)")
        elif len(write) > 1 and got == read_region(write, context[::-1], shape):
            hint = "context[k] is the context of axis k: zip write, context and shape in order"
        elif len(write) > 1 and got == read_region(write, context, shape[::-1]):
            hint = "shape[k] is the volume's size along axis k: zip write, context and shape in order"
        elif got == unclipped:
            hint = ("a read region cannot start before voxel 0 or end after the volume: clip "
                    "the start at 0 and the stop at the volume's size (max, min)")
        elif any(s.start < 0 for s in got):
            hint = "the start is below 0: clip it, max(0, start - context)"
        elif any(s.stop > n for s, n in zip(got, shape)):
            hint = "the stop is past the volume's end: clip it, min(size, stop + context)"
        elif got == tuple(slice(max(0, s.start), s.stop) for s in one_side):
            hint = "grow the block on both sides: the context is needed before and after it"
        else:
            hint = ("grow every axis by its own context on both sides, then clip to "
                    "[0, size)")
        raise _Fail(f"{what}: write {_fmt(write)}, context {context}, volume {shape}: you read "
                    f"{_fmt(got)}, expected {_fmt(want)}. Hint: {hint}")
    return f"your read regions match in all {len(_read_cases())} cases"


def _fmt(slices) -> str:
    return "[" + ", ".join(f"{s.start}:{s.stop}" for s in slices) + "]"


def _overhead_body(fn: Callable) -> str:
    cases = [((32, 128, 128), (20, 20, 20)), ((64, 256, 256), (20, 20, 20)),
             ((16, 64, 64), (8, 16, 16)), ((100,), (0,))]
    for block, context in cases:
        got = _call(fn, block, context)
        if got is None:
            raise _Fail("your function returned None: did you forget the `return` line?")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise _Fail(f"return one number (voxels read per voxel written), got "
                        f"{type(got).__name__}") from None
        want = overhead(block, context)
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        one_side = math.prod(b + c for b, c in zip(block, context)) / math.prod(block)
        if math.isclose(got, one_side, rel_tol=1e-9):
            hint = ("the context is read on both sides of the block: here context is per "
                    "side (c voxels before the block and c after it; notebook 05's context was "
                    "the total of both sides), so b + 2 * c per axis")
        elif math.isclose(got, 1 / want, rel_tol=1e-9):
            hint = "that is written per read: divide the voxels read by the voxels written"
        elif math.isclose(got, want - 1, rel_tol=1e-9):
            hint = "count every voxel read, the block's own voxels too"
        else:
            hint = "(product over axes of block + 2 * context) / (product of block)"
        raise _Fail(f"block {block}, context {context} on each side: you give {got:.4g}, "
                    f"expected {want:.4g}. Hint: {hint}")
    return "your overheads match for 4 blocks"


def check_read_region(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(write, context, shape) -> read``: the slices a block reads, clipped.

    >>> check_read_region(read_region).passed
    ✅ read_region: correct — your read regions match in all 5 cases
    True

    Used in: notebooks/08_scaling_up
    """
    return _run("read_region", lambda: _read_body(fn), verbose)


def check_overhead(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(block_shape, context) -> float``: voxels read per voxel written.

    >>> check_overhead(overhead).passed
    ✅ overhead: correct — your overheads match for 4 blocks
    True

    Used in: notebooks/08_scaling_up
    """
    return _run("overhead", lambda: _overhead_body(fn), verbose)
