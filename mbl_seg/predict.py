"""Run a trained network over whole images or volumes (numpy in, numpy out).

The input is padded by mirroring so that every output voxel sees the same
context as in training (valid nets) and the padded size fits the net; the
output is cropped back to the input's spatial shape.

Used in: notebooks/02_deep_boundaries, 03_affinities, 04_malis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch

from ._validate import as_number
from .env import select_device, use_amp
from .pipeline import normalize

__all__ = ["predict"]


def _padding(model, spatial: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per-axis (before, after) padding of one image so that it fits the net."""
    valid = getattr(model, "padding", "same") == "valid"
    context = tuple(model.context) if valid else (0,) * len(spatial)
    wanted = tuple(s + c for s, c in zip(spatial, context))
    if hasattr(model, "valid_input_shape"):
        shape = tuple(model.valid_input_shape(near=wanted, round="up"))
    else:
        shape = wanted
    before = [c // 2 if valid else (n - s) // 2 for c, n, s in zip(context, shape, spatial)]
    return [(b, n - s - b) for b, n, s in zip(before, shape, spatial)]


def _crop(output: torch.Tensor, pads, spatial, valid: bool) -> torch.Tensor:
    if valid:  # output voxel j sits at padded input j + context // 2, i.e. at input j
        return output[(..., *(slice(0, s) for s in spatial))]
    return output[(..., *(slice(b, b + s) for (b, _), s in zip(pads, spatial)))]


def predict(model: torch.nn.Module, raw: np.ndarray, *, sections: bool = False,
            activation: Callable[[torch.Tensor], torch.Tensor] | None = torch.sigmoid,
            device: str | None = None, batch_size: int = 4, amp: bool | None = None,
            ) -> np.ndarray:
    """Predict ``model`` on a whole image, volume or stack of sections.

    Parameters
    ----------
    model : torch.nn.Module
        A network taking (b, c, *spatial); a :class:`mbl_seg.models.UNet`
        tells its padding and valid shapes, other modules are run as they are.
    raw : (Y, X), (Z, Y, X) ndarray, or (C, ...) with ``C = in_channels``
        uint8 EM (normalised to [0, 1] here) or float input already in [0, 1]
        (see :func:`mbl_seg.pipeline.normalize`: nan, empty arrays and floats
        far outside [0, 1] are refused).
    sections : bool, optional
        Treat a (Z, Y, X) array as a stack of independent 2D sections (for a
        2D net); else a 2D net needs (Y, X) and a 3D net (Z, Y, X).
    activation : callable or None, optional
        Applied to the network output (default sigmoid: logits → probabilities).
    device : str, optional
        "cuda", "mps" or "cpu"; default: the best available.
    batch_size : int, optional
        Sections per forward pass, at least 1.
    amp : bool, optional
        Mixed precision (default: on CUDA only).

    Returns
    -------
    (C_out, *spatial) ndarray of float32
        For sections: (C_out, Z, Y, X).
    """
    batch_size = as_number(batch_size, "batch_size", integer=True, positive=True)
    raw = normalize(np.asarray(raw))
    dims = getattr(model, "dims", None) or (2 if sections else raw.ndim)
    in_channels = getattr(model, "in_channels", 1)
    spatial_ndim = dims + (1 if sections else 0)
    if raw.ndim == spatial_ndim:
        raw = raw[None]
    if raw.ndim != spatial_ndim + 1 or raw.shape[0] != in_channels:
        raise ValueError(
            f"raw must be {'(z, y, x) sections' if sections else f'{dims}D'} with optional "
            f"{in_channels} channel(s) first for this {dims}D net, got shape {raw.shape}")
    images = np.moveaxis(raw, 1, 0) if sections else raw[None]  # (n, c, *spatial)
    device = select_device(device)
    kind = torch.device(device).type  # "cuda:1" -> "cuda"
    amp = use_amp(amp, device)
    pads = _padding(model, images.shape[2:])
    valid = getattr(model, "padding", "same") == "valid"
    mode = "reflect" if all(max(p) < s for p, s in zip(pads, images.shape[2:])) else "symmetric"
    padded = np.pad(images, [(0, 0), (0, 0), *pads], mode=mode)
    was_training = model.training
    model.to(device).eval()
    outputs = []
    autocast = (torch.autocast(device_type=kind, dtype=torch.float16) if amp
                else contextlib.nullcontext())
    with torch.no_grad(), autocast:
        for start in range(0, len(padded), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(padded[start:start + batch_size]))
            y = model(x.to(device)).float()
            y = activation(y) if activation is not None else y
            outputs.append(_crop(y, pads, images.shape[2:], valid).cpu().numpy())
    model.train(was_training)
    out = np.concatenate(outputs).astype(np.float32)
    return np.moveaxis(out, 0, 1) if sections else out[0]
