"""Where training samples come from: raw, labels and a mask, with their voxel size and offset.

A :class:`Source` holds raw EM (uint8, or float in [0, 1]), ground-truth labels
(integer ids, 0 = background) and optionally a mask (1 where the ground truth
is known), all ``(z, y, x)``, with the voxel size and world offset in nm. It is
made from a course dataset, from numpy arrays, from a zarr group or from a
CREMI hdf5 file, and reads any box of voxels as a :class:`Sample`. What lies
outside the volume comes back padded (raw 0, labels 0) and marked unknown, so
that the loss can ignore it.

Zarr arrays stay on disk: each sample reads only its box (in a DataLoader
worker), so volumes larger than memory work too.

Used in: notebooks/05_3d_unet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import io
from .._validate import as_labels, as_offset, as_voxel_size
from ._batches import normalize

__all__ = ["Sample", "Source"]


@dataclasses.dataclass(frozen=True, eq=False)
class Sample:
    """One training sample on its way through the pipeline: ``(z, y, x)`` arrays.

    Attributes
    ----------
    raw : (Z, Y, X) ndarray of float32
        EM intensities in [0, 1].
    labels : (Z, Y, X) ndarray of uint64
        Object ids, 0 = background.
    known : (Z, Y, X) ndarray of bool
        True where the ground truth is real: False outside the volume or its
        mask, and where an augmentation padded the sample.
    voxel_size : tuple of 3 floats
        nm per voxel (z, y, x).
    """

    raw: np.ndarray
    labels: np.ndarray
    known: np.ndarray
    voxel_size: tuple[float, float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.raw.shape

    def replace(self, **changes) -> Sample:
        """A copy with some fields replaced, e.g. ``sample.replace(raw=brighter)``."""
        return dataclasses.replace(self, **changes)


class Source:
    """A training volume: raw, labels and an optional mask, with voxel size and offset.

    Parameters
    ----------
    raw : (Z, Y, X) array of uint8, or float in [0, 1]
        A numpy array, or any array that reads a box by slicing (zarr, h5py).
    labels : (Z, Y, X) array of ints
        Object ids, 0 = background. May cover a part of ``raw`` only (see
        ``labels_offset``).
    voxel_size : sequence of 3 floats
        nm per voxel (z, y, x) of both ``raw`` and ``labels``; required.
    offset : sequence of 3 floats, optional
        World position (nm) of ``raw``'s first voxel; default 0.
    labels_offset : sequence of 3 floats, optional
        World position (nm) of ``labels``' first voxel (and the mask's);
        default ``offset``. It must fall on ``raw``'s voxel grid.
    mask : (Z, Y, X) array of bool or ints, optional
        ``labels``-shaped; nonzero where the ground truth is known.
    name : str, optional
        Shown in messages and figures.

    Examples
    --------
    >>> raw = np.zeros((4, 8, 8), np.uint8); labels = np.ones((4, 8, 8), np.uint64)
    >>> source = Source(raw, labels, voxel_size=(40, 8, 8))
    >>> sample = source.read((2, -2, 0), (4, 4, 4))  # half outside the volume
    >>> sample.raw.shape, int(sample.known.sum())
    ((4, 4, 4), 16)
    """

    def __init__(self, raw, labels, *, voxel_size: Sequence[float],
                 offset: Sequence[float] | float = 0.0,
                 labels_offset: Sequence[float] | float | None = None, mask=None,
                 name: str = ""):
        self.raw = _array(raw, "raw", ("uint8", "float"))
        self.labels = _array(labels, "labels", ("int",))
        self.mask = None if mask is None else _array(mask, "mask", ("int",))
        if self.mask is not None and self.mask.shape != self.labels.shape:
            raise ValueError(f"mask must have the shape of labels {self.labels.shape}, "
                             f"got {self.mask.shape}")
        self.voxel_size = as_voxel_size(voxel_size, 3)
        self.offset = as_offset(offset, 3)
        there = self.offset if labels_offset is None else as_offset(labels_offset, 3,
                                                                    name="labels_offset")
        self.labels_start = _grid_shift(there, self.offset, self.voxel_size)
        self.name = str(name)
        self._fingerprint = None

    @classmethod
    def from_dataset(cls, dataset) -> Source:
        """A source from a course dataset (``mbl_seg.data.load_dataset("fly/train")``).

        Anything with ``raw``, ``labels``, ``voxel_size`` and ``offset`` works.
        """
        missing = [a for a in ("raw", "labels", "voxel_size") if not hasattr(dataset, a)]
        if missing:
            raise TypeError(f"a dataset needs raw, labels and voxel_size; "
                            f"{type(dataset).__name__} has no {', '.join(missing)}")
        return cls(dataset.raw, dataset.labels, voxel_size=dataset.voxel_size,
                   offset=getattr(dataset, "offset", 0.0), name=getattr(dataset, "name", ""))

    @classmethod
    def from_zarr(cls, path: str | Path, *, raw: str = "raw", labels: str = "labels",
                  mask: str | None = None) -> Source:
        """A source reading arrays of a zarr group lazily, with their stored voxel size.

        ``raw``, ``labels`` and ``mask`` are array paths inside the group, e.g.
        ``raw="fly/train/raw"`` in ``data/course.zarr``; written by
        :func:`mbl_seg.io.write_volume` (or with a ``voxel_size`` attribute).
        """
        volumes = {"raw": io.open_volume(path, raw), "labels": io.open_volume(path, labels)}
        if mask is not None:
            volumes["mask"] = io.open_volume(path, mask)
        return cls._from_volumes(volumes, name=f"{path}:{labels}")

    @classmethod
    def from_cremi(cls, path: str | Path, *, raw: str = "volumes/raw",
                   labels: str = "volumes/labels/neuron_ids",
                   background_ids: tuple[int, ...] = ()) -> Source:
        """A source from a CREMI-style hdf5 file (read into memory by `mbl_seg.io.read_cremi`)."""
        raw_volume, label_volume = io.read_cremi(path, raw=raw, labels=labels,
                                                 background_ids=background_ids)
        return cls._from_volumes({"raw": raw_volume, "labels": label_volume},
                                 name=Path(path).name)

    @classmethod
    def _from_volumes(cls, volumes: dict, *, name: str) -> Source:
        sizes = {key: v.voxel_size for key, v in volumes.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"raw, labels and mask must have the same voxel size, got {sizes}")
        if "mask" in volumes and volumes["mask"].offset != volumes["labels"].offset:
            raise ValueError("the mask must have the offset of the labels, got "
                             f"{volumes['mask'].offset} and {volumes['labels'].offset}")
        mask = volumes.get("mask")
        return cls(volumes["raw"].data, volumes["labels"].data,
                   voxel_size=volumes["raw"].voxel_size, offset=volumes["raw"].offset,
                   labels_offset=volumes["labels"].offset,
                   mask=None if mask is None else mask.data, name=name)

    def mirrored_z(self, sections: int) -> Source:
        """This volume with ``sections`` mirror-image sections added beyond both ends of z.

        A valid-padded network sees context on each side of what it predicts, so
        the labels of a thin volume's first and last sections never fall in an
        output: with ``sections`` = half the network's context in z, every section
        is supervised, from the mirrored context that prediction pads with too.
        Mirrored raw and labels are a volume like any other (each object goes on
        as its mirror image), so they count as known (the mask is mirrored too).
        Reads the whole volume into memory; raw and labels must cover the same box.

        >>> s = Source(np.arange(3, dtype=np.uint8)[:, None, None] * np.ones((3, 2, 2), np.uint8),
        ...            np.ones((3, 2, 2), np.uint64), voxel_size=(8, 8, 8))
        >>> s.mirrored_z(2).raw[:, 0, 0].tolist()
        [1, 0, 0, 1, 2, 2, 1]
        """
        sections = int(sections)
        if sections < 0:
            raise ValueError(f"sections must be >= 0, got {sections}")
        if self.labels.shape != self.raw.shape or any(self.labels_start):
            raise ValueError(f"mirrored_z needs labels covering raw exactly, got raw "
                             f"{tuple(self.raw.shape)} and labels {tuple(self.labels.shape)} "
                             f"starting at voxel {self.labels_start}")
        widths = ((sections, sections), (0, 0), (0, 0))

        def mirror(array):
            return None if array is None else np.pad(np.asarray(array), widths, mode="symmetric")

        offset = tuple(o - (sections * v if axis == 0 else 0)
                       for axis, (o, v) in enumerate(zip(self.offset, self.voxel_size)))
        return Source(mirror(self.raw), mirror(self.labels), voxel_size=self.voxel_size,
                      offset=offset, mask=mirror(self.mask),
                      name=f"{self.name} (mirrored in z)" if self.name else "")

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return (f"Source({name}raw {tuple(self.raw.shape)}, labels {tuple(self.labels.shape)}"
                f"{', masked' if self.mask is not None else ''}, voxel_size {self.voxel_size})")

    @property
    def labelled_box(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(start, stop)`` in ``raw`` voxels of the region with both raw and labels."""
        start = tuple(max(0, s) for s in self.labels_start)
        stop = tuple(min(n, s + m) for n, s, m in
                     zip(self.raw.shape, self.labels_start, self.labels.shape))
        return start, stop

    def read(self, start: Sequence[int], shape: Sequence[int]) -> Sample:
        """The box ``start .. start + shape`` (``raw`` voxels, may stick out) as a Sample.

        Outside ``raw`` the raw is 0; outside ``labels`` the labels are 0; both
        are marked unknown (``known`` False), as is what the mask excludes.
        """
        start, shape = tuple(map(int, start)), tuple(map(int, shape))
        raw, raw_inside = _read(self.raw, start, shape)
        shifted = tuple(a - b for a, b in zip(start, self.labels_start))
        labels, known = _read(self.labels, shifted, shape)
        known &= raw_inside
        if self.mask is not None:
            known &= _read(self.mask, shifted, shape)[0].astype(bool)
        return Sample(normalize(raw), labels.astype(np.uint64, copy=False), known,
                      self.voxel_size)

    def labelled_fraction(self, start: Sequence[int], shape: Sequence[int]) -> float:
        """The fraction of the box whose voxels carry a label (nonzero and in the mask)."""
        shifted = tuple(int(a) - b for a, b in zip(start, self.labels_start))
        labels, inside = _read(self.labels, shifted, tuple(map(int, shape)))
        labelled = (labels != 0) & inside
        if self.mask is not None:
            labelled &= _read(self.mask, shifted, tuple(map(int, shape)))[0].astype(bool)
        return float(np.count_nonzero(labelled)) / labelled.size

    def fingerprint(self) -> dict[str, str]:
        """Shape, dtype and checksum of raw and of labels (+ mask): what a checkpoint compares.

        Reads the whole volume once (then remembered).
        """
        if self._fingerprint is None:
            self._fingerprint = {"raw": _fingerprint(self.raw),
                                 "labels": _fingerprint(self.labels, self.mask)}
        return self._fingerprint


