"""Auto-context LSDs (ACRLSD): a second network that reads raw and the LSDs the first predicted.

In the LSD paper's auto-context variant, one network predicts the ten LSDs
from raw; a second network, trained afterwards with the first one fixed, takes
raw *and* those predicted descriptors and predicts the affinities. The second
network gets the shape summary of the first as input instead of having to
learn it in its own trunk, at the price of running two networks.

:class:`AutoContext` is that pair as one module: ``raw -> affinity logits``,
valid-padded like the course's U-Nets, so training, :func:`mbl_seg.predict.predict_blocks`
and the notebooks treat it like any other network. The LSD network is frozen
(no gradients, always in eval mode); only the context network learns.

Over a whole volume, :func:`predict_two_pass` runs the pair as the paper's pipeline
does: the LSDs of the whole volume first, then the affinities from raw + LSDs. It equals
the one-pass prediction away from the volume's faces (where the context network reads
mirrored LSDs instead of the LSDs of mirrored raw), takes less than half the time (the
LSD network reads no second margin of context), and can reuse LSDs already predicted.

A shipped ACRLSD checkpoint holds the context network's weights and the name
and SHA-256 of the LSD network it was trained on (see :func:`load_autocontext`):
retraining that LSD network makes the ACRLSD one stale, and loading it then
fails with the reason instead of predicting from descriptors it never saw.

Used in: notebooks/06_lsds, scripts/train_course_models.py.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .models import UNet, ValidShapes, center_crop

__all__ = ["AutoContext", "file_digest", "load_autocontext", "predict_two_pass"]

LSD_CHANNELS = 10  # the last 10 outputs of an LSD network are the descriptors


class AutoContext(nn.Module):
    """Raw -> (frozen) LSD network -> raw + LSDs -> context network -> affinity logits.

    Parameters
    ----------
    lsd_network : UNet
        Predicts LSD logits as its last 10 output channels (``06_lsd_fly``);
        frozen here.
    context_network : UNet
        ``in_channels`` = 11 (raw + 10 LSDs), valid padding, the same dims.
    lsd_source : dict, optional
        Where the LSD network came from (shipped name and SHA-256), kept in ``config``.

    >>> from mbl_seg.models import unet3d
    >>> lsd = unet3d((8, 8, 8), out_channels=10, seed=0)
    >>> net = AutoContext(lsd, unet3d((8, 8, 8), in_channels=11, seed=1))
    >>> shape = net.valid_input_shape(near=(100, 100, 100))
    >>> shape, net.output_shape(shape), net.context
    ((100, 100, 100), (20, 20, 20), (80, 80, 80))
    """

    padding = "valid"
    in_channels = 1

    def __init__(self, lsd_network: UNet, context_network: UNet, *,
                 lsd_source: Mapping | None = None):
        super().__init__()
        for name, net in (("lsd_network", lsd_network), ("context_network", context_network)):
            if not isinstance(net, UNet) or net.padding != "valid":
                raise TypeError(f"{name} must be a valid-padded mbl_seg.models.UNet, got "
                                f"{type(net).__name__}")
        if lsd_network.out_channels < LSD_CHANNELS or lsd_network.in_channels != 1:
            raise ValueError(f"lsd_network must read 1 raw channel and predict at least "
                             f"{LSD_CHANNELS} LSD channels (last), got {lsd_network.in_channels}"
                             f" in, {lsd_network.out_channels} out")
        if context_network.in_channels != 1 + LSD_CHANNELS:
            raise ValueError(f"context_network must read raw + {LSD_CHANNELS} LSDs "
                             f"({1 + LSD_CHANNELS} channels), got {context_network.in_channels}")
        if context_network.dims != lsd_network.dims:
            raise ValueError("the two networks must have the same dims")
        self.lsd_network, self.context_network = lsd_network, context_network
        self.lsd_network.requires_grad_(False)
        self.lsd_network.eval()
        self.dims, self.out_channels = context_network.dims, context_network.out_channels
        self.config = {"autocontext": dict(lsd_source or {}),
                       "lsd_network": lsd_network.config,
                       "context_network": context_network.config}

    def train(self, mode: bool = True) -> AutoContext:
        """Train the context network only: the LSD network stays in eval mode."""
        super().train(mode)
        self.lsd_network.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            descriptors = torch.sigmoid(self.lsd_network(x)[:, -LSD_CHANNELS:])
        raw = center_crop(x, descriptors.shape[2:])
        return self.context_network(torch.cat([raw, descriptors.to(raw.dtype)], dim=1))

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """Spatial output for a spatial input (ValueError if either network does not fit)."""
        return self.context_network.output_shape(self.lsd_network.output_shape(input_shape))

    @property
    def context(self) -> tuple[int, ...]:
        """Input minus output size per axis: both networks' context."""
        return tuple(a + b for a, b in zip(self.lsd_network.context,
                                           self.context_network.context))

    def valid_input_shapes(self) -> ValidShapes:
        """Smallest valid input and step per axis: the LSD output must fit the context net."""
        a, b = self.lsd_network.valid_input_shapes(), self.context_network.valid_input_shapes()
        lsd_context = self.lsd_network.context
        smallest, step = [], []
        for axis in range(self.dims):
            period = math.lcm(a.step[axis], b.step[axis])
            size = max(a.smallest[axis], b.smallest[axis] + lsd_context[axis])
            for _ in range(period):  # one residue per step of the LSD net's valid sizes
                fits_a = (size - a.smallest[axis]) % a.step[axis] == 0
                fits_b = (size - lsd_context[axis] - b.smallest[axis]) % b.step[axis] == 0
                if fits_a and fits_b:
                    break
                size += 1
            else:
                raise ValueError("no input fits both networks: their pooling steps disagree")
            smallest.append(size)
            step.append(period)
        return ValidShapes(tuple(smallest), tuple(step))

    def shipped_entries(self) -> dict:
        """What a shipped checkpoint holds: the context net's weights and the pair's config."""
        if not {"name", "sha256"} <= set(self.config["autocontext"]):
            raise ValueError("a shipped ACRLSD network needs lsd_source={'name': ..., "
                             "'sha256': ...}: the shipped LSD network it reads")
        return {"model": self.context_network.state_dict(), "config": self.config}

    # the same rounding as UNet's, on this pair's smallest shape and step
    valid_input_shape = UNet.valid_input_shape


