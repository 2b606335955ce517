"""A look at one training batch: raw, labels, affinities and mask, across a few sections."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .._validate import as_voxel_size
from ._panels import _scale_bar, overlay

# the columns, in order, when the batch has them
_COLUMNS = {"raw": "raw", "labels": "labels", "affs": "affinities (RGB = z, y, x)",
            "mask": "mask (known)", "affs_mask": "affinity mask (RGB)",
            "lsds": "LSD offsets (RGB = z, y, x)", "lsds_mask": "LSD mask (window known)"}


def show_batch(batch: dict, *, voxel_size: Sequence[float], z: int | Sequence[int] | None = None,
               index: int = 0, alpha: float = 0.5) -> Figure:
    """Raw, labels, affinities and masks of one batch item, a few z sections; returns the Figure.

    What the network is trained on, after augmentation: check that raw and
    labels still agree, that affinities sit on the boundaries, and where the
    mask leaves voxels out (padding from elastic deformation or shifted
    sections, the volume's edge).

    Parameters
    ----------
    batch : dict of (b, c, z, y, x) arrays or tensors
        From :class:`mbl_seg.pipeline.BatchSource` or
        :func:`mbl_seg.pipeline.make_loader` (torch tensors are fine), or one
        sample of :meth:`mbl_seg.pipeline.Pipeline.sample`, ``(c, z, y, x)``.
        Entries used: ``raw`` (required), ``labels``, ``affs`` (the first three
        channels as RGB), ``mask``, ``affs_mask``, ``lsds`` (the offsets as RGB), ``lsds_mask``.
    voxel_size : sequence of 3 floats, required
        nm per voxel (z, y, x): proportions and the scale bar.
    z : int or sequence of ints, optional
        The sections to show; default three, evenly spaced.
    index : int
        Which item of the batch.
    alpha : float
        Opacity of the label colours over raw.

    Examples
    --------
    >>> labels = np.repeat(np.arange(4, dtype=np.uint64), 4).reshape(1, 1, 1, 4, 4)
    >>> fig = show_batch({"raw": labels / 3.0, "labels": labels}, voxel_size=(40, 8, 8))
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    arrays = _item(batch, index)
    vs = as_voxel_size(voxel_size, 3)
    depth = arrays["raw"].shape[1]
    rows = _sections(z, depth)
    columns = [key for key in _COLUMNS if key in arrays]
    height, width = arrays["raw"].shape[2:]
    aspect = vs[1] / vs[2]
    fig = plt.figure(figsize=(3.2 * len(columns), 3.2 * len(rows) * height * aspect / width + 0.6),
                     layout="constrained")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    raw8 = (np.clip(arrays["raw"][0], 0, 1) * 255).astype(np.uint8)
    for row, section in zip(axes, rows):
        for ax, key in zip(row, columns):
            _draw(ax, key, arrays[key], raw8[section], section, aspect=aspect, alpha=alpha)
        row[0].set_ylabel(f"z = {section} ({section * vs[0]:g} nm)")
        _scale_bar(row[0], vs, 0, 3, width)
    for ax, key in zip(axes[0], columns):
        ax.set_title(_COLUMNS[key])
    fig.suptitle(f"batch item {index}: {depth} x {height} x {width} voxels")
    return fig


def _item(batch, index: int) -> dict[str, np.ndarray]:
    """Item ``index`` of the batch as numpy arrays (c, z, y, x)."""
    if not isinstance(batch, dict) or "raw" not in batch:
        raise TypeError("batch must be a dict with at least 'raw', e.g. a batch of "
                        f"BatchSource or make_loader, got {type(batch).__name__}")
    arrays = {}
    for key in _COLUMNS:
        if key not in batch:
            continue
        value = batch[key]
        if hasattr(value, "detach"):  # a torch tensor, on any device
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        if value.ndim == 5:
            if not 0 <= index < value.shape[0]:
                raise ValueError(f"index {index} is outside the batch of {value.shape[0]}")
            value = value[index]
        if value.ndim != 4:
            raise ValueError(f"batch[{key!r}] must be (b, c, z, y, x) or (c, z, y, x), "
                             f"got shape {value.shape}")
        arrays[key] = value
    return arrays


def _sections(z, depth: int) -> list[int]:
    if z is None:
        return sorted({int(round(i)) for i in np.linspace(0, depth - 1, min(3, depth))})
    sections = [z] if np.ndim(z) == 0 else list(z)
    for s in sections:
        if not 0 <= int(s) < depth:
            raise ValueError(f"section z = {s} is outside 0..{depth - 1}")
    return [int(s) for s in sections]


def _draw(ax, key: str, array: np.ndarray, raw8: np.ndarray, z: int, *, aspect: float,
          alpha: float) -> None:
    if key == "raw":
        ax.imshow(raw8, cmap="gray", vmin=0, vmax=255, aspect=aspect, interpolation="nearest")
    elif key == "labels":
        overlay(raw8, array[0, z], ax=ax, alpha=alpha, aspect=aspect)
    elif key in ("mask", "lsds_mask"):
        ax.imshow(array[0, z], cmap="gray", vmin=0, vmax=1, aspect=aspect,
                  interpolation="nearest")
    else:  # affinities, their mask, LSD offsets: up to three channels as RGB
        rgb = np.zeros((*array.shape[2:], 3), np.float32)
        channels = min(3, array.shape[0])
        rgb[..., :channels] = np.moveaxis(np.clip(array[:channels, z], 0, 1), 0, -1)
        ax.imshow(rgb, aspect=aspect, interpolation="nearest")
    ax.set(xticks=[], yticks=[])
