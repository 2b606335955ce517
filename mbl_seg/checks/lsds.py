"""Self-checks for the LSD exercises: the offset to the centre of mass, the multi-task loss.

Used in: notebooks/06_lsds
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..losses import LSD_WEIGHT, batch_affinity_loss, batch_lsd_loss, batch_mtlsd_loss
from ..lsd import centre_offsets
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_centre_offsets", "check_mtlsd_loss"]


def _label_cases() -> list[tuple[np.ndarray, float, tuple[float, ...]]]:
    """Small label images with (sigma nm, voxel size nm): 2D, 3D, anisotropic, background."""
    bar = np.zeros((9, 12), np.uint64)
    bar[2:5, 1:10] = 3  # a bar: offsets point along it towards its middle
    bar[6:9, 4:7] = 8
    rng = np.random.default_rng(7)
    blobs = rng.integers(0, 3, size=(4, 8, 8)).astype(np.uint64)
    blobs[:, :4] = 5  # one object filling half of every section
    return [(bar, 16.0, (8.0, 8.0)), (bar, 30.0, (10.0, 5.0)), (blobs, 40.0, (30.0, 10.0, 10.0))]


def _offset_mistakes(labels, sigma, voxel_size) -> dict[str, np.ndarray]:
    right = centre_offsets(labels, sigma=sigma, voxel_size=voxel_size)
    scale = np.asarray(voxel_size).reshape((-1,) + (1,) * labels.ndim)
    sigma_in_voxels = tuple(sigma * v for v in voxel_size)  # gaussian_filter given nm as voxels
    return {
        "sign": -right,
        "voxels": right / scale,
        "sigma": centre_offsets(labels, sigma=sigma_in_voxels, voxel_size=voxel_size),
    }


_OFFSET_HINTS = {
    "sign": "the offset points from the voxel *to* the centre of mass: mean position minus "
            "the voxel's own position, not the other way round",
    "voxels": "your offsets are in voxels; multiply the coordinates by the voxel size so "
              "that they are in nm",
    "sigma": "gaussian_filter takes sigma in voxels: divide sigma (nm) by the voxel size of "
             "each axis",
}


def _offsets_body(fn: Callable) -> str:
    for labels, sigma, voxel_size in _label_cases():
        got = _call(fn, labels, sigma, voxel_size)
        if got is None:
            raise _Fail("your function returned None: did you forget the `return` line?")
        got = np.asarray(got, dtype=np.float64)
        want = centre_offsets(labels, sigma=sigma, voxel_size=voxel_size)
        if got.shape != want.shape:
            raise _Fail(f"for labels of shape {labels.shape} your offsets have shape {got.shape}, "
                        f"expected {want.shape}: one channel per axis, first")
        if np.allclose(got, want, atol=1e-3):
            continue
        inside = labels != 0
        if not np.allclose(got[:, ~inside], 0):
            raise _Fail("background voxels (label 0) must get offset 0: they belong to no object")
        hint = next((_OFFSET_HINTS[name] for name, wrong in
                     _offset_mistakes(labels, sigma, voxel_size).items()
                     if np.allclose(got, wrong, atol=1e-3)),
                    "per object: count = G * mask, mean = G * (x * mask) / count, offset = "
                    "mean - x (x the voxel's position in nm, G a Gaussian filter with "
                    "mode='constant', truncate=3)")
        worst = float(np.abs(got - want).max())
        raise _Fail(f"for a {labels.ndim}D example (sigma {sigma:g} nm, voxel size {voxel_size}) "
                    f"your offsets are off by up to {worst:.3g} nm. Hint: {hint}")
    return "your offsets match in 2D, 3D and with anisotropic voxels"


def check_centre_offsets(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(labels, sigma, voxel_size) -> offsets``: nm to the local centre of mass.

    ``offsets`` is ``(ndim, *labels.shape)``: for every voxel of an object, the
    Gaussian-weighted (``sigma`` nm, truncated at 3 sigma, zero outside the
    image) mean position of that object's voxels minus the voxel's own
    position, in nm; 0 on background. :func:`mbl_seg.lsd.centre_offsets` is
    the reference.

    Examples
    --------
    >>> from mbl_seg.lsd import centre_offsets
    >>> check_centre_offsets(lambda l, s, v: centre_offsets(l, sigma=s, voxel_size=v)).passed
    ✅ centre_offsets: correct — your offsets match in 2D, 3D and with anisotropic voxels
    True

    Used in: notebooks/06_lsds
    """
    return _run("centre_offsets", lambda: _offsets_body(fn), verbose)


