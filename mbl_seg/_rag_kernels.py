"""The region graph's pass over the volume, compiled (numba): one loop, no temporary volumes.

:func:`mbl_seg.rag.region_graph` finds every contact (an affinity edge whose two voxels are
in different fragments), gives it the index of its fragment pair among the sorted pairs,
and sums the pairs' contacts, affinities and histograms. In numpy that takes a boolean
volume, index arrays and a sparse matrix per channel; here it is a loop over the voxels
that lists the contacts section by section, each with the index of its fragment pair from
a hash map (which the previous contact's pair, mostly the same, spares most lookups of).

Used in: :mod:`mbl_seg.rag` (and through it, agglomeration and the block-wise edges step).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.typed import Dict

FIRST_CAPACITY = 1 << 18  # contacts the buffers hold before they first grow


@numba.njit(cache=True)
def _section(labels, lut, affs, k, dz, dy, dx, skip, n, z, index, last, edge, values, count):
    """Append the contacts of section ``z`` along offset ``k`` from ``count``: each contact's
    pair (its index in ``index``, made as pairs turn up) and affinity. Returns the new count,
    or -1 when the buffers are full (the caller grows them and does the section again).

    A voxel's fragment is ``lut[labels[voxel]]``; ``last`` holds the previous contact's pair
    (key, index): neighbouring contacts mostly share it, which spares most lookups.
    """
    depth, rows, cols = labels.shape
    key_before, e = last[0], last[1]
    for y in range(max(0, -dy), min(rows, rows - dy)):
        for x in range(max(0, -dx), min(cols, cols - dx)):
            a, b = labels[z, y, x], labels[z + dz, y + dy, x + dx]
            if a == b:  # inside one fragment: most pairs, decided without the table
                continue
            u, v = lut[a], lut[b]
            if u == v or u == skip or v == skip:
                continue
            if count == len(edge):
                return -1
            key = min(u, v) * n + max(u, v)
            if key != key_before:
                if key in index:
                    e = index[key]
                else:
                    e = len(index)
                    index[key] = e
                key_before = key
            edge[count] = e
            values[count] = affs[k, z, y, x]
            count += 1
    last[0], last[1] = key_before, e
    return count


@numba.njit(cache=True)
def _new_index():
    return Dict.empty(key_type=types.int64, value_type=types.int64)


@numba.njit(cache=True)
def _sorted(index, edge):
    """The pairs in sorted order, and ``edge`` renumbered to match."""
    pairs = np.empty(len(index), np.int64)
    for key, e in index.items():
        pairs[e] = key
    order = np.argsort(pairs)
    rank = np.empty(len(pairs), np.int64)
    rank[order] = np.arange(len(pairs))
    for c in range(len(edge)):
        edge[c] = rank[edge[c]]
    return pairs[order]


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
                 skip: int, bins: int | None, sizes: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None,
                            np.ndarray | None]:
    """(pairs as ``low * n + high`` sorted, contacts, affinity sums, histograms or None,
    voxels per fragment or None if not ``sizes``).

    A voxel's fragment is ``lut[labels[voxel]]``, an index into the ``n`` sorted ids;
    index ``skip`` (background) has no edges (-1: none is skipped).
    """
    pad = 3 - labels.ndim  # 2D volumes run as one section
    labels3 = labels.reshape((1,) * pad + labels.shape)
    affs4 = affs.reshape((len(affs),) + (1,) * pad + affs.shape[1:])
    steps = np.array([(0,) * pad + tuple(o) for o in offsets], np.int64).reshape(-1, 3)
    index, last = _new_index(), np.array([-1, -1], np.int64)
    edge = np.empty(FIRST_CAPACITY, np.int64)
    values = np.empty(FIRST_CAPACITY, np.float64)
    count = 0
    for k, (dz, dy, dx) in enumerate(steps.tolist()):
        for z in range(max(0, -dz), min(labels3.shape[0], labels3.shape[0] - dz)):
            while (done := _section(labels3, lut, affs4, k, dz, dy, dx, skip, n, z, index,
                                    last, edge, values, count)) < 0:
                edge = np.concatenate([edge, np.empty_like(edge)])  # full: grow, do it again
                values = np.concatenate([values, np.empty_like(values)])
                last[:] = -1
            count = done
    edge, values = edge[:count], values[:count]
    pairs = _sorted(index, edge)
    contacts, sums, histogram = _sum(edge, values, len(pairs), bins or 0)
    return (pairs, contacts, sums, (histogram if bins else None),
            _sizes(labels, lut, n) if sizes else None)
