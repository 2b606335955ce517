"""Fragments that respect the affinity graph: split a segmentation along near-certain cuts.

A watershed of a boundary map assigns each voxel to the basin that floods it first, and a
voxel at the contact of two neurons may go to either side, whatever its affinities say.
With sharp affinities (a contact seen by one channel only, as in perfect affinities) a
fragment can then hold voxels of two neurons, joined to the rest of it only by edges whose
affinity says "two objects" with certainty; no agglomeration can undo that merge.

:func:`split_along_cuts` repairs it: each fragment falls apart into the pieces that its own
edges of affinity at least ``cut`` hold together; pieces of at least ``min_size`` voxels
are fragments of their own, and smaller ones join the neighbour of their strongest such
edge (two sized pieces are never joined), or stay alone if they have none: a piece that
only near-certain cuts separate from the rest is an object of its own, however small. So
is a voxel with no edge at or above ``cut`` at all: in affinities made from labels, the
corner voxel of a thin diagonal neurite (its neighbours along the axes are other objects),
or a membrane voxel labelled background; no affinity says where it belongs. Predicted
affinities are rarely that certain inside a fragment, so their fragments hardly change.

Used in: :mod:`mbl_seg.supervoxels` and :func:`mbl_seg.segment.watershed_from_affinities`
(``cut``); the merge loops of :mod:`mbl_seg.agglomeration` (the union-find, the regions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from .targets import as_offsets, nearest_offsets, offset_slices


def edge_list(affs: np.ndarray, offsets: Sequence[Sequence[int]] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every edge of the affinity graph: (voxel, its neighbour, affinity), flat voxel indices.

    Channel ``k`` of ``affs`` links a voxel to the one at ``offsets[k]`` from it (nearest
    neighbours by default), as :func:`mbl_seg.targets.affinities` defines them.

    >>> affs = np.array([[[0.9, 0.2]], [[0.0, 0.4]]], np.float32)  # (2, 1, 2): y and x
    >>> [a.tolist() for a in edge_list(affs)]
    [[1], [0], [0.4000000059604645]]
    """
    spatial = affs.shape[1:]
    offsets = nearest_offsets(len(spatial)) if offsets is None else offsets
    index = np.arange(int(np.prod(spatial)), dtype=np.int64).reshape(spatial)
    us, vs, ws = [], [], []
    for channel, offset in zip(affs, offsets):
        a, b = offset_slices(spatial, offset)  # channel[a]: the edge from a to b = a + offset
        us.append(index[a].ravel())
        vs.append(index[b].ravel())
        ws.append(channel[a].ravel())
    return (np.concatenate(us), np.concatenate(vs),
            np.concatenate(ws).astype(np.float32, copy=False))


