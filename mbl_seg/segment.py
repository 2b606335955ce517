"""From a boundary map (or affinities) to objects: distance transform, seeds, seeded watershed.

The recipe of the course, in 2D and 3D, with voxel sizes in nm:

1. threshold the boundary map: ``inside = boundaries < threshold``;
2. distance transform of ``inside``: how far (nm) each voxel is from a boundary;
3. seeds = local maxima of the distance (at least ``min_seed_distance`` nm
   apart, optionally only maxima that stand out by ``h`` nm);
4. flood the boundary map from the seeds (watershed): every voxel goes to
   the seed it reaches over the lowest boundary values.

The priority flood of step 4 is scikit-image's watershed; steps 1-3 (and
everything the lessons vary) are here.

Used in: notebooks/01_classical_boundaries, 02_deep_boundaries, 03_affinities
and every later notebook that segments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components
from skimage.morphology import reconstruction
from skimage.segmentation import watershed

from ._validate import (as_affinities, as_boundary_map, as_image, as_number, as_voxel_size,
                        check_channels)
from .targets import as_offsets, nearest_offsets, offset_slices

__all__ = ["find_seeds", "seeded_watershed", "boundaries_from_affinities",
           "watershed_from_affinities", "fragments_from_affinities", "fragments",
           "components_from_affinities", "per_section", "agglomerate", "merge_history"]


def _footprint(radius_nm: float, voxel_size: tuple[float, ...]) -> np.ndarray:
    """An ellipsoid of ``radius_nm`` in voxels of ``voxel_size`` (at least the 3^n box)."""
    reach = [max(1, int(radius_nm // v)) for v in voxel_size]
    grids = np.ogrid[tuple(slice(-r, r + 1) for r in reach)]
    inside = sum((g * v) ** 2 for g, v in zip(grids, voxel_size)) <= radius_nm**2
    box = np.zeros(inside.shape, bool)
    box[tuple(slice(r - 1, r + 2) for r in reach)] = True  # never smaller than neighbours
    return inside | box


def _h_dome(distance: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The distance with every maximum lowered by ``h`` (h-maxima transform) and its tops.

    Reconstruction by dilation of ``distance - h`` under ``distance`` cuts each
    peak flat at ``h`` below its summit; two summits joined by a ridge that
    dips less than ``h`` end up on one flat top, so they give one seed.
    """
    lowered = reconstruction(distance - h, distance, method="dilation")
    step = 1e-3 * max(1.0, h)
    tops = lowered - reconstruction(lowered - step, lowered, method="dilation") >= step / 2
    return lowered, tops


def find_seeds(distance: np.ndarray, *, min_distance: float | None = None,
               voxel_size: Sequence[float] | None = None, h: float | None = None,
               mask: np.ndarray | None = None) -> np.ndarray:
    """Seeds at the local maxima of a distance map, one id per seed.

    Parameters
    ----------
    distance : (Z, Y, X) or (Y, X) ndarray of float
        Distance to the nearest boundary in nm (0 on boundaries).
    min_distance : float, optional
        A seed must be the largest distance within this radius in nm (an
        ellipsoid in voxels when the voxels are anisotropic). Default: the
        immediate neighbours only.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) or (y, x); no default (distances are in nm).
    h : float, optional
        Keep only maxima that rise at least ``h`` nm above the lowest pass to
        a higher maximum (h-maxima): removes seeds on small bumps of the
        distance along a thin neurite.
    mask : ndarray of bool, optional
        Seeds only where True.

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of uint64
        0 = no seed; touching seed voxels (a plateau) share one id.

    Examples
    --------
    >>> distance = np.array([[0, 1, 2, 1, 0, 1, 3, 1, 0]], dtype=float)
    >>> find_seeds(distance, voxel_size=(1, 1))
    array([[0, 0, 1, 0, 0, 0, 2, 0, 0]], dtype=uint64)
    >>> find_seeds(distance, voxel_size=(1, 1), h=2.5)  # only the 3 rises 2.5: the seed is its top
    array([[0, 0, 0, 0, 0, 1, 1, 1, 0]], dtype=uint64)
    """
    distance = as_image(distance, name="distance").astype(np.float64)
    voxel_size = as_voxel_size(voxel_size, distance.ndim)
    radius = min(voxel_size) if min_distance is None else as_number(
        min_distance, "min_distance", positive=True, unit="nm")
    tops = True
    if h is not None:
        distance, tops = _h_dome(distance, as_number(h, "h", positive=True, unit="nm"))
    peaks = ndimage.maximum_filter(distance, footprint=_footprint(radius, voxel_size),
                                   mode="nearest") == distance
    peaks &= (distance > 0) & tops
    if mask is not None:
        peaks &= _as_mask(mask, distance.shape)
    seeds, _ = ndimage.label(peaks, structure=np.ones((3,) * distance.ndim, bool))
    return seeds.astype(np.uint64)


