"""Your own EM volume on the course's networks: is it ready, and how to make it so.

A network has learnt membranes of a certain width *in voxels* and grey values of a
certain range. A volume of other voxels or grey values must be brought to what the
network saw before it predicts, and the result brought back:

* :func:`check_volume` says whether a volume is ready for a network trained at
  ``network_voxel_size``, and raises a ``ValueError`` that says what to do if not:
  a (z, y, x) array of grey values, voxels within ``tolerance`` of the network's
  (else resample with :func:`to_network_grid`), no anisotropy a 3D network has not
  seen (sections 5x thicker than their pixels cannot be made up by interpolation),
  a usable range of grey values (else :func:`to_uint8`);
* :func:`to_network_grid` resamples raw to the network's voxel size (linear
  interpolation), :func:`to_volume_grid` brings a segmentation back (nearest
  neighbour: ids are never blended);
* :func:`regions` splits a volume whose labels mark membranes 0 (as real
  annotations often do) into membranes, dark organelles and other interior, to see
  where a network's boundary probability goes;
* :func:`grey_values` summarises an intensity distribution (percentiles, mean, std)
  to compare with the network's training data.

Numpy and scipy only (the ground floor); :func:`mbl_seg.apply.segment_volume` runs a
shipped network on a checked volume.

Used in: notebooks/09_real_em, docs/instructors.md (the students' own data).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ._validate import as_voxel_size

__all__ = ["GreyValues", "grey_values", "check_volume", "grid_factors", "to_network_grid",
           "to_volume_grid", "to_uint8", "regions", "TOLERANCE", "MAX_ANISOTROPY"]

TOLERANCE = 0.15  # a voxel size within 15 % of the network's needs no resampling
MAX_ANISOTROPY = 2.0  # z may be this many times thicker (relative to the network's) at most
MIN_SPREAD = 0.5  # the 1st-99th percentile span must be half the training data's at least


class GreyValues(NamedTuple):
    """Percentiles (1st, 50th, 99th), mean and std of a volume's grey values (0-255 scale)."""

    p1: float
    median: float
    p99: float
    mean: float
    std: float

    def __str__(self) -> str:
        return (f"1st-99th percentile {self.p1:.0f}-{self.p99:.0f}, median {self.median:.0f}, "
                f"mean {self.mean:.1f}, std {self.std:.1f}")


