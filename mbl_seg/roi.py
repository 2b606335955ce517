"""Regions in nm and the voxels they cover.

A block-wise tool like daisy describes a block by regions of interest (ROIs)
in world units, nm: where it starts and how large it is. An array is indexed
in voxels. :func:`to_slices` turns one into the other, for one array's voxel
size, and clips the region to the array (a block at the volume's border reads
a region that sticks out of it).

Any object with ``begin`` and ``end`` (one number per axis, nm) is a ROI here:
a ``daisy.Roi``, or :class:`Region` where daisy is not needed.

Used in: notebooks/08_scaling_up (your own daisy task).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ._validate import as_voxel_size

__all__ = ["Region", "to_slices"]


class Region(NamedTuple):
    """A region in nm: ``begin`` and ``end`` per axis (the end excluded), like ``daisy.Roi``."""

    begin: tuple[float, ...]
    end: tuple[float, ...]


def to_slices(roi, voxel_size: Sequence[float], shape: Sequence[int] | None = None
              ) -> tuple[slice, ...]:
    """The voxels of a region in nm, as one slice per axis, clipped to ``shape``.

    Parameters
    ----------
    roi : daisy.Roi or Region
        ``begin`` and ``end`` in nm, on the voxel grid (multiples of the voxel size).
    voxel_size : sequence of float, required
        nm per voxel, one per axis of the ROI.
    shape : sequence of int, optional
        The array's shape in voxels: the slices stop at 0 and at its end.

    Returns
    -------
    tuple of slice

    Examples
    --------
    A block of 4 × 16 × 16 voxels of 40 × 8 × 8 nm, grown by 80 nm on each side,
    in a volume of 20 × 50 × 50 voxels:

    >>> to_slices(Region((-80, -80, -80), (240, 208, 208)), (40, 8, 8), (20, 50, 50))
    (slice(0, 6, None), slice(0, 26, None), slice(0, 26, None))
    """
    begin, end = _corners(roi)
    voxel_size = as_voxel_size(voxel_size, len(begin))
    if shape is not None and len(shape) != len(begin):
        raise ValueError(f"shape must have one size per axis of the ROI ({len(begin)}), got "
                         f"{tuple(shape)}")
    slices = []
    for axis, (b, e, v) in enumerate(zip(begin, end, voxel_size)):
        if b % v or e % v:
            raise ValueError(f"axis {axis}: the ROI from {b:g} to {e:g} nm does not start and "
                             f"end on the voxel grid ({v:g} nm per voxel): make its begin and "
                             "shape multiples of the voxel size")
        start, stop = int(b // v), int(e // v)
        if shape is not None:
            start, stop = max(0, start), min(int(shape[axis]), stop)
        slices.append(slice(start, max(start, stop)))
    return tuple(slices)


def _corners(roi) -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:
        begin = tuple(float(b) for b in roi.begin)
        end = tuple(float(e) for e in roi.end)
    except (AttributeError, TypeError):
        raise TypeError("roi must be a region in nm with begin and end, e.g. a daisy.Roi or "
                        f"mbl_seg.roi.Region, got {type(roi).__name__}") from None
    if len(begin) != len(end) or not begin:
        raise ValueError(f"roi must have a begin and an end per axis, got {begin} and {end}")
    if any(e < b for b, e in zip(begin, end)):
        raise ValueError(f"roi ends before it begins: begin {begin}, end {end} (nm)")
    return begin, end
