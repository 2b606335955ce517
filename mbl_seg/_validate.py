"""Input checks shared by the public functions of mbl_seg.

Every public function validates what it is given and raises a ``TypeError``
(wrong kind of object or dtype) or ``ValueError`` (wrong shape, value or
range) that says what was expected and what came.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = ["as_labels", "as_image", "as_voxel_size", "as_offset", "as_number",
           "as_affinities", "check_channels", "as_boundary_map", "same_shape", "as_metrics",
           "as_plain"]

# how far a float map may stray outside [0, 1] (rounding) before it is refused
_ROUNDING = 1e-3

# affinities with more channels than this are taken for a channel-last array
_MAX_CHANNELS = 32

_LAYOUTS = {2: "(y, x)", 3: "(z, y, x)", 4: "(c, z, y, x)"}

_AFFINITY_LAYOUT = "(c, y, x) or (c, z, y, x) with c = the number of offsets"


def as_labels(labels, *, name: str = "labels", ndim: Sequence[int] = (2, 3)) -> np.ndarray:
    """Return ``labels`` as a uint64 array after checking it is a label image.

    Accepts any integer or boolean array with non-negative values; refuses
    floats (a probability map passed by mistake) and negative ids.
    """
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(labels).__name__}")
    _check_ndim(labels, name, ndim)
    if labels.dtype == bool:
        return labels.astype(np.uint64)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"{name} must be an integer label image (uint64, 0 = background), "
            f"got dtype {labels.dtype}; did you pass a probability map?"
        )
    if np.issubdtype(labels.dtype, np.signedinteger) and labels.size and labels.min() < 0:
        raise ValueError(f"{name} must be non-negative (0 = background), found {labels.min()}")
    return labels.astype(np.uint64, copy=False)


def as_image(image, *, name: str = "raw", ndim: Sequence[int] = (2, 3),
             layout: str | None = None) -> np.ndarray:
    """Check that ``image`` is a real-valued (z, y, x) or (y, x) array and return it.

    ``layout`` names the axes in the message (default from ``ndim``).
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    _check_ndim(image, name, ndim, layout)
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {image.dtype}")
    return image


def as_number(value, name: str, *, integer: bool = False, positive: bool = False,
              nonnegative: bool = False, unit: str = "") -> int | float:
    """``value`` as a Python int or float, checked to be one finite number.

    Python and numpy numbers and 0-d arrays or tensors are all taken (``0.5``,
    ``np.float32(0.5)``, ``np.array(0.5)``, ``torch.tensor(0.5)``): numpy and
    torch code often hand a number back in one of those forms. ``TypeError``
    if it is no number at all, ``ValueError`` if it is one that does not fit
    (nan, inf, a fraction where an int is needed, True/False, out of range).

    >>> as_number(np.array(16.0), "h", positive=True, unit="nm")
    16.0
    >>> as_number(np.int64(100), "iterations", integer=True, positive=True)
    100
    """
    what = _number_kind(integer=integer, positive=positive, nonnegative=nonnegative, unit=unit)
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if not isinstance(value, numbers.Real):
        shown = (f"an array of shape {tuple(value.shape)}" if hasattr(value, "shape")
                 else repr(value))
        raise TypeError(f"{name} must be {what}, got {shown} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {what}, got {float(value)}")
    if integer and not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {what}, got {float(value)}")
    value = int(value) if integer else float(value)
    if (positive and value <= 0) or (nonnegative and value < 0):
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def as_voxel_size(voxel_size, ndim: int, *, name: str = "voxel_size") -> tuple[float, ...]:
    """Return ``voxel_size`` as a tuple of ``ndim`` positive floats (nm, axis order z, y, x).

    There is no default: where a parameter is in nm, a voxel size of 1 nm
    guessed in silence would make it mean voxels instead.
    """
    if voxel_size is None:
        axes = "(z, y, x)" if ndim == 3 else "(y, x)" if ndim == 2 else f"{ndim} axes"
        raise TypeError(
            f"{name} is required: nm per voxel, {axes}, because distances and scales here are "
            f"in nm; e.g. {name}=dataset.voxel_size (for one section: dataset.voxel_size[1:])")
    return _per_axis(voxel_size, ndim, name=name, positive=True)


