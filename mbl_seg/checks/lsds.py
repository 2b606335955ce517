"""Self-checks for the LSD exercises: the offset to the centre of mass, the multi-task loss.

Used in: notebooks/06_lsds
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..losses import (LSD_WEIGHT, balanced_bce, batch_affinity_loss, batch_lsd_loss,
                      batch_mtlsd_loss, lsd_loss)
from ..models import center_crop
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
        "axes": right[::-1],
    }


_OFFSET_HINTS = {
    "sign": "the offset points from the voxel *to* the centre of mass: mean position minus "
            "the voxel's own position, not the other way round",
    "voxels": "your offsets are in voxels; multiply the coordinates by the voxel size so "
              "that they are in nm",
    "axes": "your channels are in the reverse order of the axes: channel k is the offset along "
            "axis k of the labels, (z, y, x) in 3D and (y, x) in 2D, not (x, y)",
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
    # a valid net: smaller output; every channel its own offset, so that taking the wrong
    # channels changes the loss clearly
    logits = (torch.randn((2, 13, 4, 6, 6), generator=g)
              + torch.linspace(-2, 2, 13).reshape(1, 13, 1, 1, 1))
    return logits, batch


def _unmasked_lsd_loss(predicted, target, mask) -> torch.Tensor:
    """The LSD loss's MSE of ``predicted`` as it is (no sigmoid), over the masked voxels."""
    squared = (predicted - target) ** 2 * mask
    return squared.sum() / (mask.sum() * target.shape[1])


def _mtlsd_mistakes(logits: torch.Tensor, batch: dict) -> list[tuple[torch.Tensor, str]]:
    """(wrong loss, hint) for the typical ways of writing the multi-task loss wrong."""
    shape = logits.shape[2:]
    affs_target, lsds_target = center_crop(batch["affs"], shape), center_crop(batch["lsds"], shape)
    lsds_mask = center_crop(batch["lsds_mask"], shape)
    affs = batch_affinity_loss(logits[:, :3], batch)
    lsds = batch_lsd_loss(logits[:, 3:], batch)
    affs_unmasked = balanced_bce(logits[:, :3], affs_target)
    lsds_unmasked = lsd_loss(logits[:, 3:], lsds_target)
    mistakes = [
        (affs + lsds, f"weigh the LSD term: affinity loss + {LSD_WEIGHT:g} x LSD loss"),
        (affs, "the LSD term is missing: add LSD_WEIGHT x batch_lsd_loss of channels 3-12"),
        (LSD_WEIGHT * lsds, "the affinity term is missing: add batch_affinity_loss of channels "
                            "0-2"),
        (batch_affinity_loss(logits[:, 10:], batch)
         + LSD_WEIGHT * batch_lsd_loss(logits[:, :10], batch),
         "the affinities are the first 3 channels, the LSDs the last 10"),
        (affs_unmasked + LSD_WEIGHT * lsds_unmasked,
         "use the masks: voxels without annotation or without a whole LSD window must not count "
         "(balanced_bce(..., mask=affs_mask) and lsd_loss(..., mask=lsds_mask), both cropped to "
         "the output like the targets)"),
        (affs + LSD_WEIGHT * lsds_unmasked,
         "the LSD term ignores lsds_mask: voxels whose LSD window is cut must not count "
         "(lsd_loss(..., mask=lsds_mask), cropped to the output)"),
        (affs_unmasked + LSD_WEIGHT * lsds,
         "the affinity term ignores affs_mask: unannotated edges must not count "
         "(balanced_bce(..., mask=affs_mask), cropped to the output)"),
        (affs + LSD_WEIGHT * _unmasked_lsd_loss(logits[:, 3:], lsds_target, lsds_mask),
         "the LSD term compares the logits with the LSDs: take the sigmoid first (lsd_loss "
         "does), the LSDs lie in [0, 1] and the logits do not"),
    ]
    channels = ("the affinities are channels 0-2 (logits[:, :3]) and the LSDs channels 3-12 "
                "(logits[:, 3:]); a slice stops before its end index")
    for a in range(0, 11):  # every other 3 + 10 channel split
        for b in range(0, 4):
            if (a, b) != (0, 3):
                mistakes.append((batch_affinity_loss(logits[:, a:a + 3], batch)
                                 + LSD_WEIGHT * batch_lsd_loss(logits[:, b:b + 10], batch),
                                 channels))
    return mistakes


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
        hint = next((h for value, h in _mtlsd_mistakes(logits, batch)
                     if torch.allclose(got.float(), value, atol=1e-5)),
                    "split the 13 channels (affinities 0-2, LSDs 3-12), take each head's loss "
                    "(targets cropped to the output) and add them, the LSDs weighted")
        raise _Fail(f"your loss is {got.item():.5f}, expected {want.item():.5f} (the check "
                    f"allows 1e-5). Hint: {hint}")
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
