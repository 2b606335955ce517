"""Fragments that respect the affinity graph: split a segmentation along near-certain cuts.

A watershed of a boundary map assigns each voxel to the basin that floods it first, and a
voxel at the contact of two neurons may go to either side, whatever its affinities say.
With sharp affinities (a contact seen by one channel only, as in perfect affinities) a
fragment can then hold voxels of two neurons, joined to the rest of it only by edges whose
affinity says "two objects" with certainty; no agglomeration can undo that merge.

:func:`split_along_cuts` repairs it: each fragment falls apart into the pieces that its own
edges of affinity at least ``cut`` hold together; pieces of at least ``min_size`` voxels
are fragments of their own, and smaller ones join the neighbour of their strongest such
edge (two sized pieces are never joined), or stay alone if they have none. Predicted
affinities are rarely that certain inside a fragment, so their fragments hardly change.

Used in: :func:`mbl_seg.segment.fragments` (``cut``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from .targets import nearest_offsets, offset_slices


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


def split_along_cuts(segmentation: np.ndarray, affs: np.ndarray, *, cut: float,
                     min_size: int = 0, offsets: Sequence[Sequence[int]] | None = None
                     ) -> np.ndarray:
    """``segmentation`` with every segment split where only edges below ``cut`` hold it.

    Returns ids 1..N (0 stays 0), uint64.

    >>> seg = np.ones((1, 6), np.uint64)  # one fragment over two objects ...
    >>> affs = np.ones((2, 1, 6), np.float32); affs[1, 0, 3] = 0  # ... cut between x = 2 and 3
    >>> split_along_cuts(seg, affs, cut=0.03).tolist()
    [[1, 1, 1, 2, 2, 2]]
    """
    flat = np.asarray(segmentation).ravel().astype(np.int64)
    n = flat.size
    us, vs, ws = edge_list(affs, offsets)
    held = (flat[us] == flat[vs]) & (flat[us] > 0) & (ws >= cut)
    parent = np.arange(n, dtype=np.int64)
    _join(np.flatnonzero(held), us, vs, parent, np.zeros(n, np.int64))
    _, pieces = np.unique(_roots(parent), return_inverse=True)
    pieces = pieces.astype(np.int64) + 1
    pieces[flat == 0] = 0
    sizes = np.bincount(pieces)
    label = np.where(sizes[pieces] >= max(int(min_size), 2), pieces, 0)
    label[flat == 0] = 0
    usable = np.flatnonzero((ws >= cut) & (flat[us] > 0) & (flat[vs] > 0))
    order = usable[np.argsort(-ws[usable], kind="stable")]  # strongest edge first
    parent = np.arange(n, dtype=np.int64)
    _join(order, us, vs, parent, label)
    roots = _roots(parent)
    out = np.where(label[roots] > 0, label[roots], pieces.max() + 1 + roots)
    out[flat == 0] = 0
    ids, out = np.unique(out, return_inverse=True)
    out = out.astype(np.uint64) + np.uint64(ids[0] != 0)
    return out.reshape(np.shape(segmentation))
