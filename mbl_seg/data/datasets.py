"""The named course datasets: generated once, cached as zarr under ``data/``.

Each domain has a ``train``, ``validation`` and ``test`` volume (3D), and a
``*2d`` version of each: sections at least 64 nm apart as independent
2D image with its own connected-component labels, for notebooks 01-04.

The cache is one zarr group, ``data/course.zarr``, with one subgroup per
dataset (``fly/train`` ...) holding ``raw``, ``labels`` and
``membrane_gaps`` with their ``voxel_size`` and ``offset``. A dataset that is
there and intact is reused; a damaged one (missing array, wrong shape,
failed checksum, interrupted write) is detected and rebuilt. A group that
``mbl_seg`` did not write is never touched.

Used in: every notebook, starting with notebooks/00_setup_and_data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import io
from .domains import get_domain
from .synthetic import GENERATOR_VERSION, synthetic_volume

__all__ = ["CourseDataset", "DATASETS", "list_datasets", "load_dataset", "prepare_datasets",
           "data_dir"]

_SECTION_SPACING_NM = 64.0  # 2D datasets take sections at least this far apart

# name -> (domain, shape (z, y, x), seed)
DATASETS: dict[str, tuple[str, tuple[int, int, int], int]] = {
    "fly/train": ("fly", (64, 256, 256), 1),
    "fly/validation": ("fly", (48, 256, 256), 2),
    "fly/test": ("fly", (48, 256, 256), 3),
    "zebrafish/train": ("zebrafish", (32, 256, 256), 11),
    "zebrafish/validation": ("zebrafish", (24, 256, 256), 12),
    "zebrafish/test": ("zebrafish", (24, 256, 256), 13),
}


# real EM shipped as package data (mbl_seg/data/real/README.md says where it comes from and
# on which terms): name -> (file, raw array, labels array); 0 in the labels = membrane
REAL: dict[str, tuple[str, str, str]] = {
    "fibsem/train": ("gala_fibsem.npz", "raw", "labels"),
    "fibsem/test": ("gala_fibsem.npz", "raw_test", "labels_test"),
}
REAL_VOXEL_SIZE = (10.0, 10.0, 10.0)  # nm; the files carry none (see the README there)


class CourseDataset(NamedTuple):
    """A course dataset in memory; arrays are (z, y, x).

    For the 2D datasets (names ending in ``2d``) every section is an
    independent image and ``voxel_size[0]`` is the distance between them.
    """

    name: str
    raw: np.ndarray
    labels: np.ndarray
    membrane_gaps: np.ndarray
    voxel_size: tuple[float, ...]
    offset: tuple[float, ...]

    def crop(self, *box: slice) -> CourseDataset:
        """The part ``box`` (one slice per axis, z first; steps of 1), its offset moved.

        >>> ds = CourseDataset("x", np.zeros((4, 6, 8), np.uint8), np.zeros((4, 6, 8), np.uint64),
        ...                    np.zeros((4, 6, 8), bool), (8.0, 4.0, 4.0), (0.0, 0.0, 0.0))
        >>> part = ds.crop(slice(None), slice(2, 5), slice(None, 4))
        >>> part.raw.shape, part.offset
        ((4, 3, 4), (0.0, 8.0, 0.0))
        """
        if len(box) != self.raw.ndim or not all(isinstance(b, slice) for b in box):
            raise TypeError(f"crop takes one slice per axis of a {self.raw.ndim}D dataset "
                            f"(z first), got {box!r}")
        ranges = [b.indices(n) for b, n in zip(box, self.raw.shape)]
        if any(step != 1 or stop <= start for start, stop, step in ranges):
            raise ValueError(f"crop needs non-empty slices with step 1, got {box!r} for shape "
                             f"{self.raw.shape}")
        box = tuple(slice(start, stop) for start, stop, _ in ranges)
        offset = tuple(float(o + b.start * v)
                       for o, b, v in zip(self.offset, box, self.voxel_size))
        return self._replace(raw=self.raw[box], labels=self.labels[box],
                             membrane_gaps=self.membrane_gaps[box], offset=offset)


def list_datasets() -> list[str]:
    """Names of all course datasets, 3D and 2D.

    >>> list_datasets()[:2], list_datasets()[-2:]
    (['fly/train', 'fly/train2d'], ['fibsem/train', 'fibsem/test'])
    """
    return [n for name in DATASETS for n in (name, name + "2d")] + list(REAL)


def data_dir() -> Path:
    """Where datasets are cached: ``$MBL_SEG_DATA``, else the repository's ``data/``.

    Outside a source checkout the cache is ``~/.cache/mbl_seg``.
    """
    if os.environ.get("MBL_SEG_DATA"):
        return Path(os.environ["MBL_SEG_DATA"])
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists():
        return root / "data"
    return Path.home() / ".cache" / "mbl_seg"


def load_dataset(name: str, *, directory: str | Path | None = None) -> CourseDataset:
    """Load a course dataset, generating and caching it on first use.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`, e.g. ``"fly/train"`` or ``"fly/test2d"``; the
        real FIB-SEM volumes ``"fibsem/train"`` and ``"fibsem/test"`` ship with the
        package (their labels are 0 on membranes; no membrane gaps are marked).
    directory : str or Path, optional
        Cache directory; default :func:`data_dir`.

    Returns
    -------
    CourseDataset
        ``raw`` uint8, ``labels`` uint64, ``membrane_gaps`` bool, all (z, y, x),
        with ``voxel_size`` and ``offset`` in nm.
    """
    if name not in list_datasets():
        raise ValueError(f"unknown dataset {name!r}; expected one of {list_datasets()}")
    if name in REAL:
        return _real(name)
    base = name[:-2] if name.endswith("2d") else name
    store = Path(directory) if directory is not None else data_dir()
    store = store / "course.zarr"
    vol = _cached(store, base) or _generate(store, base)
    return _sections(vol) if name.endswith("2d") else vol


def prepare_datasets(names=None, *, directory=None, progress: bool = True) -> list[str]:
    """Make sure the given (default: all) datasets are cached; returns their names."""
    from tqdm.auto import tqdm

    names = list(DATASETS) if names is None else [n.removesuffix("2d") for n in names]
    for name in tqdm(names, desc="course datasets", disable=not progress):
        load_dataset(name, directory=directory)
    return names


def _spec(name: str) -> dict:
    domain, shape, seed = DATASETS[name]
    # the domain's parameters are part of the key: a changed look rebuilds the cache
    params = hashlib.blake2b(repr(get_domain(domain)).encode(), digest_size=8).hexdigest()
    return {"name": name, "domain": domain, "shape": list(shape), "seed": seed,
            "generator_version": GENERATOR_VERSION, "domain_parameters": params}


def _cached(store: Path, name: str) -> CourseDataset | None:
    """The cached dataset if it is there and intact, else None (with a warning if damaged)."""
    import zarr

    if not (store / name).exists():
        return None
    try:
        group = zarr.open_group(str(store), mode="r")[name]
        meta = dict(group.attrs).get("mbl_seg_dataset")
    except Exception as err:  # noqa: BLE001 - whatever zarr raises, the advice is the same
        # without readable metadata we cannot tell our group from someone else's
        raise FileExistsError(
            f"{store / name} cannot be read ({type(err).__name__}: {err}); if it is a course "
            "dataset, delete that folder and it will be made again, or set MBL_SEG_DATA to "
            "another directory (nothing was changed)") from None
    if meta is None:
        raise FileExistsError(
            f"{store / name} exists but was not written by mbl_seg; move it away "
            "or set MBL_SEG_DATA to another directory (nothing was changed)"
        )
    problem = None
    try:
        if {k: meta.get(k) for k in _spec(name)} != _spec(name):
            problem = "it was made by another version of the generator"
        else:
            arrays = [io.read_volume(store, f"{name}/{a}") for a in ("raw", "labels",
                                                                   "membrane_gaps")]
            if meta.get("checksum") != io.checksum(*(a.data for a in arrays)):
                problem = "its checksum does not match (damaged or interrupted write)"
    except Exception as err:  # noqa: BLE001 - a bad chunk (zstd), bad JSON, a missing array...
        problem = f"it cannot be read ({type(err).__name__}: {err})"
    if problem:
        warnings.warn(f"rebuilding cached dataset {name}: {problem}", stacklevel=3)
        return None
    raw, labels, gaps = arrays
    return CourseDataset(name, raw.data, labels.data, gaps.data.astype(bool),
                         raw.voxel_size, raw.offset)


def _generate(store: Path, name: str) -> CourseDataset:
    import zarr

    domain, shape, seed = DATASETS[name]
    vol = synthetic_volume(shape, domain, seed=seed)
    group = zarr.open_group(str(store), mode="a")
    # a damaged dataset (ours: _cached checked its marker) is cleared first, so
    # that unreadable metadata or chunks cannot get in the way of the rewrite
    for key in ("raw", "labels", "membrane_gaps"):
        shutil.rmtree(store / name / key, ignore_errors=True)
    # the marker goes on first, without a checksum: an interrupted write is
    # recognised as damaged and rebuilt next time
    sub = group.require_group(name)
    sub.attrs["mbl_seg_dataset"] = _spec(name)
    gaps = vol.membrane_gaps.astype(np.uint8)
    for key, data in (("raw", vol.raw), ("labels", vol.labels), ("membrane_gaps", gaps)):
        io.write_volume(store, f"{name}/{key}", data, voxel_size=vol.voxel_size,
                        overwrite=True)
    sub.attrs["mbl_seg_dataset"] = {**_spec(name),
                                    "checksum": io.checksum(vol.raw, vol.labels, gaps)}
    return CourseDataset(name, vol.raw, vol.labels, vol.membrane_gaps, vol.voxel_size,
                         (0.0, 0.0, 0.0))


def _sections(vol: CourseDataset) -> CourseDataset:
    """Sections >= 64 nm apart as independent 2D images, labels split per section.

    Ids are unique over the whole stack (no object continues from one section
    to the next), so a stack can be evaluated in one call.
    """
    from skimage.measure import label as connected_components

    from ..segment import per_section

    step = int(np.ceil(_SECTION_SPACING_NM / vol.voxel_size[0]))
    idx = np.arange(step // 2, vol.raw.shape[0], step)
    labels = per_section(connected_components, vol.labels[idx], connectivity=1)
    vs = (vol.voxel_size[0] * step, *vol.voxel_size[1:])
    offset = (float(vol.offset[0] + idx[0] * vol.voxel_size[0]), *vol.offset[1:])
    return CourseDataset(vol.name + "2d", vol.raw[idx], labels.astype(np.uint64),
                         vol.membrane_gaps[idx], vs, offset)


def _real(name: str) -> CourseDataset:
    """A real volume from the package data (read each time: 2 MB, no cache needed)."""
    path = Path(__file__).parent / "real" / REAL[name][0]
    with np.load(path) as arrays:
        raw = np.asarray(arrays[REAL[name][1]], np.uint8)
        labels = np.asarray(arrays[REAL[name][2]]).astype(np.uint64)
    return CourseDataset(name, raw, labels, np.zeros(raw.shape, bool), REAL_VOXEL_SIZE,
                         (0.0, 0.0, 0.0))