def grey_values(raw: np.ndarray, *, sample: int = 1_000_000) -> GreyValues:
    """The grey-value summary of ``raw`` (uint8, or float in [0, 1] read as 0-255).

    At most ``sample`` voxels are read, evenly spaced, so a large volume costs little.
    """
    raw = np.asarray(raw)
    flat = raw.reshape(-1)[::max(1, raw.size // sample)]
    values = flat.astype(np.float64) * (255.0 if np.issubdtype(raw.dtype, np.floating) else 1.0)
    p1, median, p99 = np.percentile(values, [1, 50, 99])
    return GreyValues(float(p1), float(median), float(p99), float(values.mean()),
                      float(values.std()))


def grid_factors(voxel_size: Sequence[float], network_voxel_size: Sequence[float]
                 ) -> tuple[float, ...]:
    """Per axis, how many network voxels one of yours becomes: ``voxel_size / network``.

    >>> grid_factors((10, 10, 10), (8, 8, 8))
    (1.25, 1.25, 1.25)
    """
    ours = as_voxel_size(voxel_size, 3)
    theirs = as_voxel_size(network_voxel_size, 3)
    return tuple(float(a) / float(b) for a, b in zip(ours, theirs))


def check_volume(raw, voxel_size: Sequence[float], *, network_voxel_size: Sequence[float],
                 network_grey_values: GreyValues | None = None,
                 tolerance: float = TOLERANCE, resample: bool = False) -> str:
    """Whether ``raw`` is ready for a network trained at ``network_voxel_size``.

    Parameters
    ----------
    raw : (Z, Y, X) array
        uint8 grey values (or float in [0, 1]); membranes dark, as in the course's data.
    voxel_size : sequence of 3 float
        nm per voxel (z, y, x) of ``raw``.
    network_voxel_size : sequence of 3 float
        nm per voxel of the network's training data (its ``.json`` note says it).
    network_grey_values : GreyValues, optional
        The training data's summary (:func:`grey_values`); if given, a volume whose
        1st-99th percentile span is under half of it is refused.
    tolerance : float
        Relative difference of voxel sizes accepted as it is (default 15 %).
    resample : bool
        The caller resamples to the network's grid next (:func:`to_network_grid`): a
        voxel size beyond ``tolerance`` is then not an error; anisotropy still is.

    Returns
    -------
    str
        One line saying what was checked, if everything holds.

    Raises
    ------
    ValueError, TypeError
        With what was expected, what came, and what to do.

    Examples
    --------
    >>> raw = np.random.default_rng(0).integers(0, 256, (8, 32, 32), dtype=np.uint8)
    >>> check_volume(raw, (8, 8, 8), network_voxel_size=(8, 8, 8))
    'ready: (8, 32, 32) voxels of (8, 8, 8) nm for a network of (8, 8, 8) nm; grey values 2-253'
    >>> check_volume(raw, (10, 10, 10), network_voxel_size=(8, 8, 8))
    Traceback (most recent call last):
    ...
    ValueError: your voxels are (10, 10, 10) nm, the network was trained on (8, 8, 8) nm: \
1.25x in z, 1.25x in y, 1.25x in x, more than the 15 % it tolerates. Resample first: \
to_network_grid(raw, (10, 10, 10), (8, 8, 8)) gives (10, 40, 40) voxels of (8, 8, 8) nm.
    """
    if not all(hasattr(raw, a) for a in ("shape", "dtype", "ndim")):
        raise TypeError(f"raw must be an array (z, y, x), got {type(raw).__name__}")
    if raw.ndim != 3:
        hint = (" (colour images? convert each section to grey first)"
                if raw.ndim == 4 and raw.shape[-1] in (3, 4) else "")
        raise ValueError(f"raw must be one grey-value volume (z, y, x), got shape "
                         f"{tuple(raw.shape)}{hint}")
    if raw.dtype != np.uint8 and not np.issubdtype(raw.dtype, np.floating):
        raise ValueError(f"raw must be uint8 (0-255) or float in [0, 1], got {raw.dtype}: "
                         "convert it with to_uint8(raw), which stretches the 0.5th-99.5th "
                         "percentile to 0-255")
    ours = as_voxel_size(voxel_size, 3)
    theirs = as_voxel_size(network_voxel_size, 3)
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a fraction in (0, 1), e.g. 0.15, got {tolerance}")
    _check_anisotropy(ours, theirs)
    factors = grid_factors(ours, theirs)
    if not resample and any(abs(f - 1) > tolerance for f in factors):
        shape = tuple(int(round(n * f)) for n, f in zip(raw.shape, factors))
        each = ", ".join(f"{f:.3g}x in {a}" for f, a in zip(factors, "zyx"))
        raise ValueError(
            f"your voxels are {_nm(ours)} nm, the network was trained on {_nm(theirs)} nm: "
            f"{each}, more than the {tolerance * 100:g} % it tolerates. Resample first: "
            f"to_network_grid(raw, {_nm(ours)}, {_nm(theirs)}) gives {shape} voxels of "
            f"{_nm(theirs)} nm.")
    if np.issubdtype(raw.dtype, np.floating):
        lo, hi = float(np.nanmin(raw)), float(np.nanmax(raw))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -0.5 or hi > 1.5:
            raise ValueError(f"float raw must be normalised to [0, 1], got values {lo:.3g} to "
                             f"{hi:.3g}: convert it with to_uint8(raw)")
    mine = grey_values(raw)
    if network_grey_values is not None:
        span, theirs_span = mine.p99 - mine.p1, network_grey_values.p99 - network_grey_values.p1
        if span < MIN_SPREAD * theirs_span:
            raise ValueError(
                f"your grey values span {mine.p1:.0f}-{mine.p99:.0f} (1st-99th percentile), "
                f"the network's training data {network_grey_values.p1:.0f}-"
                f"{network_grey_values.p99:.0f}: too little contrast for what it learnt. "
                "Stretch them with to_uint8(raw)")
    return (f"ready: {tuple(int(n) for n in raw.shape)} voxels of {_nm(ours)} nm for a network "
            f"of {_nm(theirs)} nm; grey values {mine.p1:.0f}-{mine.p99:.0f}")


def _check_anisotropy(ours: tuple, theirs: tuple) -> None:
    """Refuse sections much thicker (relative to the pixels) than the network's."""
    mine, learnt = ours[0] / min(ours[1:]), theirs[0] / min(theirs[1:])
    if mine > MAX_ANISOTROPY * learnt:
        raise ValueError(
            f"your sections are {mine:.3g}x as thick as their pixels ({_nm(ours)} nm), the "
            f"network's {learnt:.3g}x ({_nm(theirs)} nm): interpolating the missing sections "
            "would invent what the microscope never saw. Use a 2D network section by section "
            "(notebooks 02-04), or one trained on data like yours (notebook 06 fine-tunes on "
            "36 x 12 x 12 nm zebrafish)")


def to_network_grid(raw: np.ndarray, voxel_size: Sequence[float],
                    network_voxel_size: Sequence[float]) -> np.ndarray:
    """``raw`` resampled to ``network_voxel_size`` (linear interpolation), same dtype.

    >>> to_network_grid(np.zeros((10, 20, 20), np.uint8), (10, 10, 10), (8, 8, 8)).shape
    (12, 25, 25)
    """
    from scipy import ndimage

    raw = np.asarray(raw)
    if raw.ndim != 3:
        raise ValueError(f"raw must be (z, y, x), got shape {raw.shape}")
    factors = grid_factors(voxel_size, network_voxel_size)
    if all(f == 1 for f in factors):
        return raw.copy()
    out = ndimage.zoom(raw.astype(np.float32), factors, order=1, mode="nearest",
                       grid_mode=True)
    if raw.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(raw.dtype)


def to_volume_grid(segmentation: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A segmentation on the network's grid back to the volume's ``shape`` (nearest voxel).

    >>> to_volume_grid(np.arange(4).reshape(1, 2, 2), (1, 4, 4))[0]
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]])
    """
    segmentation = np.asarray(segmentation)
    shape = tuple(int(n) for n in shape)
    if segmentation.ndim != len(shape):
        raise ValueError(f"segmentation {segmentation.shape} and shape {shape} must have the "
                         "same number of axes")
    # the voxel of the network's grid whose centre is nearest to each voxel centre of ours
    index = [np.minimum(((np.arange(n) + 0.5) * m / n).astype(np.int64), m - 1)
             for n, m in zip(shape, segmentation.shape)]
    return segmentation[np.ix_(*index)]


def to_uint8(raw: np.ndarray, *, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Any grey values (e.g. uint16) stretched to uint8: percentile ``low`` -> 0, ``high`` -> 255.

    >>> to_uint8(np.array([[[1000, 2000, 3000]]], np.uint16), low=0, high=100)
    array([[[  0, 128, 255]]], dtype=uint8)
    """
    raw = np.asarray(raw)
    values = raw.astype(np.float64)
    a, b = np.nanpercentile(values, [low, high])
    if not b > a:
        raise ValueError(f"raw has one grey value ({a:g}) between the {low}th and {high}th "
                         "percentile: nothing to stretch")
    return np.clip(np.rint((values - a) / (b - a) * 255), 0, 255).astype(np.uint8)


