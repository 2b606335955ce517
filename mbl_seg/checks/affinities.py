"""Self-checks for the affinity exercise: affinities from labels for any offsets.

Used in: notebooks/03_affinities
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..targets import affinities, offset_slices
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_affinities"]

_AXES = ("y", "x")


def _cases() -> list[tuple[np.ndarray, list[tuple[int, int]]]]:
    rng = np.random.default_rng(3)
    blocks = np.kron(rng.integers(0, 4, size=(4, 5)), np.ones((2, 2), int)).astype(np.uint64)
    blocks[0, :3] = 0  # some background next to objects
    return [
        (blocks, [(-1, 0), (0, -1)]),
        (blocks, [(0, -1), (-3, 0), (2, 1)]),
        (np.full((5, 6), 7, np.uint64), [(-1, 0), (0, -2)]),
    ]


def _same_label(labels, offset, *, background: bool, wrap: bool) -> np.ndarray:
    if wrap:
        partner = np.roll(labels, [-o for o in offset], axis=(0, 1))
        out = labels == partner
        return out & (labels != 0) if not background else out
    out = np.zeros(labels.shape, bool)
    a, b = offset_slices(labels.shape, offset)
    out[a] = labels[a] == labels[b]
    if not background:
        out[a] &= labels[a] != 0
    return out


def _mistakes(labels, offset) -> dict[str, np.ndarray]:
    ref = affinities(labels, [offset])[0]
    flipped = affinities(labels, [tuple(-o for o in offset)])[0]
    return {
        "flipped": flipped,
        "background": _same_label(labels, offset, background=True, wrap=False),
        "wrap": _same_label(labels, offset, background=False, wrap=True),
        "wrap and background": _same_label(labels, offset, background=True, wrap=True),
        "inverted": 1 - ref,
    }


def _hint(name: str, offset) -> str:
    axis = _AXES[int(np.flatnonzero(offset)[0])] if np.count_nonzero(offset) == 1 else "y/x"
    return {
        "flipped": f"your affinities are shifted along {axis}: for offset {offset} the value "
                   f"at i must describe the edge between i and i + offset (i.e. compare "
                   f"labels[i] with labels[i + offset]), you compared with i - offset",
        "background": "two background voxels (label 0) are not 'the same object': the affinity "
                      "is 1 only where both labels are equal *and* non-zero",
        "wrap": "np.roll wraps around: an edge whose partner i + offset is outside the image "
                "must get 0, not the label from the other side",
        "wrap and background": "np.roll wraps around (edges leaving the image must be 0) and "
                               "background (label 0) is never affine",
        "inverted": "you returned boundaries (1 = different): affinities are 1 for the same object",
    }[name]


def _body(fn: Callable) -> str:
    for labels, offsets in _cases():
        got = _call(fn, labels, list(offsets))
        if got is None:
            raise _Fail("your function returned None: did you forget the `return` line?")
        got = np.asarray(got)
        want = affinities(labels, offsets)
        if got.shape != want.shape:
            hint = (" — put the channel first: (len(offsets), y, x)"
                    if got.shape == want.shape[1:] + want.shape[:1] else "")
            raise _Fail(f"for {len(offsets)} offsets on a {labels.shape} image your array has "
                        f"shape {got.shape}, expected {want.shape}{hint}")
        for k, offset in enumerate(offsets):
            if np.array_equal(got[k].astype(np.float32), want[k]):
                continue
            named = [n for n, wrong in _mistakes(labels, offset).items()
                     if np.array_equal(got[k].astype(np.float32), wrong.astype(np.float32))]
            hint = (_hint(named[0], offset) if named else
                    "affs[k][i] = 1 if labels[i] == labels[i + offsets[k]] != 0 and i + "
                    "offsets[k] is inside the image, else 0")
            raise _Fail(f"channel {k} (offset {offset}) is wrong. Hint: {hint}")
    return f"your affinities match for {sum(len(o) for _, o in _cases())} offsets on 3 images"


def check_affinities(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(labels, offsets) -> affs``: affinities of a 2D label image.

    ``affs[k][i]`` is 1 where voxel ``i`` and voxel ``i + offsets[k]`` carry the
    same non-zero label, 0 otherwise (also where ``i + offsets[k]`` is outside
    the image); shape ``(len(offsets), y, x)``.

    Examples
    --------
    >>> check_affinities(affinities).passed
    ✅ affinities: correct — your affinities match for 7 offsets on 3 images
    True

    Used in: notebooks/03_affinities
    """
    return _run("affinities", lambda: _body(fn), verbose)
