"""Input checks shared by the public functions of mbl_seg.

Every public function validates what it is given and raises a ``TypeError``
(wrong kind of object or dtype) or ``ValueError`` (wrong shape, value or
range) that says what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["as_labels", "as_image", "as_voxel_size", "same_shape"]


def as_labels(labels, *, name: str = "labels", ndim: Sequence[int] = (2, 3)) -> np.ndarray:
    """Return ``labels`` as a uint64 array after checking it is a label image.

    Accepts any integer or boolean array with non-negative values; refuses
    floats (a probability map passed by mistake) and negative ids.
    """
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(labels).__name__}")
    if labels.ndim not in ndim:
        raise ValueError(
            f"{name} must have {_dims(ndim)} dimensions ((z, y, x) or (y, x)), "
            f"got shape {labels.shape}"
        )
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


def as_image(image, *, name: str = "raw", ndim: Sequence[int] = (2, 3)) -> np.ndarray:
    """Check that ``image`` is a real-valued (z, y, x) or (y, x) array and return it."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim not in ndim:
        raise ValueError(
            f"{name} must have {_dims(ndim)} dimensions ((z, y, x) or (y, x)), "
            f"got shape {image.shape}"
        )
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {image.dtype}")
    return image


def as_voxel_size(voxel_size, ndim: int, *, name: str = "voxel_size") -> tuple[float, ...]:
    """Return ``voxel_size`` as a tuple of ``ndim`` positive floats (nm, axis order z, y, x)."""
    if np.isscalar(voxel_size):
        voxel_size = (voxel_size,) * ndim
    try:
        values = tuple(float(v) for v in voxel_size)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a sequence of {ndim} numbers in nm (z, y, x), got {voxel_size!r}"
        ) from None
    if len(values) != ndim:
        raise ValueError(
            f"{name} must have one entry per axis ({ndim}, order z, y, x), got {voxel_size!r}"
        )
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"{name} entries must be positive finite nm, got {voxel_size!r}")
    return values


def same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    """Raise a ``ValueError`` if two arrays do not have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, "
            f"got {a.shape} and {b.shape}"
        )


def _dims(ndim: Sequence[int]) -> str:
    return " or ".join(str(n) for n in ndim)