def regions(raw: np.ndarray, labels: np.ndarray, *, margin: int = 2) -> dict[str, np.ndarray]:
    """Boolean masks of a (Z, Y, X) volume whose labels are 0 on membranes.

    ``"membrane"``: label 0; ``"dark organelle"``: interior voxels (at least ``margin``
    voxels from another label or a membrane, in their section) darker than the mean
    membrane, the mitochondria and vesicle clouds a network may take for membrane;
    ``"other interior"``: the rest of the interior.

    >>> labels = np.array([[[1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2]]], np.uint64)
    >>> raw = np.array([[[200, 200, 50, 200, 200, 60, 200, 200, 200, 200, 200]]], np.uint8)
    >>> {k: np.flatnonzero(m).tolist() for k, m in regions(raw, labels).items()}
    {'membrane': [5], 'dark organelle': [2], 'other interior': [0, 1, 8, 9, 10]}
    """
    from scipy import ndimage

    raw, labels = np.asarray(raw), np.asarray(labels)
    if raw.shape != labels.shape or raw.ndim != 3:
        raise ValueError(f"raw and labels must be (Z, Y, X) of the same shape, got {raw.shape} "
                         f"and {labels.shape}")
    membrane = labels == 0
    if not membrane.any():
        raise ValueError("no voxel is labelled 0: regions() needs labels that mark membranes 0")
    # a voxel is interior if every voxel within `margin` (in its section) has its label
    size = (1, 2 * margin + 1, 2 * margin + 1)
    same = (ndimage.maximum_filter(labels, size=size, mode="nearest")
            == ndimage.minimum_filter(labels, size=size, mode="nearest"))
    interior = same & ~membrane
    dark = interior & (raw < raw[membrane].mean())
    return {"membrane": membrane, "dark organelle": dark, "other interior": interior & ~dark}


def _nm(size: tuple) -> str:
    return "(" + ", ".join(f"{v:g}" for v in size) + ")"
