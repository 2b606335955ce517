"""From a boundary map (or affinities) to objects: distance transform, seeds, seeded watershed.

The recipe of the course, in 2D and 3D, with voxel sizes in nm:

1. threshold the boundary map: ``inside = boundaries < threshold``;
2. distance transform of ``inside``: how far (nm) each voxel is from a boundary;
3. seeds = local maxima of the distance (at least ``min_seed_distance`` nm
   apart, optionally only maxima that stand out by ``h`` nm);
4. flood the boundary map from the seeds (watershed): every voxel goes to
   the seed it reaches over the lowest boundary values.

The priority flood of step 4 is scikit-image's watershed; steps 1-3 (and
everything the lessons vary) are here, the h-maxima's reconstruction compiled in
:mod:`mbl_seg._reconstruct`.

Used in: notebooks/01_classical_boundaries, 02_deep_boundaries, 03_affinities
and every later notebook that segments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components
from skimage.segmentation import watershed

from ._validate import (as_affinities, as_boundary_map, as_image, as_number, as_voxel_size,
                        check_channels)
from .targets import as_offsets, nearest_offsets, offset_slices

__all__ = ["find_seeds", "seeded_watershed", "boundaries_from_affinities",  # noqa: F822
           "watershed_from_affinities", "fragments_from_affinities", "fragments",
           "components_from_affinities", "per_section", "agglomerate", "merge_history"]
# fragments, fragments_from_affinities: from mbl_seg.supervoxels (``__getattr__`` at the end)


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
    from ._reconstruct import reconstruct  # compiled; equal to skimage's reconstruction

    lowered = reconstruct(distance - h, distance)
    step = 1e-3 * max(1.0, h)
    tops = lowered - reconstruct(lowered - step, lowered) >= step / 2
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
                              mask: np.ndarray | None = None, cut: float | None = 0.03,
                              offsets: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """Segment affinities the simple way: average, threshold, distance transform, watershed.

    Voxels whose mean affinity is above ``threshold`` are inside objects;
    seeds are the maxima of their distance to the rest; the watershed floods
    ``1 - mean affinity`` from them. The flood of a boundary map gives a voxel at a
    contact to whichever seed reaches it first, and where the affinities are sharp
    (a contact seen by one channel only, as in affinities made from labels) that can
    be the wrong side; so each segment is then split where only edges below ``cut``
    hold it together, and a piece split off joins the segment its strongest edge at
    or above ``cut`` leads to. Arguments as in :func:`seeded_watershed`.

    Parameters
    ----------
    affs : (K, Z, Y, X) or (K, Y, X) ndarray of float
        Affinities in [0, 1], 1 = same object, channels first: K is the
        number of offsets. Logits, integers, nan and channel-last arrays are
        refused.
    cut : float or None, optional
        Edges of affinity below it say "two objects" (default 0.03: near
        certain); None: the watershed alone. See :mod:`mbl_seg._cuts`.
    offsets : list of tuple of int, optional
        The offset of each channel (needed for the cut if they are not the
        nearest neighbours, one channel per axis).

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
    affs = as_affinities(affs)
    if cut is not None:
        from ._cuts import checked_cut

        cut, offsets = checked_cut(affs, cut, offsets)
    segmentation = seeded_watershed(boundaries_from_affinities(affs), threshold=1.0 - threshold,
                                    min_seed_distance=min_seed_distance, voxel_size=voxel_size,
                                    h=h, mask=mask)
    if cut is None:
        return segmentation
    from ._cuts import split_along_cuts

    return split_along_cuts(segmentation, affs, cut=cut, offsets=offsets, min_size=None)


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


# agglomeration and fragments live in their own modules; the course reaches them here too
from .agglomeration import agglomerate, merge_history  # noqa: E402


def __getattr__(name: str):
    """``fragments`` and ``fragments_from_affinities``, from :mod:`mbl_seg.supervoxels` (which
    imports this module, hence on first use)."""
    if name in ("fragments", "fragments_from_affinities"):
        from . import supervoxels

        return getattr(supervoxels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
