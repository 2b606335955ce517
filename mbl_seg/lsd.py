"""Local shape descriptors (LSDs): what the neighbourhood of a voxel looks like, from labels.

For every voxel inside an object, the part of that object seen through a
Gaussian window of ``sigma`` nm around the voxel is summarised by its
statistics (Sheridan et al., Nature Methods 2023):

==========  ======================  =====================================================
channels    what                    normalised to [0, 1] as
==========  ======================  =====================================================
0-2 (0-1)   offset to the centre    ``0.5 * offset / sigma + 0.5`` per axis
            of mass (z, y, x)
3-5 (2-3)   coordinate variances    ``variance / sigma**2`` per axis
            (zz, yy, xx)
6-8 (4)     Pearson correlations    ``0.5 * r + 0.5``
            (zy, zx, yx)
9   (5)     size                    the Gaussian-weighted fraction of the window
                                    inside the object
==========  ======================  =====================================================

(in brackets: the six channels of 2D labels). Channel order, window (a
Gaussian truncated at 3 sigma, normalised to sum 1, zero outside the volume),
the variance floor of 1e-3 nm² before the correlations, clipping to [0, 1]
and background = 0 are those of the implementation published with the paper
(funkelab/lsd), so our numbers compare with the literature's.

The published implementation filters the whole volume ten times per label,
so its cost grows with labels × volume. Here every object is filtered only in
tiles of its own extent (plus the window's reach), with separable kernels that
give the moments about the window's centre directly; the result is the same
up to float rounding, and the cost grows with the volume the objects cover.

Used in: notebooks/06_lsds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ._validate import as_labels, as_number, as_voxel_size

__all__ = ["lsds", "lsd_channels", "lsd_context", "centre_offsets"]

TRUNCATE = 3.0  # the window ends at 3 sigma, as in the published implementation
_VARIANCE_FLOOR = 1e-3  # nm², below it a variance is taken as this (no 0 / 0 correlations)
_TILE = 48  # sub-grid voxels per tile edge: large objects are filtered tile by tile


def lsd_channels(ndim: int = 3) -> list[str]:
    """Names of the LSD channels for 3D (10) or 2D (6) labels, in order.

    >>> lsd_channels(2)
    ['offset y', 'offset x', 'variance yy', 'variance xx', 'correlation yx', 'size']
    """
    axes = "zyx"[3 - ndim:]
    pairs = [a + b for a, b in itertools.combinations(axes, 2)]
    return ([f"offset {a}" for a in axes] + [f"variance {a}{a}" for a in axes]
            + [f"correlation {p}" for p in pairs] + ["size"])


def lsd_context(sigma, voxel_size: Sequence[float] | None = None, *, downsample: int = 1) -> tuple[int, ...]:
    """Voxels per axis that the LSD window reaches beyond a voxel (the context it needs).

    LSDs of a crop are exact only at least this far from the crop's edges.

    >>> lsd_context(80, (8, 8, 8))
    (30, 30, 30)
    """
    voxel_size = as_voxel_size(voxel_size, 3 if voxel_size is None else len(voxel_size))
    sigma = _as_sigma(sigma, len(voxel_size))
    downsample = as_number(downsample, "downsample", integer=True, positive=True)
    return tuple(_radius(s / (v * downsample)) * downsample + downsample - 1
                 for s, v in zip(sigma, voxel_size))


def lsds(labels: np.ndarray, *, sigma, voxel_size: Sequence[float] | None = None,
         downsample: int = 1) -> np.ndarray:
    """Local shape descriptors of every labelled voxel, float32 ``(10, z, y, x)`` in [0, 1].

    Parameters
    ----------
    labels : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth; 0 = background (all channels 0 there).
    sigma : float or sequence of float
        Width in nm of the Gaussian window (one number, or one per axis).
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) or (y, x).
    downsample : int
        Compute the statistics on every ``downsample``-th voxel along each axis
        (positions ``0, d, 2d, ...``) and give each voxel the values of the
        grid point of its ``d``-block, as the published implementation does:
        about ``d**ndim`` times faster, a little coarser.

    Returns
    -------
    (10, Z, Y, X) or (6, Y, X) ndarray of float32
        Channels as :func:`lsd_channels` names them; see the module docstring
        for their normalisation.

    Examples
    --------
    An object three voxels long: seen from its ends, the centre of mass lies
    inwards; from its middle voxel, nowhere else.

    >>> labels = np.zeros((1, 5), np.uint64); labels[0, 1:4] = 7
    >>> d = lsds(labels, sigma=8, voxel_size=(8, 8))
    >>> d[1].round(3)  # offset along x: 4 nm (sigma / 2) towards the middle -> 0.75
    array([[0.   , 0.752, 0.5  , 0.248, 0.   ]], dtype=float32)
    """
    labels = as_labels(labels)
    voxel_size = as_voxel_size(voxel_size, labels.ndim)
    sigma = _as_sigma(sigma, labels.ndim)
    df = as_number(downsample, "downsample", integer=True, positive=True)
    return _per_object(labels, sigma, voxel_size, df, len(lsd_channels(labels.ndim)),
                       lambda moments: _normalise(moments, sigma))


def centre_offsets(labels: np.ndarray, *, sigma,
                   voxel_size: Sequence[float] | None = None) -> np.ndarray:
    """Offset in nm from every voxel to the centre of mass of its object seen through the window.

    The first LSD channels before their normalisation: for voxel ``v`` of
    object ``l``, ``sum_u w(u - v) [label(u) = l] (x_u - x_v) / sum_u w(u - v) [label(u) = l]``
    with ``w`` the Gaussian window of :func:`lsds` and ``x`` positions in nm.

    Parameters
    ----------
    labels : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth; 0 = background (offset 0 there).
    sigma : float or sequence of float
        Width in nm of the Gaussian window.
    voxel_size : sequence of float, required
        nm per voxel.

    Returns
    -------
    (3, Z, Y, X) or (2, Y, X) ndarray of float32
        Offsets in nm, (z, y, x) or (y, x), not clipped.

    Examples
    --------
    >>> labels = np.zeros((1, 5), np.uint64); labels[0, 1:4] = 7
    >>> centre_offsets(labels, sigma=8, voxel_size=(8, 8))[1].round(2)
    array([[ 0.  ,  4.03,  0.  , -4.03,  0.  ]], dtype=float32)
    """
    labels = as_labels(labels)
    voxel_size = as_voxel_size(voxel_size, labels.ndim)
    sigma = _as_sigma(sigma, labels.ndim)
    ndim = labels.ndim
    return _per_object(labels, sigma, voxel_size, 1, ndim,
                       lambda m: (m[1:1 + ndim] / np.where(m[0] > 0, m[0], 1.0)).astype(np.float32))


def _per_object(labels, sigma, voxel_size, df, channels, finish) -> np.ndarray:
    """Window moments of every object at its own voxels, turned into ``channels`` by ``finish``."""
    ndim = labels.ndim
    grid_nm = tuple(v * df for v in voxel_size)
    kernels = [_moment_kernels(s / g, g) for s, g in zip(sigma, grid_nm)]
    radius = [len(k[0]) // 2 for k in kernels]
    coarse = labels[(slice(None, None, df),) * ndim]
    out = np.zeros((channels,) + labels.shape, np.float32)
    ids, dense = _dense_ids(labels)
    for index, box in enumerate(ndimage.find_objects(dense), start=1):
        if box is None or ids[index] == 0:
            continue
        for full, grid in _tiles(box, df):
            inside = labels[full] == ids[index]
            if not inside.any():
                continue
            if df == 1:
                moments = _object_moments(coarse, ids[index], grid, kernels, radius, inside)
                values = finish(moments[:, inside])
            else:  # each voxel takes the values of its grid point
                points = tuple((where + f.start) // df - g.start
                               for where, f, g in zip(np.nonzero(inside), full, grid))
                needed = np.zeros(tuple(g.stop - g.start for g in grid), bool)
                needed[points] = True
                moments = _object_moments(coarse, ids[index], grid, kernels, radius, needed)
                on_grid = np.zeros((channels,) + needed.shape, np.float32)
                on_grid[:, needed] = finish(moments[:, needed])  # once per grid point
                values = on_grid[(slice(None),) + points]
            out[(slice(None),) + full][:, inside] = values
    return out


def _dense_ids(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ids, dense`` with ``dense`` an int32 image that ``ndimage.find_objects`` takes and
    ``ids[dense] == labels``: the labels themselves where they are small numbers (no sort)."""
    top = int(labels.max()) if labels.size else 0
    if top < min(2 ** 31 - 1, 4 * labels.size + 1024):
        return np.arange(top + 1, dtype=np.uint64), labels.astype(np.int32)
    ids, inverse = np.unique(labels, return_inverse=True)
    return np.concatenate([np.zeros(1, np.uint64), ids]), inverse.reshape(labels.shape).astype(
        np.int32) + 1