def _batch(seed: int) -> tuple[torch.Tensor, dict]:
    g = torch.Generator().manual_seed(seed)
    spatial = (6, 10, 10)
    batch = {"affs": (torch.rand((2, 3, *spatial), generator=g) > 0.3).float(),
             "affs_mask": (torch.rand((2, 3, *spatial), generator=g) > 0.1).float(),
             "lsds": torch.rand((2, 10, *spatial), generator=g),
             "lsds_mask": (torch.rand((2, 1, *spatial), generator=g) > 0.2).float()}
    logits = torch.randn((2, 13, 4, 6, 6), generator=g)  # a valid net: smaller output
    return logits, batch


def _mtlsd_body(fn: Callable) -> str:
    for seed in (0, 1):
        logits, batch = _batch(seed)
        got = _call(fn, logits.clone(), {k: v.clone() for k, v in batch.items()})
        if got is None:
            raise _Fail("your function returned None: did you forget the `return` line?")
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise _Fail(f"your loss should be one number as a torch tensor (so that it can be "
                        f"back-propagated), got {got!r}")
        want = batch_mtlsd_loss(logits, batch)
        if torch.allclose(got.float(), want, atol=1e-5):
            continue
        affs = batch_affinity_loss(logits[:, :3], batch)
        lsds = batch_lsd_loss(logits[:, 3:], batch)
        swapped = batch_affinity_loss(logits[:, 10:], batch) + LSD_WEIGHT * batch_lsd_loss(
            logits[:, :10], batch)
        mistakes = [(affs + lsds, f"weigh the LSD term: affinity loss + {LSD_WEIGHT:g} x LSD loss"),
                     (affs, "the LSD term is missing: add LSD_WEIGHT x batch_lsd_loss of channels "
                            "3-12"),
                     (LSD_WEIGHT * lsds, "the affinity term is missing: add batch_affinity_loss "
                                         "of channels 0-2"),
                     (swapped, "the affinities are the first 3 channels, the LSDs the last 10")]
        hint = next((h for value, h in mistakes if torch.allclose(got.float(), value, atol=1e-5)),
                    "split the 13 channels (affinities 0-2, LSDs 3-12), take each head's loss "
                    "(targets cropped to the output) and add them, the LSDs weighted")
        raise _Fail(f"your loss is {got.item():.4f}, expected {want.item():.4f}. Hint: {hint}")
    return "your multi-task loss matches on two random batches"


def check_mtlsd_loss(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(logits, batch) -> loss``: affinity BCE + ``LSD_WEIGHT`` x LSD MSE.

    ``logits`` is (b, 13, z, y, x) from a valid network (channels 0-2
    affinities, 3-12 LSDs); ``batch`` holds ``affs``, ``affs_mask``, ``lsds``
    and ``lsds_mask`` of the input's size. :func:`mbl_seg.losses.batch_mtlsd_loss`
    is the reference.

    Examples
    --------
    >>> check_mtlsd_loss(batch_mtlsd_loss).passed
    ✅ mtlsd_loss: correct — your multi-task loss matches on two random batches
    True

    Used in: notebooks/06_lsds
    """
    return _run("mtlsd_loss", lambda: _mtlsd_body(fn), verbose)
