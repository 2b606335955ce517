"""Training targets computed from ground-truth labels: boundaries, distances, affinities, LSDs.

All functions take labels as ``(z, y, x)`` or ``(y, x)`` integer arrays with
0 = background / extracellular space, and give float32 maps of the same
spatial shape (affinities: one channel per offset in front).

The affinity convention (the same as gunpowder and waterz read it):
``affs[k][i]`` describes the edge between voxel ``i`` and voxel
``i + offsets[k]``. With the nearest-neighbour offsets ``(-1, 0, 0)``,
``(0, -1, 0)``, ``(0, 0, -1)`` the affinity stored at ``z`` links ``z`` and
``z - 1``; the first plane along that axis has no partner and gets 0.

Local shape descriptors (:func:`lsds`) are computed in :mod:`mbl_seg.lsd`.

Used in: notebooks/01_classical_boundaries, 02_deep_boundaries, 03_affinities
and every later training notebook; ``lsds`` in 06_lsds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ._validate import as_labels, as_number, as_voxel_size
from .lsd import lsd_channels, lsd_context, lsds

__all__ = [
    "boundaries", "distance_transform", "nearest_offsets", "affinities", "affinity_mask",
    "as_offsets", "offset_slices", "face_neighbours", "lsds", "lsd_channels", "lsd_context",
]


def _offsets_within(radius_nm: float, voxel_size: tuple[float, ...]) -> list[tuple[int, ...]]:
    """The face offsets, plus every other integer offset at most ``radius_nm`` long.

    The faces always count, whatever the voxel size: two voxels that share a
    face and belong to different objects are both on the boundary, also across
    the coarse z axis of anisotropic data, where a radius in nm would not reach.
    """
    reach = [max(1, int(radius_nm // v)) for v in voxel_size]
    found = []
    for off in itertools.product(*(range(-r, r + 1) for r in reach)):
        length = math.sqrt(sum((o * v) ** 2 for o, v in zip(off, voxel_size)))
        face = sum(o != 0 for o in off) == 1 and max(map(abs, off)) == 1
        if any(off) and (face or length <= radius_nm + 1e-9):
            found.append(off)
    return found


def offset_slices(shape: tuple[int, ...], offset: Sequence[int]) -> tuple[tuple, tuple]:
    """Slices ``a, b`` such that ``x[b]`` is the neighbour at ``+offset`` of ``x[a]``.

    An offset as long as the axis, or longer, leaves no pair: both slices are empty.

    >>> offset_slices((4,), (-1,))
    ((slice(1, 4, None),), (slice(0, 3, None),))
    """
    offset = [max(-n, min(n, o)) for o, n in zip(offset, shape)]
    a = tuple(slice(max(0, -o), n - max(0, o)) for o, n in zip(offset, shape))
    b = tuple(slice(max(0, o), n - max(0, -o)) for o, n in zip(offset, shape))
    return a, b


def boundaries(labels: np.ndarray, *, thickness: float | None = None,
               voxel_size: Sequence[float] | None = None) -> np.ndarray:
    """Boundary map from labels: 1 where a voxel is near another label or in background.

    Parameters
    ----------
    labels : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth; 0 = background (always boundary: it is not inside an object).
    thickness : float, optional
        Width in nm of the band marked across a membrane. A voxel is a boundary
        if a face neighbour has a different label (along every axis, whatever
        the voxel size), or if a voxel with a different label lies within
        ``thickness / 2`` nm of it. Default: twice the smallest voxel size,
        i.e. exactly the face neighbours: one voxel on each side of a contact.
        The thickness only widens the band, measured in nm.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) or (y, x); no default (thicknesses are in nm).

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of float32
        1 = boundary, 0 = inside an object.

    Examples
    --------
    >>> labels = np.array([[1, 1, 2, 2]], dtype=np.uint64)
    >>> boundaries(labels, voxel_size=(1, 1))
    array([[0., 1., 1., 0.]], dtype=float32)
    >>> boundaries(labels, thickness=4, voxel_size=(1, 1))
    array([[1., 1., 1., 1.]], dtype=float32)
    """
    labels = as_labels(labels)
    voxel_size = as_voxel_size(voxel_size, labels.ndim)
    thickness = 2 * min(voxel_size) if thickness is None else as_number(
        thickness, "thickness", positive=True, unit="nm")
    out = labels == 0
    for offset in _offsets_within(thickness / 2, voxel_size):
        a, b = offset_slices(labels.shape, offset)
        out[a] |= labels[a] != labels[b]
    return out.astype(np.float32)


def distance_transform(labels: np.ndarray, *, voxel_size: Sequence[float] | None = None,
                       thickness: float | None = None, signed: bool = False) -> np.ndarray:
    """Distance in nm from each voxel inside an object to the nearest boundary voxel.

    The boundary is :func:`boundaries` (so touching objects are kept apart);
    distances use the voxel size, so they are right on anisotropic data.

    Parameters
    ----------
    labels : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth; 0 = background.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) or (y, x); no default (thicknesses are in nm).
    thickness : float, optional
        Passed to :func:`boundaries`.
    signed : bool, optional
        If True, boundary and background voxels get minus their distance to
        the nearest voxel inside an object (foreground positive, background
        negative); else they are 0.

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of float32
        Distances in nm.

    Examples
    --------
    >>> labels = np.array([[0, 1, 1, 1, 1, 1, 2, 2]], dtype=np.uint64)
    >>> distance_transform(labels, voxel_size=(10, 10))
    array([[ 0.,  0., 10., 20., 10.,  0.,  0., 10.]], dtype=float32)

    The edge of the volume is not a boundary: objects go on beyond it.
    """
    labels = as_labels(labels)
    voxel_size = as_voxel_size(voxel_size, labels.ndim)
    inside = boundaries(labels, thickness=thickness, voxel_size=voxel_size) == 0
    if not inside.any():
        dist = np.zeros(labels.shape, np.float64)
    elif inside.all():  # no boundary anywhere: the distance is unbounded; use the volume edge
        dist = ndimage.distance_transform_edt(np.pad(inside, 1), sampling=voxel_size)
        dist = dist[(slice(1, -1),) * labels.ndim]
    else:
        dist = ndimage.distance_transform_edt(inside, sampling=voxel_size)
    if signed and inside.any():
        dist = dist - ndimage.distance_transform_edt(~inside, sampling=voxel_size)
    return dist.astype(np.float32)


def face_neighbours(shape: Sequence[int]) -> list[tuple[tuple, tuple]]:
    """Per axis, slices ``(a, b)`` such that ``x[b]`` is the face neighbour one step back of ``x[a]``.

    The one scan behind boundaries, contacts, affinity edges and the synthetic
    membranes: every pair of face neighbours of an array of ``shape`` is
    ``(x[a].flat[i], x[b].flat[i])`` for one axis and one ``i``.

    >>> x = np.array([[1, 2], [3, 4]])
    >>> [(x[a].tolist(), x[b].tolist()) for a, b in face_neighbours(x.shape)]
    [([[3, 4]], [[1, 2]]), ([[2], [4]], [[1], [3]])]
    """
    shape = tuple(int(n) for n in shape)
    return [offset_slices(shape, tuple(-int(i == j) for j in range(len(shape))))
            for i in range(len(shape))]


def nearest_offsets(ndim: int) -> list[tuple[int, ...]]:
    """The nearest-neighbour affinity offsets, one per axis, pointing backwards.

    >>> nearest_offsets(3)
    [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]
    """
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim!r}")
    return [tuple(-int(i == j) for j in range(ndim)) for i in range(ndim)]


def as_offsets(offsets, ndim: int, *, shape: Sequence[int] | None = None,
               ) -> list[tuple[int, ...]]:
    """``offsets`` checked as a list of ``ndim``-tuples of ints (ValueError/TypeError if not).

    With the spatial ``shape`` of the volume, an offset longer than the volume
    along an axis is refused too (it would have no edge inside the volume).

    >>> as_offsets([(0, -1), (-1, 0)], 2)
    [(0, -1), (-1, 0)]
    """
    if isinstance(offsets, np.ndarray):
        offsets = offsets.tolist()
    try:
        checked = [tuple(offset) for offset in offsets]
    except TypeError:
        raise TypeError(f"offsets must be a list of {ndim}-tuples of ints, e.g. "
                        f"{nearest_offsets(ndim)}, got {offsets!r}") from None
    if not checked:
        raise ValueError("offsets must not be empty")
    for offset in checked:
        if len(offset) != ndim or not all(isinstance(o, (int, np.integer)) for o in offset):
            raise ValueError(f"each offset must be {ndim} ints in (z, y, x) order for "
                             f"{ndim}D labels, got {offset!r}")
        if not any(offset):
            raise ValueError("the offset (0, ...) links a voxel with itself; remove it")
    checked = [tuple(int(o) for o in offset) for offset in checked]
    if shape is not None:
        _check_offsets_fit(checked, tuple(shape))
    return checked


def _check_offsets_fit(offsets: list[tuple[int, ...]], shape: tuple[int, ...]) -> None:
    """Refuse an offset longer than the volume (numpy would fail with a broadcast error)."""
    for offset in offsets:
        for axis, (o, n) in enumerate(zip(offset, shape)):
            if abs(o) > n:
                raise ValueError(
                    f"offset {offset} reaches {abs(o)} voxels along axis {axis}, but the "
                    f"volume {shape} is only {n} voxels long there: no voxel has its "
                    "partner inside; use shorter offsets or a larger volume")


def affinities(labels: np.ndarray, offsets: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """Affinities from labels: 1 where a voxel and its partner carry the same non-zero label.

    Parameters
    ----------
    labels : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth; 0 = background (never affine, not even to itself).
    offsets : list of tuple of int, optional
        One ``(dz, dy, dx)`` (or ``(dy, dx)``) per channel; default
        :func:`nearest_offsets`. ``affs[k][i]`` describes the edge between
        voxel ``i`` and ``i + offsets[k]``; where that partner is outside the
        volume the affinity is 0 (see :func:`affinity_mask`).

    Returns
    -------
    (K, Z, Y, X) or (K, Y, X) ndarray of float32
        1 = same object, 0 = different objects, background or no partner.

    Examples
    --------
    >>> labels = np.array([[1, 1, 2]], dtype=np.uint64)
    >>> affinities(labels, [(0, -1)])
    array([[[0., 1., 0.]]], dtype=float32)
    """
    labels = as_labels(labels)
    offsets = as_offsets(nearest_offsets(labels.ndim) if offsets is None else offsets,
                         labels.ndim, shape=labels.shape)
    affs = np.zeros((len(offsets), *labels.shape), np.float32)
    for k, offset in enumerate(offsets):
        a, b = offset_slices(labels.shape, offset)
        affs[k][a] = (labels[a] == labels[b]) & (labels[a] != 0)
    return affs


def affinity_mask(shape: Sequence[int], offsets: Sequence[Sequence[int]] | None = None, *,
                  known: np.ndarray | None = None) -> np.ndarray:
    """Which affinity edges are valid: both ends inside the volume (and known).

    Parameters
    ----------
    shape : tuple of int
        Spatial shape (z, y, x) or (y, x).
    offsets : list of tuple of int, optional
        As in :func:`affinities`; default :func:`nearest_offsets`.
    known : ndarray of bool, optional
        ``shape``-sized; False where the ground truth is unknown. An edge is
        valid only if both of its ends are known.

    Returns
    -------
    (K, Z, Y, X) or (K, Y, X) ndarray of float32
        1 = use this edge in the loss, 0 = ignore it.

    Examples
    --------
    >>> affinity_mask((1, 3), [(0, -1)])
    array([[[0., 1., 1.]]], dtype=float32)
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape must be 2 or 3 positive sizes (z, y, x), got {shape!r}")
    offsets = as_offsets(nearest_offsets(len(shape)) if offsets is None else offsets,
                         len(shape), shape=shape)
    if known is None:
        known = np.ones(shape, bool)
    known = np.asarray(known)
    if known.shape != shape:
        raise ValueError(f"known must have the spatial shape {shape}, got {known.shape}")
    known = known.astype(bool)
    mask = np.zeros((len(offsets), *shape), np.float32)
    for k, offset in enumerate(offsets):
        a, b = offset_slices(shape, offset)
        mask[k][a] = known[a] & known[b]
    return mask
