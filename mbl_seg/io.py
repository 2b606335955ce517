"""Reading and writing volumes with their voxel size: zarr (v3), CREMI HDF5, image stacks.

Every array is stored with its physical metadata as attributes:
``voxel_size`` and ``offset`` in nm, ``axes`` (e.g. ``["z", "y", "x"]``) and
``unit``. The same facts are also written in the OME-Zarr 0.5 form
(``attributes["ome"]["multiscales"]``, scale and translation per axis), so
tools such as napari or neuroglancer show the data at the right size.

Used in: notebooks/00_setup_and_data, notebooks/08_scaling_up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._validate import as_offset, as_plain, as_voxel_size

__all__ = ["Volume", "write_volume", "read_volume", "open_volume", "read_cremi", "read_sections",
           "checksum"]


class Volume(NamedTuple):
    """An array with its position in the world.

    Attributes
    ----------
    data : ndarray or zarr.Array
        ``(z, y, x)`` or ``(c, z, y, x)``.
    voxel_size : tuple of floats
        nm per voxel along the spatial axes (z, y, x).
    offset : tuple of floats
        World position (nm) of the first voxel's corner, (z, y, x).
    """

    data: Any
    voxel_size: tuple[float, ...]
    offset: tuple[float, ...]


def checksum(*arrays: np.ndarray) -> str:
    """A hash of the arrays' contents (bytes, in order): equal arrays, equal checksums.

    A zarr array is read slab by slab along its first axis (the same hash as of its
    numpy copy, without ever holding it whole).

    >>> checksum(np.zeros(3)) == checksum(np.zeros(3)) != checksum(np.ones(3))
    True
    """
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if isinstance(a, np.ndarray) or not hasattr(a, "chunks"):
            h.update(np.ascontiguousarray(a).view(np.uint8).data)
            continue
        step = max(1, a.chunks[0])  # a zarr array: slab by slab, never whole in memory
        for start in range(0, a.shape[0], step):
            h.update(np.ascontiguousarray(a[start:start + step]).view(np.uint8).data)
    return h.hexdigest()


def _axes(ndim: int) -> list[str]:
    if ndim not in (2, 3, 4):
        raise ValueError(f"expected (y, x), (z, y, x) or (c, z, y, x) data, got {ndim} dims")
    return ["c", "z", "y", "x"][4 - ndim:] if ndim == 4 else ["z", "y", "x"][3 - ndim:]


def _spatial_ndim(ndim: int) -> int:
    return 3 if ndim == 4 else ndim


def write_volume(
    path: str | Path,
    name: str,
    data: np.ndarray,
    *,
    voxel_size,
    offset=None,
    chunks: tuple[int, ...] | None = None,
    attributes: dict | None = None,
    overwrite: bool = False,
):
    """Write ``data`` to ``path`` (a zarr group) as array ``name`` with its metadata.

    Parameters
    ----------
    path : str or Path
        The zarr group (a directory ending in ``.zarr``); created if needed.
    name : str
        Array path inside the group, e.g. ``"fly/train/raw"``.
    data : (Z, Y, X) or (C, Z, Y, X) ndarray
        Axis order z, y, x (channels first).
    voxel_size, offset : float or sequence of floats
        nm, (z, y, x); one number stands for every axis. Voxel sizes are
        positive, offsets finite; ``offset`` defaults to 0.
    chunks : tuple of ints, optional
        Chunk shape; default about 1 MB blocks.
    attributes : dict, optional
        Extra JSON attributes stored with the array.
    overwrite : bool
        An existing array is never replaced unless this is True.

    Returns
    -------
    zarr.Array

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> _ = write_volume(d + "/x.zarr", "raw", np.zeros((2, 4, 4), np.uint8), voxel_size=(40, 4, 4))
    >>> read_volume(d + "/x.zarr", "raw").voxel_size
    (40.0, 4.0, 4.0)
    """
    import zarr

    if not isinstance(data, np.ndarray):
        raise TypeError(f"data must be a numpy array, got {type(data).__name__}")
    axes = _axes(data.ndim)
    n = _spatial_ndim(data.ndim)
    voxel_size = as_voxel_size(voxel_size, n)
    offset = as_offset(0.0 if offset is None else offset, n)
    group = zarr.open_group(str(path), mode="a")
    if name in group and not overwrite:
        raise FileExistsError(
            f"{path}/{name} already exists; pass overwrite=True to replace it"
        )
    attrs = _metadata(axes, voxel_size, offset)
    attrs.update(as_plain(attributes or {}, other=lambda v: v))  # zarr refuses non-JSON
    array = group.create_array(
        name, shape=data.shape, dtype=data.dtype, chunks=chunks or _default_chunks(data),
        dimension_names=tuple(axes), attributes=attrs, overwrite=overwrite,
    )
    array[...] = data
    return array


def open_volume(path: str | Path, name: str) -> Volume:
    """Open array ``name`` of a zarr group lazily (nothing is read yet).

    Raises ``FileNotFoundError`` if it is not there, ``ValueError`` if it has
    no voxel size.
    """
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
        array = group[name]
    except (FileNotFoundError, KeyError) as err:
        raise FileNotFoundError(f"no array {name!r} in zarr group {path}") from err
    attrs = dict(array.attrs)
    n = _spatial_ndim(array.ndim)
    if "voxel_size" not in attrs:
        raise ValueError(
            f"{path}/{name} has no 'voxel_size' attribute; write it with "
            "mbl_seg.io.write_volume or pass the voxel size yourself"
        )
    voxel_size = as_voxel_size(attrs["voxel_size"], n)
    offset = as_offset(attrs.get("offset", 0.0), n)
    return Volume(array, voxel_size, offset)


def read_volume(path: str | Path, name: str) -> Volume:
    """Read array ``name`` of a zarr group into memory, with its voxel size and offset."""
    vol = open_volume(path, name)
    return Volume(vol.data[...], vol.voxel_size, vol.offset)


def read_cremi(
    path: str | Path,
    *,
    raw: str = "volumes/raw",
    labels: str | None = "volumes/labels/neuron_ids",
    background_ids: tuple[int, ...] = (),
) -> tuple[Volume, Volume | None]:
    """Read a CREMI-style HDF5 file: raw and (optionally) neuron ids.

    CREMI stores ``resolution`` (nm, z, y, x) and optionally ``offset``
    attributes on each dataset. Ids listed in ``background_ids`` (e.g. CREMI's
    ``2**64 - 3`` for "no label") become 0, our background.

    Returns
    -------
    raw : Volume
        uint8 data (z, y, x).
    labels : Volume or None
        uint64 data (z, y, x), None if ``labels`` is None.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such HDF5 file: {path}")
    with h5py.File(path, "r") as f:
        raw_vol = _read_h5(f, raw)
        label_vol = None
        if labels is not None:
            lab = _read_h5(f, labels)
            data = lab.data.astype(np.uint64)
            for bg in background_ids:
                data[data == np.uint64(bg)] = 0
            label_vol = Volume(data, lab.voxel_size, lab.offset)
    return raw_vol, label_vol


_IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


def read_sections(sections, *, voxel_size) -> Volume:
    """A volume from one image per section (TIFF or PNG), in the order of their names.

    Parameters
    ----------
    sections : str, Path or sequence of them
        A folder (its ``.tif``, ``.tiff`` and ``.png`` files, sorted by name with
        numbers in order: ``z2`` before ``z10``), or the files themselves, in order.
    voxel_size : sequence of 3 float, required
        nm per voxel (z, y, x): section thickness, then pixel size. Image files do
        not say it reliably, so it is never guessed.

    Returns
    -------
    Volume
        ``(z, y, x)`` data of the images' dtype (grey values), with ``voxel_size``.
    """
    import re

    from skimage.io import imread

    voxel_size = as_voxel_size(voxel_size, 3)
    if isinstance(sections, (str, Path)):
        folder = Path(sections)
        if not folder.is_dir():
            raise FileNotFoundError(f"no such folder of sections: {folder}")
        paths = [q for q in folder.iterdir() if q.suffix.lower() in _IMAGE_SUFFIXES]
        paths.sort(key=lambda q: [int(t) if t.isdigit() else t
                                  for t in re.split(r"(\d+)", q.name)])
        if not paths:
            raise FileNotFoundError(f"no .tif, .tiff or .png files in {folder}")
    else:
        paths = [Path(q) for q in sections]
        if not paths:
            raise ValueError("sections: expected a folder or a list of image files, got none")
    images = []
    for q in paths:
        image = np.asarray(imread(q))
        if image.ndim != 2:
            raise ValueError(f"{q}: expected one grey-value section (y, x) per file, got an "
                             f"image of shape {image.shape} (colour, or several pages?)")
        if images and image.shape != images[0].shape:
            raise ValueError(f"{q}: shape {image.shape}, but {paths[0].name} is "
                             f"{images[0].shape}: all sections must be the same size")
        images.append(image)
    return Volume(np.stack(images), voxel_size, (0.0, 0.0, 0.0))


def _read_h5(f, key: str) -> Volume:
    if key not in f:
        raise KeyError(f"dataset {key!r} not in {f.filename}; it has {list(_h5_keys(f))}")
    ds = f[key]
    if "resolution" not in ds.attrs:
        raise ValueError(f"{f.filename}:{key} has no 'resolution' attribute (nm, z, y, x)")
    n = _spatial_ndim(ds.ndim)
    voxel_size = as_voxel_size(tuple(ds.attrs["resolution"]), n)
    offset = as_offset(tuple(ds.attrs.get("offset", (0.0,) * n)), n)
    return Volume(ds[...], voxel_size, offset)


def _h5_keys(f):
    names = []
    f.visit(lambda name: names.append(name) if hasattr(f[name], "shape") else None)
    return names


def _metadata(axes: list[str], voxel_size, offset) -> dict:
    spatial = [a for a in axes if a != "c"]
    scale = ([1.0] if "c" in axes else []) + list(voxel_size)
    translation = ([0.0] if "c" in axes else []) + list(offset)
    ome_axes = [
        {"name": a, "type": "channel"} if a == "c"
        else {"name": a, "type": "space", "unit": "nanometer"}
        for a in axes
    ]
    return {
        "voxel_size": list(voxel_size),
        "offset": list(offset),
        "axes": spatial,
        "unit": "nm",
        "ome": {
            "version": "0.5",
            "multiscales": [{
                "axes": ome_axes,
                "datasets": [{"path": ".", "coordinateTransformations": [
                    {"type": "scale", "scale": scale},
                    {"type": "translation", "translation": translation},
                ]}],
            }],
        },
    }


def _default_chunks(data: np.ndarray) -> tuple[int, ...]:
    # cubes of at most 2 MB with a power-of-two side: 128^3 for uint8, 64^3 for uint64
    side = 16
    while (2 * side) ** 3 * data.dtype.itemsize <= 2**21:
        side *= 2
    chunks = [min(s, side) for s in data.shape]
    if data.ndim == 4:
        chunks[0] = data.shape[0]
    return tuple(chunks)