def _as_sigma(sigma, ndim: int) -> tuple[float, ...]:
    if sigma is None:
        raise TypeError("sigma is required: the width of the LSD window in nm (e.g. 80)")
    return as_voxel_size(sigma, ndim, name="sigma")


def _radius(sigma_voxels: float) -> int:
    """Reach of the truncated window in grid voxels (scipy's rule for gaussian_filter)."""
    return int(TRUNCATE * sigma_voxels + 0.5)


def _moment_kernels(sigma_voxels: float, step_nm: float) -> tuple[np.ndarray, ...]:
    """1D kernels w(t), t·w(t), t²·w(t) (t in nm from the centre), w normalised to sum 1."""
    r = _radius(sigma_voxels)
    t = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma_voxels) ** 2)
    w /= w.sum()
    t *= step_nm
    return w, t * w, t * t * w


def _powers(ndim: int) -> list[tuple[int, ...]]:
    """Exponents of the moments kept: count, first moments, then second (zz, yy, xx, zy, zx, yx)."""
    eye = np.eye(ndim, dtype=int)
    first = [tuple(e) for e in eye]
    squares = [tuple(2 * e) for e in eye]
    mixed = [tuple(eye[a] + eye[b]) for a, b in itertools.combinations(range(ndim), 2)]
    return [(0,) * ndim] + first + squares + mixed