@numba.njit(cache=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


def region_smallest(parent, smallest, ids: np.ndarray) -> np.ndarray:
    """For every fragment, the smallest fragment id of its region: ``ids[smallest[root]]``.

    ``parent`` is a union-find forest over the fragments' indices; its roots are found
    by pointer jumping, in O(log depth) passes over the array.
    """
    parent = np.array(parent)
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            break
        parent = up
    return ids[np.asarray(smallest)[parent]]


@numba.njit(cache=True)
def _roots(parent):
    out = np.empty(len(parent), np.int64)
    for i in range(len(parent)):
        out[i] = _find(parent, i)
    return out


@numba.njit(cache=True)
def _join(order, us, vs, parent, label):
    """Union the edges in ``order``; never two pieces that both have a (different) label."""
    for k in order:
        a = _find(parent, us[k])
        b = _find(parent, vs[k])
        if a == b:
            continue
        la, lb = label[a], label[b]
        if la != 0 and lb != 0 and la != lb:
            continue
        parent[b] = a
        if la == 0:
            label[a] = lb


CUT = 0.03
"""The default cut: an edge below it says "two objects" with near certainty."""


def cut_offsets(affs: np.ndarray, offsets: Sequence[Sequence[int]] | None
                ) -> list[tuple[int, ...]]:
    """The offset of each channel of ``affs``: nearest neighbours if not given.

    A clear ``ValueError`` when the channels are not one per axis and no offsets say
    what they are (a cut along an edge needs to know which two voxels it joins).
    """
    ndim = affs.ndim - 1
    if offsets is None:
        if affs.shape[0] != ndim:
            raise ValueError(
                f"a cut along the affinity graph needs the offset of each channel: got "
                f"{affs.shape[0]} channels for a {ndim}D volume and no offsets; pass "
                f"offsets=[...] (as given to targets.affinities) or cut=None (boundary-map "
                f"fragments only)")
        return [tuple(o) for o in nearest_offsets(ndim)]
    offsets = as_offsets(offsets, ndim)
    if len(offsets) != affs.shape[0]:
        raise ValueError(f"offsets must give one offset per affinity channel: "
                         f"{affs.shape[0]} channels, {len(offsets)} offsets")
    return [tuple(o) for o in offsets]


def checked_cut(affs: np.ndarray, cut, offsets) -> tuple[float, list[tuple[int, ...]]]:
    """``cut`` and the channels' offsets checked before any work is done (see :func:`cut_offsets`)."""
    from ._validate import as_number

    return as_number(cut, "cut", nonnegative=True), cut_offsets(affs, offsets)


def split_along_cuts(segmentation: np.ndarray, affs: np.ndarray, *, cut: float,
                     min_size: int | None = 0, offsets: Sequence[Sequence[int]] | None = None
                     ) -> np.ndarray:
    """``segmentation`` with every segment split where only edges below ``cut`` hold it.

    ``min_size``: pieces of at least so many voxels (and 2) stay segments of their own
    (fragments: agglomeration decides later); None: only each segment's largest piece
    stays, every other piece joins the segment across its strongest edge at or above
    ``cut`` (a final segmentation: a piece the watershed gave to the wrong side goes to
    the right one). Returns ids 1..N (0 stays 0), uint64.

    >>> seg = np.ones((1, 6), np.uint64)  # one fragment over two objects ...
    >>> affs = np.ones((2, 1, 6), np.float32); affs[1, 0, 3] = 0  # ... cut between x = 2 and 3
    >>> split_along_cuts(seg, affs, cut=0.03).tolist()
    [[1, 1, 1, 2, 2, 2]]
    """
    flat = np.asarray(segmentation).ravel().astype(np.int64)
    n = flat.size
    us, vs, ws = edge_list(affs, offsets)
    # 1. the pieces of each segment: its voxels joined by its own edges at or above the cut
    held = np.flatnonzero((flat[us] > 0) & (flat[us] == flat[vs]) & (ws >= cut))
    parent = np.arange(n, dtype=np.int64)
    _join(held, us, vs, parent, np.zeros(n, np.int64))
    _, pieces = np.unique(_roots(parent), return_inverse=True)
    pieces = pieces.astype(np.int64) + 1
    pieces[flat == 0] = 0
    segments = np.unique(flat)
    if pieces.max(initial=0) == np.count_nonzero(segments):  # nothing fell apart
        out = np.searchsorted(segments, flat) + (segments[0] != 0)
        return out.astype(np.uint64).reshape(np.shape(segmentation))
    # 2. pieces of min_size voxels (and at least 2) stay; smaller ones join the piece across
    #    their strongest edge at or above the cut, as a whole; two sized pieces never join
    count = int(pieces.max()) + 1
    size = np.bincount(pieces, minlength=count)
    if min_size is None:  # the largest piece of each segment
        owner = np.zeros(count, np.int64)
        owner[pieces] = flat
        by_size = np.lexsort((-size[1:], owner[1:])) + 1  # per segment, largest first
        first = np.r_[True, owner[by_size][1:] != owner[by_size][:-1]]
        sized = np.zeros(count, bool)
        sized[by_size[first]] = True
    else:
        sized = size >= max(int(min_size), 2)
    sized[0] = False
    pu, pv = pieces[us], pieces[vs]
    between = np.flatnonzero((pu != pv) & (pu > 0) & (pv > 0) & (ws >= cut)
                             & ~(sized[pu] & sized[pv]))
    order = between[np.argsort(-ws[between], kind="stable")]  # strongest edge first
    parent = np.arange(count, dtype=np.int64)
    label = np.where(sized, np.arange(count), 0)
    _join(order, pu, pv, parent, label)
    roots = _roots(parent)
    final = np.where(label[roots] > 0, label[roots], count + roots)[pieces]
    final[flat == 0] = 0
    ids, final = np.unique(final, return_inverse=True)
    final = final.astype(np.uint64) + np.uint64(ids[0] != 0)
    return final.reshape(np.shape(segmentation))
