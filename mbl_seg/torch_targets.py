"""Training targets in torch, made on the device from a batch of labels.

The numpy targets of :mod:`mbl_seg.targets` live on the ground floor and never
import torch; these are their torch twins for the learning floor, for targets
computed on the fly on a GPU. Same conventions: 0 = background, ``affs[k][i]``
links voxel ``i`` and ``i + offsets[k]``.

* :func:`affinities_torch` -- :func:`mbl_seg.targets.affinities` of a batch;
* :func:`lsds_torch` -- :func:`mbl_seg.lsd.lsds` of a batch (local shape
  descriptors), from separable convolutions of the labels' masks.

Used in: the training pipelines of notebooks 05 onwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import as_number, as_voxel_size
from .lsd import _VARIANCE_FLOOR, _as_sigma, _moment_kernels, _powers, lsd_channels
from .targets import as_offsets, nearest_offsets, offset_slices

__all__ = ["affinities_torch", "lsds_torch"]


def affinities_torch(labels: torch.Tensor,
                     offsets: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """:func:`mbl_seg.targets.affinities` for a torch batch, on its device.

    Parameters
    ----------
    labels : (B, Z, Y, X) or (B, Y, X) integer torch.Tensor
        A batch of label images; 0 = background.
    offsets : list of tuple of int, optional
        One per channel, for the spatial axes; default :func:`mbl_seg.targets.nearest_offsets`.

    Returns
    -------
    (B, K, Z, Y, X) or (B, K, Y, X) torch.Tensor of float32

    Examples
    --------
    >>> affinities_torch(torch.tensor([[[1, 1, 2]]]), [(0, -1)])
    tensor([[[[0., 1., 0.]]]])
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dim() not in (3, 4):
        raise ValueError("labels must be an integer tensor (b, z, y, x) or (b, y, x), got "
                         f"dtype {labels.dtype} and shape {tuple(labels.shape)}")
    spatial = tuple(labels.shape[1:])
    offsets = as_offsets(nearest_offsets(len(spatial)) if offsets is None else offsets,
                         len(spatial), shape=spatial)
    affs = labels.new_zeros((labels.shape[0], len(offsets), *spatial), dtype=torch.float32)
    for k, offset in enumerate(offsets):
        a, b = offset_slices(spatial, offset)
        here, there = labels[(slice(None), *a)], labels[(slice(None), *b)]
        affs[(slice(None), k, *a)] = ((here == there) & (here != 0)).float()
    return affs


