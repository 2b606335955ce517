"""Elastic deformation, smooth in nm, computed on the sampled region only.

Random displacements are drawn on a coarse grid of control points ``spacing``
nm apart (normal, ``sigma`` nm standard deviation, clipped at 3 sigma) and
interpolated to every voxel with cubic B-splines, so the field is smooth in
nm whatever the voxel size (anisotropic data: give ``sigma`` per axis, e.g. 0
along z for serial sections). Each voxel of the result takes its value from
its displaced position in the input: raw by linear interpolation, labels and
the known-mask from the nearest voxel (ids must never be averaged).

No displacement is longer than :meth:`Elastic.margin` voxels, so the pipeline
reads a region grown by that margin, deforms it and keeps the middle: only the
sampled region is ever deformed, never the whole volume.

Used in: notebooks/05_3d_unet.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from scipy import ndimage

from .._validate import as_offset, as_voxel_size
from .sources import Sample

__all__ = ["displacement_field", "Elastic"]

_CLIP = 3.0  # displacements are clipped at 3 sigma: the margin to read is known in advance
_SIGMA = 16.0  # nm, the default displacement (along the fine axes)
_COARSE = 2  # an axis with voxels this many times the finest one is "coarse" (z of ssSEM)


def displacement_field(shape: Sequence[int], *, voxel_size: Sequence[float],
                       spacing: Sequence[float] | float, sigma: Sequence[float] | float,
                       rng: np.random.Generator) -> np.ndarray:
    """A random smooth displacement for every voxel of ``shape``, in voxels.

    Parameters
    ----------
    shape : tuple of 3 ints
        (z, y, x) voxels.
    voxel_size : sequence of 3 floats
        nm per voxel (z, y, x).
    spacing : float or sequence of 3 floats
        nm between control points, per axis.
    sigma : float or sequence of 3 floats
        Standard deviation (nm) of each displacement component at the control
        points; clipped at 3 sigma. 0: no displacement along that axis.
    rng : numpy.random.Generator

    Returns
    -------
    (3, Z, Y, X) ndarray of float32
        Displacement along z, y and x, in voxels of each axis.

    Examples
    --------
    >>> d = displacement_field((4, 8, 8), voxel_size=(40, 8, 8), spacing=64, sigma=(0, 16, 16),
    ...                        rng=np.random.default_rng(0))
    >>> d.shape, float(abs(d[0]).max()), bool(abs(d[1:]).max() <= 3 * 16 / 8)
    ((3, 4, 8, 8), 0.0, True)
    """
    shape = tuple(int(n) for n in shape)
    voxel_size = np.array(as_voxel_size(voxel_size, 3))
    spacing = np.array(as_voxel_size(spacing, 3, name="spacing"))
    sigma = np.array(_nonnegative(sigma, "sigma"))
    weights = [_bspline_weights(n, s / v) for n, s, v in zip(shape, spacing, voxel_size)]
    field = np.zeros((3, *shape), np.float32)
    scale = sigma / voxel_size  # voxels
    coarse = rng.standard_normal((3, *(w.shape[1] for w in weights)), dtype=np.float32)
    for axis in np.flatnonzero(scale > 0):
        grid = np.clip(coarse[axis], -_CLIP, _CLIP) * np.float32(scale[axis])
        # separable interpolation, one axis at a time (small matrix products)
        grid = np.tensordot(weights[0], grid, axes=(1, 0))  # (z, ky, kx)
        grid = np.matmul(weights[1], grid)  # (z, y, kx)
        np.matmul(grid, weights[2].T, out=field[axis])  # (z, y, x)
    return field


@dataclasses.dataclass(frozen=True)
class Elastic:
    """Deform a sample smoothly: ``Elastic(spacing, sigma)(sample, rng)``, cropped by the margin.

    The sample must come with ``margin(voxel_size)`` voxels of context on every
    side (the pipeline reads them when Elastic is its first augmentation); the
    result is that much smaller. ``sigma = 0`` gives back the middle unchanged.

    Parameters
    ----------
    spacing : float or tuple of 3 floats
        nm between control points (z, y, x).
    sigma : float or tuple of 3 floats, optional
        Standard deviation of the displacement (nm) per axis. Default: 16 nm
        along every axis of isotropic data, and 0 along an axis with voxels
        at least twice the finest (z of serial sections, which are cut, not
        bent: no section is blended into its neighbours).

    Examples
    --------
    >>> from mbl_seg.pipeline import Sample
    >>> elastic = Elastic(spacing=64, sigma=(0, 8, 8))
    >>> elastic.margin((40, 4, 4))
    (0, 6, 6)
    >>> Elastic().margin((8, 8, 8)), Elastic().margin((36, 12, 12))
    ((6, 6, 6), (0, 4, 4))
    >>> s = Sample(np.zeros((2, 20, 20), np.float32), np.ones((2, 20, 20), np.uint64),
    ...            np.ones((2, 20, 20), bool), (40, 4, 4))
    >>> elastic(s, np.random.default_rng(0)).shape
    (2, 8, 8)
    """

    spacing: float | tuple[float, float, float] = 160.0
    sigma: float | tuple[float, float, float] | None = None
    stage: ClassVar[str] = "elastic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "spacing", as_voxel_size(self.spacing, 3, name="spacing"))
        if self.sigma is not None:
            object.__setattr__(self, "sigma", _nonnegative(self.sigma, "sigma"))

    def sigma_for(self, voxel_size: Sequence[float]) -> tuple[float, float, float]:
        """The displacement's standard deviation (nm, z, y, x) for this voxel size."""
        voxel_size = as_voxel_size(voxel_size, 3)
        if self.sigma is not None:
            return self.sigma
        return tuple(0.0 if v >= _COARSE * min(voxel_size) else _SIGMA for v in voxel_size)

    def margin(self, voxel_size: Sequence[float]) -> tuple[int, int, int]:
        """Voxels of context needed on each side: the longest displacement, rounded up."""
        voxel_size = as_voxel_size(voxel_size, 3)
        return tuple(math.ceil(_CLIP * s / v - 1e-9)
                     for s, v in zip(self.sigma_for(voxel_size), voxel_size))

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        margin = self.margin(sample.voxel_size)
        shape = tuple(n - 2 * m for n, m in zip(sample.shape, margin))
        if min(shape) < 1:
            raise ValueError(f"Elastic needs {margin} voxels of context on each side, the "
                             f"sample has shape {sample.shape}: read a larger region")
        coords = displacement_field(shape, voxel_size=sample.voxel_size, spacing=self.spacing,
                                    sigma=self.sigma_for(sample.voxel_size), rng=rng)
        for axis, (n, m) in enumerate(zip(shape, margin)):
            here = np.arange(m, m + n, dtype=np.float32).reshape([-1 if a == axis else 1
                                                                  for a in range(3)])
            coords[axis] += here
        raw = ndimage.map_coordinates(sample.raw, coords, order=1, output=np.float32,
                                      mode="nearest", prefilter=False)
        nearest = _nearest(coords, sample.shape)
        return sample.replace(raw=raw, labels=sample.labels.reshape(-1).take(nearest),
                              known=sample.known.reshape(-1).take(nearest))


def _nearest(coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices of the voxels nearest to ``coords`` (3, ...), clipped to the volume."""
    flat = np.zeros(coords.shape[1:], np.intp)
    for axis, n in enumerate(shape):
        index = np.clip(np.rint(coords[axis]), 0, n - 1).astype(np.intp)
        flat *= n
        flat += index
    return flat


def _bspline_weights(n: int, step: float) -> np.ndarray:
    """(n, k) cubic B-spline weights of k control points ``step`` voxels apart, for n voxels.

    Control points sit at -1, 0, 1, ... steps: every voxel has its 4 around it, and
    each row sums to 1, so a field is never longer than its longest control value.
    """
    t = np.arange(n) / step
    centres = np.arange(int(np.floor(t[-1])) + 4) - 1
    d = np.abs(t[:, None] - centres[None, :])
    w = np.where(d < 1, 2 / 3 - d**2 + d**3 / 2, np.where(d < 2, (2 - d) ** 3 / 6, 0.0))
    return w.astype(np.float32)


def _nonnegative(value, name: str) -> tuple[float, float, float]:
    values = as_offset(value, 3, name=name)
    if min(values) < 0:
        raise ValueError(f"{name} must be >= 0 nm per axis (z, y, x), got {value!r}")
    return values