def as_offset(offset, ndim: int, *, name: str = "offset") -> tuple[float, ...]:
    """Return ``offset`` (world position in nm, z, y, x) as a tuple of ``ndim`` finite floats."""
    return _per_axis(offset, ndim, name=name, positive=False)


def as_affinities(affs, *, name: str = "affs", channels: int | None = None) -> np.ndarray:
    """Check that ``affs`` are affinities and return them.

    Affinities are float in [0, 1] (1 = same object), channels first:
    (c, y, x) or (c, z, y, x) with c = the number of offsets (``channels`` when
    it is known). Refuses integers, nan, values outside [0, 1] (logits) and
    arrays that look channel-last.
    """
    if not isinstance(affs, np.ndarray):
        raise TypeError(f"{name} must be a numpy array {_AFFINITY_LAYOUT}, "
                        f"got {type(affs).__name__}")
    if affs.ndim not in (3, 4):
        raise ValueError(f"{name} must be float affinities {_AFFINITY_LAYOUT}, "
                         f"got shape {affs.shape}")
    if not np.issubdtype(affs.dtype, np.floating):
        raise TypeError(f"{name} must be float affinities in [0, 1] (1 = same object), got "
                        f"dtype {affs.dtype}; for 0/1 integer affinities use "
                        f"{name}.astype(np.float32)")
    check_channels(affs, channels, name=name)
    _check_unit_range(affs, name, f"{name} must be affinities, float in [0, 1] with 1 = "
                                  "same object", "")
    return affs


def check_channels(affs: np.ndarray, channels: int | None = None, *,
                   name: str = "affs") -> None:
    """Refuse affinities whose channels (axis 0) do not fit: channel-last, or not ``channels``.

    Without ``channels`` (the number of offsets), an array is taken for
    channel-last when its last axis holds the nearest-neighbour channels of its
    other axes and its first axis does not, or when its first axis is too long
    to be channels at all.
    """
    c, last = affs.shape[0], affs.shape[-1]
    if channels is not None:
        looks_last = c != channels and last == channels
    else:  # e.g. (z, y, x, 3): not (3, z, y, 2), a thin volume given channels first
        nearest = affs.ndim - 1
        looks_last = (last == nearest and c != nearest) or (c > _MAX_CHANNELS and last < c)
    if looks_last:
        raise ValueError(f"{name} must be channels first, {_AFFINITY_LAYOUT}, got shape "
                         f"{affs.shape}, which looks channel-last: use "
                         f"np.moveaxis({name}, -1, 0)")
    if channels is not None and c != channels:
        raise ValueError(f"{name} has {c} channels (shape {affs.shape}) but there are "
                         f"{channels} offsets: {_AFFINITY_LAYOUT}")


def as_boundary_map(boundaries, *, name: str = "boundaries") -> np.ndarray:
    """Check that ``boundaries`` is a boundary map and return it as float32.

    A boundary map is float in [0, 1] with 1 = boundary (a prediction or
    :func:`mbl_seg.targets.boundaries`); bool and 0/1 integer maps are taken
    as they are. An 8-bit image (0-255), a label image or logits are refused.
    """
    boundaries = as_image(boundaries, name=name)
    expected = f"{name} must be a boundary map, float in [0, 1] with 1 = boundary"
    if np.issubdtype(boundaries.dtype, np.integer) and boundaries.size:
        lo, hi = boundaries.min(), boundaries.max()
        if lo < 0 or hi > 1:
            raise ValueError(
                f"{expected}, got dtype {boundaries.dtype} with values {lo} to {hi}: an 8-bit "
                f"image? divide it by 255 ({name} / 255); a label image? make its boundary "
                "map with mbl_seg.targets.boundaries(labels)")
    elif np.issubdtype(boundaries.dtype, np.complexfloating):
        raise TypeError(f"{expected}, got dtype {boundaries.dtype}")
    boundaries = boundaries.astype(np.float32)
    _check_unit_range(boundaries, name, expected, "; an image in 0-255? divide it by 255")
    return boundaries


