"""Training targets in torch, made on the device from a batch of labels.

The numpy targets of :mod:`mbl_seg.targets` live on the ground floor and never
import torch; these are their torch twins for the learning floor, for targets
computed on the fly on a GPU. Same conventions: 0 = background, ``affs[k][i]``
links voxel ``i`` and ``i + offsets[k]``.

Used in: the training pipelines of notebooks 05 onwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .targets import as_offsets, nearest_offsets, offset_slices

__all__ = ["affinities_torch"]


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
