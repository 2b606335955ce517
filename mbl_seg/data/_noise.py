"""Smooth random fields, the raw material of the synthetic geometry and texture."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(
    shape: tuple[int, ...],
    voxel_size: tuple[float, ...],
    scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A float32 field of zero mean, unit variance, varying over ``scale`` nm.

    White noise is drawn on a lattice of spacing ``scale / 2`` nm, smoothed
    there and interpolated up to ``shape``: far cheaper than filtering a
    full-resolution noise volume with a wide Gaussian.
    """
    extent = np.asarray(shape) * np.asarray(voxel_size)
    lattice = np.maximum(np.ceil(extent / (scale / 2.0)).astype(int) + 3, 4)
    coarse = ndimage.gaussian_filter(
        rng.standard_normal(tuple(lattice)).astype(np.float32), 1.0, mode="wrap"
    )
    coarse /= coarse.std() + 1e-12
    # one coordinate vector per axis: fine voxel centre -> lattice position
    axes = [
        (np.arange(n) + 0.5) * v / (scale / 2.0) + 1.0
        for n, v in zip(shape, voxel_size)
    ]
    return _interp_separable(coarse, axes)


def _interp_separable(coarse: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """Linear interpolation of ``coarse`` at the outer product of ``axes``."""
    out = coarse
    for axis, pos in enumerate(axes):
        lo = np.clip(np.floor(pos).astype(int), 0, out.shape[axis] - 2)
        frac = (pos - lo).astype(np.float32)
        shape = [1] * out.ndim
        shape[axis] = len(pos)
        frac = frac.reshape(shape)
        out = np.take(out, lo, axis=axis) * (1 - frac) + np.take(out, lo + 1, axis=axis) * frac
    return out.astype(np.float32, copy=False)
