"""The region graph's pass over the volume, compiled (numba): one loop, no temporary volumes.

:func:`mbl_seg.rag.region_graph` finds every contact (an affinity edge whose two voxels are
in different fragments), gives it the index of its fragment pair among the sorted pairs,
and sums the pairs' contacts, affinities and histograms. In numpy that takes a boolean
volume, index arrays and a sparse matrix per channel; here it is a loop over the voxels
that lists the contacts (counted first, then written), then groups them by pair in a hash
map that keeps the pair of the previous contact (neighbouring contacts mostly share it).

Used in: :mod:`mbl_seg.rag` (and through it, agglomeration and the block-wise edges step).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.typed import Dict


@numba.njit(cache=True)
def _scan(labels, lut, affs, offsets, skip, fill, low, high, values):
    """Count the contacts (``fill`` False) or write them: fragment pair (low < high), affinity.

    A voxel's fragment is ``lut[labels[voxel]]`` (an index into the sorted ids).
    """
    depth, rows, cols = labels.shape
    count = 0
    for k in range(offsets.shape[0]):
        dz, dy, dx = offsets[k, 0], offsets[k, 1], offsets[k, 2]
        for z in range(max(0, -dz), min(depth, depth - dz)):
            for y in range(max(0, -dy), min(rows, rows - dy)):
                for x in range(max(0, -dx), min(cols, cols - dx)):
                    u = lut[labels[z, y, x]]
                    v = lut[labels[z + dz, y + dy, x + dx]]
                    if u == v or u == skip or v == skip:
                        continue
                    if fill:
                        low[count], high[count] = min(u, v), max(u, v)
                        values[count] = affs[k, z, y, x]
                    count += 1
    return count


@numba.njit(cache=True)
def _group(low, high, n):
    """Each contact's pair as an index into the sorted pairs, and those pairs (low * n + high)."""
    index = Dict.empty(key_type=types.int64, value_type=types.int64)
    edge = np.empty(len(low), np.int64)
    last, last_edge = -1, -1
    for c in range(len(low)):
        key = low[c] * n + high[c]
        if key != last:  # neighbouring contacts mostly share their pair: few lookups
            if key in index:
                last_edge = index[key]
            else:
                last_edge = len(index)
                index[key] = last_edge
            last = key
        edge[c] = last_edge
    pairs = np.empty(len(index), np.int64)
    for key, e in index.items():
        pairs[e] = key
    order = np.argsort(pairs)
    rank = np.empty(len(pairs), np.int64)
    rank[order] = np.arange(len(pairs))
    for c in range(len(edge)):
        edge[c] = rank[edge[c]]
    return edge, pairs[order]


@numba.njit(cache=True)
def _sum(edge, values, m, bins):
    """Contacts, affinity sums and (``bins`` > 0) histograms of the ``m`` pairs."""
    contacts = np.zeros(m, np.int64)
    sums = np.zeros(m, np.float64)
    histogram = np.zeros((m, max(bins, 1)), np.int32)
    for c in range(len(edge)):
        e = edge[c]
        contacts[e] += 1
        sums[e] += values[c]
        if bins > 0:
            histogram[e, min(int(values[c] * bins), bins - 1)] += 1
    return contacts, sums, histogram


@numba.njit(cache=True)
def id_table(fragments):
    """Which ids 0..max occur, and each id's index among them (-1: absent): two passes."""
    flat = fragments.reshape(-1)
    top = np.int64(0)
    for f in flat:
        top = max(top, np.int64(f))
    present = np.zeros(top + 1, np.bool_)
    for f in flat:
        present[f] = True
    lut = np.full(top + 1, -1, np.intp)
    k = 0
    for i in range(top + 1):
        if present[i]:
            lut[i] = k
            k += 1
    return present, lut


@numba.njit(cache=True)
def _sizes(labels, lut, n):
    sizes = np.zeros(n, np.int64)
    for i in labels.ravel():
        sizes[lut[i]] += 1
    return sizes


def graph_arrays(affs: np.ndarray, labels: np.ndarray, lut: np.ndarray, offsets, n: int,
                 skip: int, bins: int | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """(pairs as ``low * n + high`` sorted, contacts, affinity sums, histograms or None,
    voxels per fragment).

    A voxel's fragment is ``lut[labels[voxel]]``, an index into the ``n`` sorted ids;
    index ``skip`` (background) has no edges (-1: none is skipped).
    """
    pad = 3 - labels.ndim  # 2D volumes run as one section
    labels3 = labels.reshape((1,) * pad + labels.shape)
    affs4 = affs.reshape((len(affs),) + (1,) * pad + affs.shape[1:])
    steps = np.array([(0,) * pad + tuple(o) for o in offsets], np.int64).reshape(-1, 3)
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    count = _scan(labels3, lut, affs4, steps, skip, False, empty_i, empty_i, empty_f)
    low, high = np.empty(count, np.int64), np.empty(count, np.int64)
    values = np.empty(count, np.float64)
    _scan(labels3, lut, affs4, steps, skip, True, low, high, values)
    edge, pairs = _group(low, high, n)
    contacts, sums, histogram = _sum(edge, values, len(pairs), bins or 0)
    return pairs, contacts, sums, (histogram if bins else None), _sizes(labels, lut, n)
