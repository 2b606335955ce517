"""Fragments (supervoxels) for agglomeration: over-segmented, and never across a certain cut.

A seeded watershed of the boundary map ``1 - mean affinity`` with a seed on every maximum
of the distance transform (:func:`mbl_seg.segment.seeded_watershed`): deliberately too many
pieces, so that a fragment almost never holds two neurons; agglomeration
(:mod:`mbl_seg.agglomeration`) merges them back. "Almost" is made "never" where the
affinities are certain: a fragment is split where only edges below ``cut`` hold it together
(:mod:`mbl_seg._cuts`), so that perfect affinities give fragments inside one object each.

Used in: notebooks/07_agglomeration, 08_scaling_up, :mod:`mbl_seg.operating_point`,
:mod:`mbl_seg.leaderboard`, :mod:`mbl_seg.blockwise`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from ._validate import as_affinities, as_number, as_voxel_size
from .segment import (_as_mask, _consecutive, boundaries_from_affinities, per_section,
                      seeded_watershed, watershed_from_affinities)

__all__ = ["fragments", "fragments_from_affinities"]


def fragments_from_affinities(affs: np.ndarray, *, threshold: float = 0.5,
                              voxel_size: Sequence[float] | None = None,
                              mask: np.ndarray | None = None) -> np.ndarray:
    """Fragments (supervoxels) for agglomeration: a watershed with a seed on every maximum.

    Deliberately over-segmented: every local maximum of the distance becomes
    a seed, so that fragments almost never straddle two neurons; agglomeration
    (notebooks/07_agglomeration) merges them back. Arguments and result as in
    :func:`mbl_seg.segment.watershed_from_affinities`.
    """
    return watershed_from_affinities(affs, threshold=threshold, voxel_size=voxel_size,
                                     mask=mask)


def fragments(affs: np.ndarray, *, voxel_size: Sequence[float] | None = None,
              threshold: float = 0.5, min_size: int = 0, sections: bool = False,
              mask: np.ndarray | None = None, cut: float | None = 0.03,
              offsets: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """Fragments (supervoxels) for agglomeration, with a minimum size and per-section option.

    The watershed of :func:`watershed_from_affinities` with a seed on every
    maximum of the distance transform (no ``h``, no minimum seed distance):
    deliberately over-segmented, so that a fragment almost never straddles
    two neurons; agglomeration (:func:`mbl_seg.agglomeration.agglomerate`)
    merges them back. Fragments smaller than ``min_size`` voxels are given
    to their neighbours by flooding the boundary map again from the rest.
    Then every fragment is split where only edges of affinity below ``cut``
    hold it together (see the module's text).

    Every fragment has at least ``min_size`` voxels, except a piece that only
    edges below ``cut`` join to every neighbour: giving it to one would put two
    objects in one fragment, so it stays a fragment of its own.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], 1 = same object, channels first (the
        nearest-neighbour channels, or any set: all are averaged).
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x): the distance transform is in nm.
    threshold : float, optional
        Voxels with a mean affinity above it are inside objects (seed area).
    min_size : int, optional
        Fragments with fewer voxels are absorbed by their neighbours (0: keep all).
    sections : bool, optional
        Make fragments section by section (for anisotropic data whose sections
        are far apart); no fragment then spans two sections. Needs 3D ``affs``.
    mask : ndarray of bool, optional
        Make fragments only where True; the rest stays 0.
    cut : float or None, optional
        Split every fragment where only edges of affinity below ``cut`` hold it
        together (default 0.03: near-certain boundaries the watershed flooded
        across, as with perfect affinities); see :mod:`mbl_seg._cuts`. None: no
        split (the boundary-map watershed alone). Predicted affinities are rarely
        that certain inside a fragment: their fragments hardly change.
    offsets : list of tuple of int, optional
        The offset of each affinity channel, needed for the cut when the
        channels are not the nearest neighbours (one per axis, the default).

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of uint64
        Fragment ids 1..N (0 only outside ``mask``).

    Examples
    --------
    >>> affs = np.ones((2, 4, 9), np.float32)
    >>> affs[1, :, 4] = 0  # no x-affinity between columns 3 and 4
    >>> frags = fragments(affs, voxel_size=(8, 8))
    >>> np.unique(frags).tolist(), np.unique(frags[:, :4]).tolist(), np.unique(frags[:, 5:]).tolist()
    ([1, 2], [1], [2])
    """
    affs = as_affinities(affs)
    spatial = affs.shape[1:]
    voxel_size = as_voxel_size(voxel_size, len(spatial))
    threshold = as_number(threshold, "threshold")
    min_size = as_number(min_size, "min_size", integer=True, nonnegative=True, unit="voxels")
    mask = None if mask is None else _as_mask(mask, spatial)
    if cut is not None:
        from ._cuts import checked_cut

        cut, offsets = checked_cut(affs, cut, offsets)
    boundaries = boundaries_from_affinities(affs)
    if sections:
        if len(spatial) != 3:
            raise ValueError(f"sections=True makes fragments per z-section of a volume: "
                             f"expected affs (K, Z, Y, X), got shape {affs.shape}")
        args = () if mask is None else (mask,)

        def one_section(b, *m):
            return seeded_watershed(b, threshold=1.0 - threshold, voxel_size=voxel_size[1:],
                                    mask=m[0] if m else None)

        frags = per_section(one_section, boundaries, *args)
    else:
        frags = seeded_watershed(boundaries, threshold=1.0 - threshold, voxel_size=voxel_size,
                                 mask=mask)
    if min_size > 1:
        frags = _absorb_small(frags, boundaries, min_size, sections)
    if cut is not None:
        from ._cuts import split_along_cuts

        if sections:  # in-plane edges only: no fragment may join another section
            keep = [k for k, offset in enumerate(offsets) if offset[0] == 0]
            affs, offsets = affs[keep], [offsets[k] for k in keep]
        return split_along_cuts(frags, affs, cut=cut, min_size=min_size, offsets=offsets)
    return _consecutive(frags)


def _absorb_small(frags: np.ndarray, boundaries: np.ndarray, min_size: int,
                  sections: bool) -> np.ndarray:
    """Give fragments under ``min_size`` voxels to their neighbours (flooding ``boundaries``)."""
    sizes = np.bincount(frags.ravel().astype(np.int64))
    small = sizes < min_size
    small[0] = False
    if not small.any():
        return frags
    markers = np.where(small[frags], 0, frags).astype(np.int64)
    if sections:
        # flood within each section only: a 3D flood would let one section's fragment
        # take voxels of the next, across the gap that per-section fragments respect
        structure = np.zeros((3, 3, 3), bool)
        structure[1] = ndimage.generate_binary_structure(2, 1)
    else:
        structure = ndimage.generate_binary_structure(frags.ndim, 1)
    filled = watershed(boundaries, markers=markers, mask=frags > 0, connectivity=structure)
    return filled.astype(np.uint64)