def lsds_torch(labels: torch.Tensor, *, sigma, voxel_size, downsample: int = 1,
               chunk: int = 16) -> torch.Tensor:
    """:func:`mbl_seg.lsd.lsds` for a torch batch, on its device.

    Same channels, normalisation and downsampling as :func:`mbl_seg.lsd.lsds`
    (equal up to float rounding), computed the way a GPU likes: for ``chunk``
    labels at a time, their masks on the (downsampled) grid are filtered with
    separable 1D convolutions by the window's moment kernels, which give the
    ten (3D) or six (2D) window moments of every label about every grid
    point; each voxel then takes the moments of its own label. The moments
    are float64 (the variances are differences of nearly equal numbers).

    Parameters
    ----------
    labels : (B, Z, Y, X) or (B, Y, X) integer torch.Tensor
        A batch of label images; 0 = background (all channels 0 there).
    sigma : float or sequence of float
        Width in nm of the Gaussian window (one number, or one per axis).
    voxel_size : sequence of float
        nm per voxel, (z, y, x) or (y, x).
    downsample : int
        Statistics on every ``downsample``-th voxel along each axis; each
        voxel takes the values of the grid point of its block.
    chunk : int
        Labels filtered together: more is faster, and takes
        ``chunk * 10 * grid volume * 8`` bytes and more of memory.

    Returns
    -------
    (B, 10, Z, Y, X) or (B, 6, Y, X) torch.Tensor of float32
        On the device of ``labels``; channels as :func:`mbl_seg.lsd.lsd_channels`.

    Examples
    --------
    >>> labels = torch.zeros((1, 1, 5), dtype=torch.int64); labels[0, 0, 1:4] = 7
    >>> lsds_torch(labels, sigma=8, voxel_size=(8, 8))[0, 1].round(decimals=3)  # offset x
    tensor([[0.0000, 0.7520, 0.5000, 0.2480, 0.0000]])
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError("labels must be an integer label tensor (0 = background), got dtype "
                        f"{labels.dtype}; did you pass a probability map?")
    if labels.dim() not in (3, 4):
        raise ValueError("labels must be a batch of label images (b, z, y, x) or (b, y, x), "
                         f"got shape {tuple(labels.shape)}")
    spatial = tuple(labels.shape[1:])
    ndim = len(spatial)
    voxel_size = as_voxel_size(voxel_size, ndim)
    sigma = _as_sigma(sigma, ndim)
    df = as_number(downsample, "downsample", integer=True, positive=True)
    chunk = as_number(chunk, "chunk", integer=True, positive=True)
    labels = _as_int64(labels)
    out = torch.zeros((labels.shape[0], len(lsd_channels(ndim)), *spatial),
                      dtype=torch.float32, device=labels.device)
    if labels.numel() == 0:
        return out
    # kernels (powers 0, 1, 2) per axis, as (3, 1, ..., K, ..., 1) conv weights
    kernels = []
    for axis, (s, v) in enumerate(zip(sigma, voxel_size)):
        k = torch.from_numpy(np.stack(_moment_kernels(s / (v * df), v * df)))
        shape = [3, 1] + [1] * ndim
        shape[2 + axis] = k.shape[1]
        kernels.append(k.reshape(shape).to(device=labels.device, dtype=torch.float64))
    for b in range(labels.shape[0]):
        _lsds_item(labels[b], out[b], sigma, df, kernels, chunk)
    return out


def _as_int64(labels: torch.Tensor) -> torch.Tensor:
    """Labels as int64 with the same ids, 0 staying 0 (uint64 ids above 2**63 wrap, still
    distinct); negative ids refused."""
    if labels.dtype == torch.bool:
        return labels.to(torch.int64)
    if labels.dtype == getattr(torch, "uint64", None):
        return labels.view(torch.int64)
    if labels.is_signed() and labels.numel() and int(labels.min()) < 0:
        raise ValueError("labels must be non-negative (0 = background), "
                         f"found {int(labels.min())}")
    return labels.to(torch.int64)


def _lsds_item(labels: torch.Tensor, out: torch.Tensor, sigma, df: int, kernels,
               chunk: int) -> None:
    """Write the LSDs of one label image ``(*spatial)`` into ``out`` ``(channels, *spatial)``."""
    ndim = labels.dim()
    coarse = labels[(slice(None, None, df),) * ndim]
    ids, inverse, counts = torch.unique(labels.reshape(-1), return_inverse=True,
                                        return_counts=True)
    n_objects = len(ids)
    background = (ids == 0).nonzero()
    if len(background):  # put it last, where the loop over objects does not go (stays 0)
        n_objects -= 1
        rank = torch.arange(len(ids), device=ids.device)
        rank = rank - (rank > background[0, 0]).long()
        rank[background[0, 0]] = n_objects
        ids = torch.empty_like(ids).index_put_((rank,), ids)
        counts = torch.empty_like(counts).index_put_((rank,), counts)
        inverse = rank[inverse]
    order = torch.argsort(inverse)  # voxels grouped by object, in the order of ids
    ends = torch.cumsum(counts, 0).tolist()
    flat_out = out.view(out.shape[0], -1)
    for lo in range(0, n_objects, chunk):
        hi = min(lo + chunk, n_objects)
        voxels = order[ends[lo - 1] if lo else 0:ends[hi - 1]]
        which = inverse[voxels] - lo  # the voxel's label, within the chunk
        points = [c // df for c in torch.unravel_index(voxels, labels.shape)]
        # the box of grid points the chunk's voxels look from: it holds every grid point
        # of the chunk's objects too (q = (q * df) // df), so their masks are 0 outside it
        box = tuple(slice(int(p.min()), int(p.max()) + 1) for p in points)
        masks = coarse[box][None] == ids[lo:hi].reshape((-1,) + (1,) * ndim)
        moments = _window_moments(masks.to(torch.float64), kernels)
        values = _normalise_torch(moments.reshape(len(moments), -1), sigma)
        index = which
        for p, b in zip(points, box):
            index = index * (b.stop - b.start) + (p - b.start)
        flat_out[:, voxels] = values[:, index]


def _window_moments(masks: torch.Tensor, kernels) -> torch.Tensor:
    """Window moments ``(n_moments, labels, *grid)`` of masks ``(labels, *grid)`` about each grid
    point; zero padding (scipy's mode="constant")."""
    ndim = masks.dim() - 1
    conv = F.conv3d if ndim == 3 else F.conv2d
    partial = {(): masks}
    for axis in range(ndim - 1, -1, -1):  # last axis first, as mbl_seg.lsd does
        padding = [0] * ndim
        padding[axis] = kernels[axis].shape[2 + axis] // 2
        done = {}
        for used in range(3):  # one convolution per total power so far
            keys = [key for key in partial if sum(key) == used]
            if not keys:
                continue
            stacked = torch.cat([partial[key] for key in keys])[:, None]
            filtered = conv(stacked, kernels[axis][:3 - used], padding=padding)
            for key, part in zip(keys, filtered.split(len(masks))):
                for power in range(3 - used):
                    done[(power,) + key] = part[:, power]
        partial = done
    return torch.stack([partial[p] for p in _powers(ndim)])


def _normalise_torch(moments: torch.Tensor, sigma) -> torch.Tensor:
    """:func:`mbl_seg.lsd._normalise` in torch: window moments ``(n_moments, n)`` to the LSD
    channels ``(channels, n)``, float32."""
    ndim = len(sigma)
    count = torch.where(moments[0] > 0, moments[0], torch.ones_like(moments[0]))
    mean = moments[1:1 + ndim] / count
    second = moments[1 + ndim:] / count
    variance = torch.clamp_min(second[:ndim] - mean ** 2, _VARIANCE_FLOOR)
    pairs = list(itertools.combinations(range(ndim), 2))
    pearson = torch.stack([(second[ndim + k] - mean[a] * mean[b])
                           / torch.sqrt(variance[a] * variance[b])
                           for k, (a, b) in enumerate(pairs)])
    scale = torch.tensor(sigma, dtype=moments.dtype, device=moments.device)[:, None]
    out = torch.cat([0.5 * mean / scale + 0.5, variance / scale ** 2, 0.5 * pearson + 0.5,
                     moments[:1]])
    return out.clamp(0.0, 1.0).to(torch.float32)
