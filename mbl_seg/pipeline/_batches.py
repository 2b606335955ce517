"""2D (and simple 3D) training batches: random crops, flips, targets made on the fly.

A batch is a dict of numpy arrays shaped ``(b, c, *spatial)``: ``raw`` (float32,
normalised to [0, 1]) and whatever the ``targets`` functions make from the
cropped labels. :func:`batch_maker` returns ``make_batch(rng)``, the function
:func:`mbl_seg.train.train` calls once per iteration with a generator seeded
from (seed, iteration) — so batch ``i`` is the same in every run.

Used in: notebooks/02_deep_boundaries, 03_affinities, 04_malis.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np

from .._validate import as_image, as_labels, as_number, as_voxel_size, same_shape
from ..io import checksum

__all__ = ["normalize", "random_crop", "augment", "intensity_augment", "batch_maker"]


def normalize(raw: np.ndarray) -> np.ndarray:
    """Raw EM as float32 in [0, 1] (uint8 / 255; floats are passed through as float32).

    Float raw must already be normalised: values outside [-0.5, 1.5] (e.g. 0-255
    stored as float, or z-scored data) are refused, as are nan, inf and empty
    arrays; a network trained on [0, 1] would silently see something else.

    >>> normalize(np.array([0, 255], np.uint8))
    array([0., 1.], dtype=float32)
    """
    if not isinstance(raw, np.ndarray):
        raise TypeError(f"raw must be a numpy array, got {type(raw).__name__}")
    if raw.size == 0:
        raise ValueError(f"raw is empty (shape {raw.shape}): every axis needs at least one voxel")
    if raw.dtype == np.uint8:
        return raw.astype(np.float32) / 255.0
    if not np.issubdtype(raw.dtype, np.floating):
        raise TypeError(f"raw must be uint8 (0-255) or float in [0, 1], got dtype {raw.dtype}")
    raw = raw.astype(np.float32, copy=False)
    finite = np.isfinite(raw)
    if not finite.all():
        raise ValueError(f"raw contains nan or inf ({raw.size - np.count_nonzero(finite)} of "
                         f"{raw.size} values): expected uint8 (0-255) or finite float in [0, 1]")
    lo, hi = float(raw.min()), float(raw.max())
    if lo < -0.5 or hi > 1.5:  # some slack: noise or a filter may step a little outside
        raise ValueError(f"raw must be uint8 (0-255) or float normalised to [0, 1], got float "
                         f"values from {lo:.4g} to {hi:.4g}: 8-bit values stored as float? "
                         "divide it by 255, or pass the uint8 array as it is")
    return raw


def random_crop(shape: Sequence[int], crop: Sequence[int],
                rng: np.random.Generator) -> tuple[slice, ...]:
    """Slices of a random ``crop``-sized window inside an array of ``shape``.

    >>> random_crop((10, 10), (10, 4), np.random.default_rng(0))[0]
    slice(0, 10, None)
    """
    shape, crop = tuple(shape), tuple(crop)
    if len(shape) != len(crop) or any(c > s or c < 1 for c, s in zip(crop, shape)):
        raise ValueError(f"crop {crop} does not fit in an array of shape {shape}")
    starts = [int(rng.integers(0, s - c + 1)) for s, c in zip(shape, crop)]
    return tuple(slice(a, a + c) for a, c in zip(starts, crop))


def augment(arrays: list[np.ndarray], rng: np.random.Generator, *, ndim: int,
            transpose: bool = True) -> list[np.ndarray]:
    """The same random flips (every axis) and y/x transpose applied to all ``arrays``.

    Flips and transposes change nothing a label or boundary means, so targets
    computed after them are still right (affinities must be computed after).
    The last ``ndim`` axes are spatial; the transpose is drawn but only done
    when ``transpose`` allows it (y and x voxels of the same size) and y and
    x have the same size (it would change the patch shape).
    """
    flips = rng.integers(0, 2, size=ndim).astype(bool)
    transpose = (bool(rng.integers(0, 2)) and transpose
                 and arrays[0].shape[-1] == arrays[0].shape[-2])
    out = []
    for a in arrays:
        lead = a.ndim - ndim
        axes = tuple(lead + i for i in np.flatnonzero(flips))
        a = np.flip(a, axis=axes) if axes else a
        if transpose:
            a = np.swapaxes(a, -1, -2)
        out.append(np.ascontiguousarray(a))
    return out


def intensity_augment(raw: np.ndarray, rng: np.random.Generator, *,
                      contrast: tuple[float, float] = (0.75, 1.3),
                      brightness: tuple[float, float] = (-0.12, 0.12),
                      gamma: tuple[float, float] = (0.7, 1.45),
                      noise: tuple[float, float] = (0.0, 0.05)) -> np.ndarray:
    """A random change of contrast, brightness, gamma and noise (float32 in [0, 1]).

    Microscopes, stains and sessions change how EM looks; the shapes stay.
    Showing the network many looks of the same shapes keeps it from learning
    the look ("membranes are exactly this grey") instead of the shapes.
    Contrast is scaled around the patch mean, then brightness is added, then
    the gamma curve and Gaussian noise of a random strength; each factor is
    drawn uniformly from its range.

    Examples
    --------
    >>> x = np.linspace(0, 1, 5, dtype=np.float32)
    >>> y = intensity_augment(x, np.random.default_rng(0), noise=(0, 0))
    >>> bool(np.all(np.diff(y) >= 0)), y.dtype
    (True, dtype('float32'))
    """
    raw = normalize(raw)
    c, b, g, n = (rng.uniform(*r) for r in (contrast, brightness, gamma, noise))
    mean = raw.mean()
    out = np.clip((raw - mean) * c + mean + b, 0.0, 1.0) ** g
    out = out + n * rng.standard_normal(raw.shape, dtype=np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def batch_maker(raw: np.ndarray, labels: np.ndarray, *, voxel_size: Sequence[float],
                patch_shape: Sequence[int],
                targets: dict[str, Callable[[np.ndarray], np.ndarray]],
                batch_size: int = 4, sections: bool = False,
                augment_data: bool = True,
                augment_intensity: bool = True) -> Callable[[np.random.Generator], dict]:
    """A ``make_batch(rng)`` function drawing random augmented crops with their targets.

    Parameters
    ----------
    raw : (Z, Y, X) ndarray of uint8 or float
        The EM volume (or a stack of 2D sections).
    labels : (Z, Y, X) ndarray of uint64
        Ground truth for ``raw``.
    voxel_size : sequence of 3 floats
        nm per voxel (z, y, x) of ``raw``, required. A target function that
        takes a ``voxel_size`` keyword (e.g. :func:`mbl_seg.targets.boundaries`)
        gets the crop's voxel size ((y, x) for 2D patches); y and x are only
        transposed when their voxels are the same size.
    patch_shape : tuple of int
        Crop size, (y, x) for 2D patches from sections or (z, y, x).
    targets : dict of name -> callable
        Each ``fn(label_crop) -> (c, *spatial) or (*spatial) float32`` gives one
        entry of the batch, e.g. ``{"target": boundaries}`` (called as
        ``boundaries(crop, voxel_size=...)``, see ``voxel_size``).
    batch_size : int, optional
        Crops per batch.
    sections : bool, optional
        Draw 2D crops from single sections (needed for the ``*2d`` datasets).
        Implied when ``patch_shape`` has two entries.
    augment_data : bool, optional
        Random flips and y/x transposes.
    augment_intensity : bool, optional
        A random contrast, brightness, gamma and noise per crop
        (:func:`intensity_augment`), so that the network learns shapes, not
        one microscope's grey values.

    Returns
    -------
    callable
        ``make_batch(rng) -> {"raw": (b, 1, *patch), name: (b, c, *patch), ...}``,
        float32, except targets that come out as integers (e.g. labels for MALIS),
        which keep their integer dtype.

    Examples
    --------
    >>> raw = np.zeros((2, 16, 16), np.uint8); labels = np.ones((2, 16, 16), np.uint64)
    >>> make = batch_maker(raw, labels, voxel_size=(40, 8, 8), patch_shape=(8, 8),
    ...                    targets={"fg": lambda l: l > 0})
    >>> {k: v.shape for k, v in make(np.random.default_rng(0)).items()}
    {'raw': (4, 1, 8, 8), 'fg': (4, 1, 8, 8)}
    """
    if not isinstance(targets, dict) or not all(
            isinstance(k, str) and callable(f) for k, f in targets.items()):
        raise TypeError("targets must be a dict of name -> function of a label crop, e.g. "
                        f"{{'target': boundaries}}, got {targets!r}")
    for name, array in (("raw", raw), ("labels", labels)):
        if np.ndim(array) == 2:
            raise ValueError(
                f"batch_maker takes a (z, y, x) stack, got a 2D {name} section of shape "
                f"{np.shape(array)}: for 2D training pass a stack of sections with patch_shape "
                "(y, x); to train on this one section, add the axis: raw[None], labels[None]")
    raw = normalize(as_image(raw, ndim=(3,)))
    labels = as_labels(labels, ndim=(3,))
    same_shape(raw, labels, ("raw", "labels"))
    if np.ndim(patch_shape) != 1 or len(patch_shape) not in (2, 3):
        raise ValueError(f"patch_shape must be (y, x) or (z, y, x), got {patch_shape!r}")
    patch_shape = tuple(as_number(p, "patch_shape entries", integer=True, positive=True)
                        for p in patch_shape)
    sections = sections or len(patch_shape) == 2
    if sections and len(patch_shape) != 2:
        raise ValueError(f"with sections=True, patch_shape is (y, x), got {patch_shape}")
    window = (1, *patch_shape) if sections else patch_shape
    voxel_size = as_voxel_size(voxel_size, 3)
    crop_voxel = voxel_size[1:] if sections else voxel_size
    takes_voxel_size = {name: _takes_voxel_size(fn) for name, fn in targets.items()}
    random_crop(raw.shape, window, np.random.default_rng(0))  # fail early if it can't fit
    batch_size = as_number(batch_size, "batch_size", integer=True, positive=True)

    def make_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
        items = []
        for _ in range(batch_size):
            where = random_crop(raw.shape, window, rng)
            r, lab = raw[where], labels[where]
            if sections:
                r, lab = r[0], lab[0]
            if augment_data:
                r, lab = augment([r, lab], rng, ndim=len(patch_shape),
                                 transpose=voxel_size[1] == voxel_size[2])
            if augment_intensity:
                r = intensity_augment(r, rng)
            item = {"raw": r[None]}
            for name, fn in targets.items():
                t = np.asarray(fn(lab, voxel_size=crop_voxel) if takes_voxel_size[name]
                               else fn(lab))
                # labels stay integers (float32 would round ids above 2**24)
                t = t if np.issubdtype(t.dtype, np.integer) else t.astype(np.float32)
                item[name] = t if t.ndim == len(patch_shape) + 1 else t[None]
            items.append(item)
        return {k: np.stack([it[k] for it in items]) for k in items[0]}

    # what a checkpoint compares to tell this run from another (mbl_seg.train)
    make_batch.config = {
        "raw": _fingerprint(raw), "labels": _fingerprint(labels),
        "voxel_size": list(voxel_size),
        "patch_shape": list(patch_shape), "batch_size": int(batch_size),
        "sections": bool(sections), "targets": sorted(targets),
        "augment_data": bool(augment_data), "augment_intensity": bool(augment_intensity),
    }
    return make_batch


def _takes_voxel_size(fn: Callable) -> bool:
    """Whether ``fn`` has a ``voxel_size`` parameter (a target in nm needs one)."""
    try:
        return "voxel_size" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def _fingerprint(array: np.ndarray) -> str:
    """Shape, dtype and a hash of the contents: equal arrays, equal fingerprints."""
    return f"{array.dtype}{list(array.shape)}:{checksum(array)}"