def _as_mask(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask must have the shape {tuple(shape)}, got {mask.shape}")
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(f"mask must be boolean (True = segment here), got dtype {mask.dtype}")
    return mask.astype(bool)


def seeded_watershed(boundaries: np.ndarray, *, threshold: float = 0.5,
                     min_seed_distance: float | None = None,
                     voxel_size: Sequence[float] | None = None, h: float | None = None,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """Segment a boundary map: threshold, distance transform, seeds, watershed.

    Parameters
    ----------
    boundaries : (Z, Y, X) or (Y, X) ndarray of float
        Boundary map in [0, 1], 1 = boundary (a prediction or a target; bool
        and 0/1 integer maps are taken too). An 8-bit image, a label image
        or logits are refused with a ``ValueError`` that says what to do.
    threshold : float, optional
        Voxels with ``boundaries < threshold`` are inside objects.
    min_seed_distance : float, optional
        Radius in nm within which a seed must be the distance maximum
        (fewer seeds, fewer splits, more merges). See :func:`find_seeds`.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x); distances and radii are measured in nm.
    h : float, optional
        Only seeds on distance maxima at least ``h`` nm high (h-maxima).
    mask : ndarray of bool, optional
        Segment only where True; the rest stays 0.

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of uint64
        Segmentation, 0 only outside ``mask`` (or where no seed is reachable).

    Examples
    --------
    >>> boundary = np.zeros((5, 9), np.float32)
    >>> boundary[:, 4] = 1
    >>> seg = seeded_watershed(boundary, voxel_size=(8, 8))
    >>> np.unique(seg[:, :4]).tolist(), np.unique(seg[:, 5:]).tolist()
    ([1], [2])
    """
    boundaries = as_boundary_map(boundaries)
    voxel_size = as_voxel_size(voxel_size, boundaries.ndim)
    threshold = as_number(threshold, "threshold")
    if min_seed_distance is not None:  # named as the caller knows it, not as find_seeds does
        min_seed_distance = as_number(min_seed_distance, "min_seed_distance", positive=True,
                                      unit="nm")
    mask = None if mask is None else _as_mask(mask, boundaries.shape)
    inside = boundaries < threshold
    if mask is not None:
        inside &= mask
    distance = ndimage.distance_transform_edt(inside, sampling=voxel_size)
    seeds = find_seeds(distance, min_distance=min_seed_distance, voxel_size=voxel_size, h=h)
    segmentation = watershed(boundaries, markers=seeds.astype(np.int64), mask=mask)
    return segmentation.astype(np.uint64)


def boundaries_from_affinities(affs: np.ndarray) -> np.ndarray:
    """A boundary map from affinities: ``1 - mean`` over the channels.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], 1 = same object, channels first (usually the
        nearest-neighbour channels).

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of float32
        1 = boundary.

    Examples
    --------
    >>> boundaries_from_affinities(np.array([[[1.0, 0.0]], [[1.0, 1.0]]]))
    array([[0. , 0.5]], dtype=float32)
    """
    affs = as_affinities(affs)
    return (1.0 - affs.mean(axis=0)).astype(np.float32)


def watershed_from_affinities(affs: np.ndarray, *, threshold: float = 0.5,
                              min_seed_distance: float | None = None,
                              voxel_size: Sequence[float] | None = None,
                              h: float | None = None,
                              mask: np.ndarray | None = None) -> np.ndarray:
    """Segment affinities the simple way: average, threshold, distance transform, watershed.

    Voxels whose mean affinity is above ``threshold`` are inside objects;
    seeds are the maxima of their distance to the rest; the watershed floods
    ``1 - mean affinity`` from them. Arguments as in :func:`seeded_watershed`.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], 1 = same object, channels first: K is the
        number of offsets. Logits, integers, nan and channel-last arrays are
        refused.

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of uint64

    Examples
    --------
    >>> affs = np.ones((2, 4, 7), np.float32)
    >>> affs[1, :, 3:5] = 0  # no x-affinity across columns 2|3 and 3|4
    >>> seg = watershed_from_affinities(affs, voxel_size=(8, 8))
    >>> np.unique(seg[:, [0, -1]], axis=0).tolist()
    [[1, 2]]
    """
    threshold = as_number(threshold, "threshold")
    return seeded_watershed(boundaries_from_affinities(affs), threshold=1.0 - threshold,
                            min_seed_distance=min_seed_distance, voxel_size=voxel_size, h=h,
                            mask=mask)


def fragments_from_affinities(affs: np.ndarray, *, threshold: float = 0.5,
                              voxel_size: Sequence[float] | None = None,
                              mask: np.ndarray | None = None) -> np.ndarray:
    """Fragments (supervoxels) for agglomeration: a watershed with a seed on every maximum.

    Deliberately over-segmented: every local maximum of the distance becomes
    a seed, so that fragments almost never straddle two neurons; agglomeration
    (notebooks/07_agglomeration) merges them back.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], 1 = same object, channels first: K is the
        number of offsets. Logits, integers, nan and channel-last arrays are
        refused.

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of uint64
    """
    return watershed_from_affinities(affs, threshold=threshold, voxel_size=voxel_size,
                                     mask=mask)


def fragments(affs: np.ndarray, *, voxel_size: Sequence[float] | None = None,
              threshold: float = 0.5, min_size: int = 0, sections: bool = False,
              mask: np.ndarray | None = None, cut: float | None = None) -> np.ndarray:
    """Fragments (supervoxels) for agglomeration, with a minimum size and per-section option.

    The watershed of :func:`watershed_from_affinities` with a seed on every
    maximum of the distance transform (no ``h``, no minimum seed distance):
    deliberately over-segmented, so that a fragment almost never straddles
    two neurons; agglomeration (:func:`mbl_seg.agglomeration.agglomerate`)
    merges them back. Fragments smaller than ``min_size`` voxels are given
    to their neighbours by flooding the boundary map again from the rest.

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
    cut : float, optional
        Also split every fragment where only edges of affinity below ``cut`` hold
        it together (near-certain boundaries the watershed flooded across, as with
        perfect affinities); see :mod:`mbl_seg._cuts`. None: no split.

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

        cut = as_number(cut, "cut", nonnegative=True)
        if affs.shape[0] != len(spatial):
            raise ValueError(f"cut needs the nearest-neighbour affinities, one channel per axis, "
                             f"got {affs.shape[0]} channels for a {len(spatial)}D volume")
        if sections:  # in-plane edges only: no fragment may join another section
            frags = split_along_cuts(frags, affs[1:], cut=cut, min_size=min_size,
                                     offsets=nearest_offsets(3)[1:])
        else:
            frags = split_along_cuts(frags, affs, cut=cut, min_size=min_size)
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


def _consecutive(labels: np.ndarray) -> np.ndarray:
    """Renumber ``labels`` 1..N in order of first id, 0 stays 0; uint64."""
    ids, inverse = np.unique(labels, return_inverse=True)
    start = 0 if ids[0] == 0 else 1
    return (inverse.reshape(labels.shape) + start).astype(np.uint64)


def components_from_affinities(affs: np.ndarray, offsets: Sequence[Sequence[int]] | None = None,
                               *, threshold: float = 0.5) -> np.ndarray:
    """Connected components of the affinity graph: voxels joined by edges above ``threshold``.

    The most direct reading of affinities: no distance transform, no seeds.
    Perfect affinities give back the ground truth exactly (each background
    voxel becomes a one-voxel segment), which a boundary map cannot do for
    objects that touch. One wrong edge, though, merges two objects: that is
    what MALIS (notebooks/04_malis) trains against.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], 1 = same object, channels first: K is the
        number of offsets. Logits, integers, nan and channel-last arrays are
        refused.
    offsets : list of tuple of int, optional
        The offset of each channel; default :func:`mbl_seg.targets.nearest_offsets`.
    threshold : float, optional
        Edges with an affinity above it join their voxels.

    Returns
    -------
    (Z, Y, X) or (Y, X) ndarray of uint64
        Segments numbered from 1.

    Examples
    --------
    >>> affs = np.ones((2, 2, 3), np.float32)
    >>> affs[1, :, 2] = 0  # cut every x-edge into column 2
    >>> components_from_affinities(affs)
    array([[1, 1, 2],
           [1, 1, 2]], dtype=uint64)
    """
    affs = as_affinities(affs)
    spatial = affs.shape[1:]
    offsets = as_offsets(nearest_offsets(len(spatial)) if offsets is None else offsets,
                         len(spatial))
    check_channels(affs, len(offsets))  # before the offsets meet a misread spatial shape
    offsets = as_offsets(offsets, len(spatial), shape=spatial)
    threshold = as_number(threshold, "threshold")
    ids = np.arange(int(np.prod(spatial))).reshape(spatial)
    rows, cols = [], []
    for channel, offset in zip(affs, offsets):
        a, b = offset_slices(spatial, offset)
        keep = channel[a] > threshold
        rows.append(ids[a][keep])
        cols.append(ids[b][keep])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.coo_matrix((np.ones(rows.size, np.int8), (rows, cols)),
                              shape=(ids.size, ids.size))
    _, components = connected_components(graph, directed=False)
    return (components.reshape(spatial) + 1).astype(np.uint64)


def per_section(segment: Callable[..., np.ndarray], stack: np.ndarray, *args: np.ndarray,
                **options) -> np.ndarray:
    """Apply a 2D segmentation function to every section of a (z, y, x) stack.

    Each section is segmented on its own (for the ``*2d`` course datasets,
    whose sections are independent images); ids are shifted so that no two
    sections share one.

    Parameters
    ----------
    segment : callable
        ``segment(section, *args_sections, **options) -> (y, x) uint64``.
    stack : (Z, Y, X) ndarray
        Sections to segment (e.g. boundary maps). ``args`` are further
        (Z, Y, X) or (C, Z, Y, X) arrays, sliced along z the same way.

    Returns
    -------
    (Z, Y, X) ndarray of uint64

    Examples
    --------
    >>> stack = np.zeros((2, 3, 5), np.float32)
    >>> stack[:, :, 2] = 1
    >>> seg = per_section(seeded_watershed, stack, voxel_size=(8, 8))
    >>> [np.unique(s).tolist() for s in seg]
    [[1, 2], [3, 4]]
    """
    stack = np.asarray(stack)
    if stack.ndim < 3:
        raise ValueError(f"stack must be (z, y, x) or (c, z, y, x), got shape {stack.shape}")
    z_axis = stack.ndim - 3
    out, next_id = [], 0
    for z in range(stack.shape[z_axis]):
        section = np.take(stack, z, axis=z_axis)
        extra = [np.take(a, z, axis=np.ndim(a) - 3) for a in args]
        seg = np.asarray(segment(section, *extra, **options)).astype(np.uint64)
        out.append(np.where(seg > 0, seg + np.uint64(next_id), np.uint64(0)))
        next_id = int(out[-1].max(initial=next_id))
    return np.stack(out)


# agglomeration lives in its own module (it needs no watershed); the course reaches it here too
from .agglomeration import agglomerate, merge_history  # noqa: E402