def file_digest(path) -> str:
    """SHA-256 of a file (hex): which LSD network an ACRLSD checkpoint was trained on."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_autocontext(path, info: Mapping, lsd_path, lsd_network: UNet) -> AutoContext:
    """Rebuild a shipped ACRLSD network from its checkpoint ``info`` (read from ``path``).

    ``lsd_path`` is the LSD network's checkpoint file (loaded as ``lsd_network``);
    its SHA-256 must be the one the ACRLSD network was trained on.
    """
    source = info["config"]["autocontext"]
    found = file_digest(lsd_path)
    if found != source.get("sha256"):
        raise ValueError(
            f"{Path(path).name} was trained on the LSDs of {source.get('name')} "
            f"(SHA-256 {str(source.get('sha256'))[:12]}...), but {Path(lsd_path).name} is "
            f"another network now ({found[:12]}...): retrain it with scripts/"
            f"train_course_models.py --model acrlsd --lsd-from {source.get('name')}")
    context = UNet(**info["config"]["context_network"])
    context.load_state_dict(info["model"])
    net = AutoContext(lsd_network, context, lsd_source=source)
    return net.eval()


def predict_two_pass(model: AutoContext, raw, *, lsds=None, device: str | None = None,
                     progress: bool = False):
    """Affinities of a whole volume in two passes: LSDs first, then raw + LSDs.

    Parameters
    ----------
    model : AutoContext
    raw : (Z, Y, X) ndarray (uint8, or float in [0, 1])
    lsds : (10, Z, Y, X) ndarray of float, optional
        The LSD network's descriptors of ``raw`` (sigmoid, e.g. the last 10 channels of
        ``predict_blocks(model.lsd_network, raw)``), if already predicted.
    device : str, optional
    progress : bool

    Returns
    -------
    (K, Z, Y, X) ndarray of float32
        Affinities (sigmoid of the context network's output), like
        ``predict_blocks(model, raw)`` away from the faces.
    """
    import numpy as np

    from .pipeline import normalize
    from .predict import predict_blocks

    if not isinstance(model, AutoContext):
        raise TypeError(f"model must be an AutoContext (an ACRLSD network), got "
                        f"{type(model).__name__}")
    raw = np.asarray(raw)
    if lsds is None:
        lsds = predict_blocks(model.lsd_network, raw, device=device,
                              progress=progress)[-LSD_CHANNELS:]
    lsds = np.asarray(lsds, dtype=np.float32)
    if lsds.shape != (LSD_CHANNELS, *raw.shape):
        raise ValueError(f"lsds must be ({LSD_CHANNELS}, *raw.shape) = "
                         f"{(LSD_CHANNELS, *raw.shape)}, got {lsds.shape}")
    inputs = np.concatenate([normalize(raw)[None], lsds])
    return predict_blocks(model.context_network, inputs, device=device, progress=progress)