def _array(array, name: str, kinds: tuple[str, ...]):
    """Check a (z, y, x) array (numpy or lazy: zarr, h5py) and its dtype; return it."""
    if not all(hasattr(array, a) for a in ("shape", "dtype", "__getitem__")):
        raise TypeError(f"{name} must be a (z, y, x) array (numpy, zarr or h5py), "
                        f"got {type(array).__name__}")
    if len(array.shape) != 3 or min(array.shape) < 1:
        raise ValueError(f"{name} must be a non-empty (z, y, x) volume, got shape "
                         f"{tuple(array.shape)}; a 2D section? add an axis: {name}[None]")
    dtype = np.dtype(array.dtype)
    fits = (("uint8" in kinds and dtype == np.uint8)
            or ("float" in kinds and np.issubdtype(dtype, np.floating))
            or ("int" in kinds and (np.issubdtype(dtype, np.integer) or dtype.kind == "b")))
    if not fits:
        wanted = {"raw": "uint8 (0-255) or float in [0, 1]", "labels": "integer ids",
                  "mask": "bool or 0/1 integers"}[name]
        raise TypeError(f"{name} must be {wanted}, got dtype {dtype}")
    if name == "labels" and isinstance(array, np.ndarray):
        as_labels(array, ndim=(3,))  # refuses negative ids
    return array