def _tiles(box: tuple[slice, ...], df: int):
    """Tiles of an object's bounding box: (full-resolution slices, grid slices)."""
    grid_lo = [s.start // df for s in box]
    grid_hi = [(s.stop - 1) // df + 1 for s in box]
    starts = [range(lo, hi, _TILE) for lo, hi in zip(grid_lo, grid_hi)]
    for corner in itertools.product(*starts):
        grid = tuple(slice(c, min(c + _TILE, hi)) for c, hi in zip(corner, grid_hi))
        full = tuple(slice(max(g.start * df, s.start), min(g.stop * df, s.stop))
                     for g, s in zip(grid, box))
        yield full, grid


def _object_moments(coarse, label, grid, kernels, radius, needed) -> np.ndarray:
    """Window moments of one object (about each grid point) over one tile of the grid.

    Correct at the grid points where ``needed`` (a boolean image of the tile)
    is True; elsewhere they may be left 0. float64: the variances are
    differences of nearly equal numbers where an object is thin, and float32
    would turn their rounding into correlations.
    """
    ndim = coarse.ndim
    crop = tuple(slice(max(0, g.start - r), min(n, g.stop + r))
                 for g, r, n in zip(grid, radius, coarse.shape))
    mask = (coarse[crop] == label).astype(np.float64)
    # separable passes, last axis first; after each pass keep only the part the
    # next ones need (the tile along that axis), which keeps the work near the object
    partial = {(): mask}
    for axis in range(ndim - 1, -1, -1):
        count = partial[(0,) * (ndim - 1 - axis)]
        # lines along `axis` worth filtering: not all 0, and crossing a needed point
        # along the axes already cut to the tile (the later passes read nothing else)
        lines = count.any(axis=axis)
        if axis < ndim - 1:
            wanted = needed.any(axis=tuple(range(axis + 1)))
            lines &= wanted.reshape((1,) * axis + wanted.shape)
        cut = slice(grid[axis].start - crop[axis].start, grid[axis].stop - crop[axis].start)
        done = {}
        for key, array in partial.items():
            for power in range(3 - sum(key)):
                done[(power,) + key] = _filter_lines(array, kernels[axis][power], axis, lines, cut)
        partial = done
    return np.stack([partial[p] for p in _powers(ndim)])


def _filter_lines(array: np.ndarray, kernel: np.ndarray, axis: int, lines: np.ndarray,
                  cut: slice) -> np.ndarray:
    """Correlate the selected lines along ``axis`` (zero padding), cut to ``cut`` there; other
    lines are 0."""
    chosen = lines.reshape(-1)
    if chosen.mean() > 0.5:  # most lines: filtering them all is cheaper than gathering
        out = ndimage.correlate1d(array, kernel, axis=axis, mode="constant", cval=0.0)
        return out[(slice(None),) * axis + (cut,)]
    moved = np.moveaxis(array, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    length = len(range(*cut.indices(moved.shape[-1])))
    out = np.zeros((flat.shape[0], length))
    if chosen.any():
        out[chosen] = ndimage.correlate1d(flat[chosen], kernel, axis=-1, mode="constant",
                                          cval=0.0)[:, cut]
    return np.moveaxis(out.reshape(moved.shape[:-1] + (length,)), -1, axis)


def _normalise(moments: np.ndarray, sigma) -> np.ndarray:
    """From window moments about each voxel, ``(n_moments, n_voxels)``, to the LSD channels."""
    ndim = len(sigma)
    # with downsampling a voxel's grid point may see none of its object: no
    # statistics there, so neutral values (offset 0.5, variance 0, correlation 0.5, size 0)
    count = np.where(moments[0] > 0, moments[0], 1.0)
    mean = moments[1:1 + ndim] / count  # offset from the voxel to the centre of mass, nm
    second = moments[1 + ndim:] / count
    pairs = list(itertools.combinations(range(ndim), 2))
    variance = np.maximum(second[:ndim] - mean ** 2, _VARIANCE_FLOOR)
    pearson = [(second[ndim + k] - mean[a] * mean[b]) / np.sqrt(variance[a] * variance[b])
               for k, (a, b) in enumerate(pairs)]
    scale = np.asarray(sigma)[:, None]
    out = np.concatenate([0.5 * mean / scale + 0.5, variance / scale ** 2,
                          0.5 * np.asarray(pearson).reshape(len(pairs), -1) + 0.5, moments[:1]])
    return np.clip(out, 0.0, 1.0).astype(np.float32)