def same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    """Raise a ``ValueError`` if two arrays do not have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, "
            f"got {a.shape} and {b.shape}"
        )


def _check_ndim(array: np.ndarray, name: str, ndim: Sequence[int],
                layout: str | None = None) -> None:
    if array.ndim not in ndim:
        layout = layout or " or ".join(_LAYOUTS.get(n, f"{n}D") for n in sorted(ndim))
        count = " or ".join(str(n) for n in ndim)
        raise ValueError(f"{name} must have {count} dimensions, {layout}, "
                         f"got shape {array.shape}")


def _check_unit_range(array: np.ndarray, name: str, expected: str, hint: str) -> None:
    """Refuse nan / inf and values outside [0, 1] (beyond rounding)."""
    if array.size == 0:
        return
    lo, hi = float(array.min()), float(array.max())  # nan or inf shows in one of them
    if not (np.isfinite(lo) and np.isfinite(hi)):
        finite = np.count_nonzero(np.isfinite(array))
        raise ValueError(f"{name} contain nan or inf ({array.size - finite} "
                         f"of {array.size} values): expected values in [0, 1]")
    if lo < -_ROUNDING or hi > 1 + _ROUNDING:
        raise ValueError(
            f"{expected}, got values from {lo:.4g} to {hi:.4g}: "
            "network logits? apply a sigmoid first (torch.sigmoid, or predict's default "
            f"activation){hint}")


def _per_axis(values, ndim: int, *, name: str, positive: bool) -> tuple[float, ...]:
    """``values`` (one number, or one per axis) as ``ndim`` finite floats in nm."""
    wrong = TypeError(
        f"{name} must be a sequence of {ndim} numbers in nm (z, y, x), got {values!r}")
    if isinstance(values, (str, bytes)):  # "888" would pass as (8, 8, 8)
        raise wrong
    if isinstance(values, numbers.Number) or getattr(values, "ndim", None) == 0:
        values = (values,) * ndim
    try:
        floats = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise wrong from None
    if len(floats) != ndim:
        raise ValueError(
            f"{name} must have one entry per axis ({ndim}, order z, y, x), got {values!r}"
        )
    if not all(np.isfinite(v) and (v > 0 or not positive) for v in floats):
        kind = "positive finite" if positive else "finite"
        raise ValueError(f"{name} entries must be {kind} nm, got {values!r}")
    return floats


def _number_kind(*, integer: bool, positive: bool, nonnegative: bool, unit: str) -> str:
    if integer:
        return "an int >= 1" if positive else "an int >= 0" if nonnegative else "an int"
    of = f" of {unit}" if unit else ""
    if positive:
        return f"a positive number{of}"
    return f"a number{of} >= 0" if nonnegative else f"a finite number{of}"


def as_metrics(value, what: str) -> dict[str, float]:
    """A validation result as ``{name: float}``; a bare number is named "validation"."""
    if isinstance(value, Mapping):
        try:
            return {str(k): float(v) for k, v in value.items()}
        except (TypeError, ValueError):
            pass
    else:
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            return {"validation": float(value)}
    raise TypeError(f"{what} must return a number or a dict of numbers, e.g. {{'voi': 1.2}}, "
                    f"got {value!r}")


def stable_repr(value) -> str:
    """``repr(value)``, or only its type name where the repr holds a memory address."""
    text = repr(value)
    return type(value).__qualname__ if " at 0x" in text else text


def as_plain(value, *, other: Callable = stable_repr):
    """``value`` as plain Python (dicts, lists, numbers, strings), e.g. for JSON or comparing.

    Mappings and sequences are converted item by item, numpy scalars and arrays
    (and torch tensors) by ``tolist()``; any other leaf goes through ``other``
    (default: its repr, without memory addresses).

    >>> as_plain({"lr": np.float32(0.5), "shape": (2, np.int64(3))})
    {'lr': 0.5, 'shape': [2, 3]}
    """
    if isinstance(value, Mapping):
        return {str(k): as_plain(v, other=other) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_plain(v, other=other) for v in value]
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, np.generic) or (hasattr(value, "tolist") and hasattr(value, "ndim")):
        return as_plain(value.tolist(), other=other)
    return other(value)