def _fingerprint(*arrays) -> str:
    """``uint8[64, 256, 256]:<checksum>``: equal arrays, equal fingerprints."""
    arrays = [np.asarray(a[...]) for a in arrays if a is not None]
    shapes = " ".join(f"{a.dtype}{list(a.shape)}" for a in arrays)
    return f"{shapes}:{io.checksum(*arrays)}"


def _grid_shift(there: tuple[float, ...], here: tuple[float, ...],
                voxel_size: tuple[float, ...]) -> tuple[int, ...]:
    """``(there - here) / voxel_size`` as whole voxels (ValueError if off the grid)."""
    steps = [(a - b) / v for a, b, v in zip(there, here, voxel_size)]
    if any(abs(s - round(s)) > 1e-6 for s in steps):
        raise ValueError(f"labels_offset {there} nm is not on raw's voxel grid (offset "
                         f"{here} nm, voxel_size {voxel_size} nm)")
    return tuple(int(round(s)) for s in steps)


def _read(array, start: tuple[int, ...], shape: tuple[int, ...]):
    """The box of ``array`` at ``start`` (zero-padded outside) and where it was inside."""
    lo = [max(0, -s) for s in start]  # where the inside begins, in box coordinates
    hi = [min(n, a - s) for n, a, s in zip(shape, array.shape, start)]
    inside = np.zeros(shape, bool)
    if all(h > low for low, h in zip(lo, hi)):
        box = tuple(slice(low, h) for low, h in zip(lo, hi))
        src = tuple(slice(s + low, s + h) for s, low, h in zip(start, lo, hi))
        if tuple(lo) == (0, 0, 0) and tuple(hi) == shape:  # all inside: no padding
            inside[...] = True
            return np.array(array[src]), inside
        out = np.zeros(shape, np.dtype(array.dtype))
        out[box] = array[src]
        inside[box] = True
        return out, inside
    return np.zeros(shape, np.dtype(array.dtype)), inside
