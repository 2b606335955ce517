"""Compiled kernels of :mod:`mbl_seg.malis`: the edge sort and Kruskal's union-find.

These loops are sequential by nature (each merge depends on all earlier ones),
so numpy cannot vectorise them; numba compiles them (``cache=True``: once per
machine, then loaded from disk). ``fn.py_func`` is the same code in plain
Python (see bench/bench_malis.py for what that costs).
"""

import numpy as np
from numba import njit


# Each component (by union-find root) knows how many labelled voxels it holds and
# either its one label ("pure", the common case, costs nothing) or a histogram
# ("mixed"): a linked list of (label, count) entries, found by (histogram, label)
# through an open-addressing hash table. A merge walks the smaller histogram only.

_KIND, _LABEL, _HIST = range(3)  # columns of `comp` (one row per root)
_NONE, _PURE, _MIXED = 0, 1, 2  # kinds: no labelled voxel, one label, several labels
_LAB, _COUNT, _NEXT, _OWNER = range(4)  # rows of `ent` (per histogram entry)
_HEAD, _NENT, _ALIVE = range(3)  # rows of `hists` (per histogram)
_FRESH, _FREE_TOP, _USED, _HISTS = range(4)  # counters in `ctr`


@njit(cache=True, nogil=True)
def _sorted_edges(values, valid):
    """Affinity 1 first, then (0, 1) by a radix sort, then 0; each tie in index order."""
    n_one = n_mid = n_all = 0
    for i in range(values.size):
        if valid[i]:
            n_all += 1
            n_one += values[i] >= 1
            n_mid += 0 < values[i] < 1
    order = np.empty(n_all, np.int32)  # 32-bit indices: half the memory traffic
    mid_idx, mid_key = np.empty(n_mid, np.int32), np.empty(n_mid, np.int32)
    bits = values.view(np.int32)
    top, mid, low = 0, 0, n_one + n_mid
    for i in range(values.size):
        if not valid[i]:
            continue
        if values[i] >= 1:
            order[top] = i
            top += 1
        elif values[i] > 0:  # positive floats compare like their bits: 1.0 - x sorts down
            mid_idx[mid], mid_key[mid] = i, 0x3F800000 - bits[i]
            mid += 1
        else:
            order[low] = i
            low += 1
    order[n_one:n_one + n_mid] = mid_idx[_radix_argsort(mid_key)]
    return order


@njit(cache=True, nogil=True)
def _radix_argsort(keys):
    """Stable argsort of integer keys in [0, 2**30): three counting sorts of 10 bits."""
    n = keys.size
    idx, key = np.arange(n).astype(np.int32), keys.copy()
    idx2, key2 = np.empty_like(idx), np.empty_like(key)
    for shift in (0, 10, 20):
        start = np.zeros(1025, np.int64)
        for i in range(n):
            start[((key[i] >> shift) & 1023) + 1] += 1
        for d in range(1024):
            start[d + 1] += start[d]
        for i in range(n):
            d = (key[i] >> shift) & 1023
            idx2[start[d]], key2[start[d]] = idx[i], key[i]
            start[d] += 1
        idx, idx2, key, key2 = idx2, idx, key2, key
    return idx


@njit(cache=True, nogil=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression keeps later finds short
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit(cache=True, nogil=True)
def _slot(table, ent, hist, label):
    """The slot holding the entry of (hist, label), else the empty slot where it goes."""
    mask = table.size - 1
    h = hist * 2654435761 + label * 40503
    s = (h ^ (h >> 17)) & mask
    while table[s] != -1 and (ent[_OWNER, table[s]] != hist or ent[_LAB, table[s]] != label):
        s = (s + 1) & mask
    return s


@njit(cache=True, nogil=True)
def _new_entry(ent, free, ctr, label, count):
    if ctr[_FREE_TOP] > 0:
        ctr[_FREE_TOP] -= 1
        e = free[ctr[_FREE_TOP]]
    else:
        e = ctr[_FRESH]
        ctr[_FRESH] += 1
    ent[_LAB, e], ent[_COUNT, e], ent[_OWNER, e] = label, count, -1
    return e


@njit(cache=True, nogil=True)
def _add(table, ent, free, hists, ctr, hist, e):
    """Move entry ``e`` into histogram ``hist``; return its count times the count already there."""
    s = _slot(table, ent, hist, ent[_LAB, e])
    if table[s] == -1:
        table[s], ent[_OWNER, e] = e, hist
        ent[_NEXT, e], hists[_HEAD, hist] = hists[_HEAD, hist], e
        hists[_NENT, hist] += 1
        ctr[_USED] += 1
        return 0
    there = table[s]
    product = ent[_COUNT, e] * ent[_COUNT, there]
    ent[_COUNT, there] += ent[_COUNT, e]
    ent[_OWNER, e] = -1  # stale slots pointing here must never match again
    free[ctr[_FREE_TOP]] = e
    ctr[_FREE_TOP] += 1
    return product


@njit(cache=True, nogil=True)
def _rebuild(ent, hists, ctr, room):
    """A new table with the live entries only, big enough for ``room`` more insertions."""
    live = ctr[_FRESH] - ctr[_FREE_TOP]
    cap = 1024
    while cap < 4 * (live + room):
        cap *= 2
    table = np.full(cap, -1, np.int64)
    ctr[_USED] = live
    for e in range(ctr[_FRESH]):
        if ent[_OWNER, e] >= 0 and hists[_ALIVE, ent[_OWNER, e]]:
            table[_slot(table, ent, ent[_OWNER, e], ent[_LAB, e])] = e
    return table


@njit(cache=True, nogil=True)
def _new_hist(comp, tot, ent, free, hists, ctr, table, a, b):
    """Roots ``a`` and ``b`` hold one label each, different: start a histogram in ``a``."""
    hist = ctr[_HISTS]
    ctr[_HISTS] += 1
    hists[_HEAD, hist], hists[_NENT, hist], hists[_ALIVE, hist] = -1, 0, 1
    for r in (a, b):
        e = _new_entry(ent, free, ctr, comp[r, _LABEL], tot[r])
        _add(table, ent, free, hists, ctr, hist, e)
    comp[a, _KIND], comp[a, _HIST] = _MIXED, hist


@njit(cache=True, nogil=True)
def _merge(comp, tot, ent, free, hists, ctr, table, a, b):
    """Give root ``a`` the labels of ``a`` and ``b`` (both labelled, not one same label).

    Returns the number of same-label pairs between them.
    """
    pure_a, pure_b = comp[a, _KIND] == _PURE, comp[b, _KIND] == _PURE
    if pure_a and pure_b:
        _new_hist(comp, tot, ent, free, hists, ctr, table, a, b)
        return 0
    if pure_a or pure_b:  # one label joins a histogram
        single, mixed = (a, b) if pure_a else (b, a)
        e = _new_entry(ent, free, ctr, comp[single, _LABEL], tot[single])
        comp[a, _KIND], comp[a, _HIST] = _MIXED, comp[mixed, _HIST]
        return _add(table, ent, free, hists, ctr, comp[a, _HIST], e)
    big, small = comp[a, _HIST], comp[b, _HIST]
    if hists[_NENT, big] < hists[_NENT, small]:
        big, small = small, big
    comp[a, _HIST], hists[_ALIVE, small] = big, 0
    product, e = 0, hists[_HEAD, small]
    while e != -1:
        nxt = ent[_NEXT, e]
        product += _add(table, ent, free, hists, ctr, big, e)
        e = nxt
    return product


@njit(cache=True, nogil=True)
def _room(comp, hists, a, b):
    """At most how many keys merging ``a`` and ``b`` adds to the table."""
    na = hists[_NENT, comp[a, _HIST]] if comp[a, _KIND] == _MIXED else 1
    nb = hists[_NENT, comp[b, _HIST]] if comp[b, _KIND] == _MIXED else 1
    return 2 + min(na, nb)


@njit(cache=True, nogil=True)
def _kruskal(order, strides, labels):
    """Visit edges in ``order``; return the merging edges and the pairs each one decides.

    Returns (edges, pos, neg), in visiting order (sequential writes are faster).
    """
    n = labels.size
    parent, size = np.arange(n).astype(np.int32), np.ones(n, np.int32)
    tot = (labels != 0).astype(np.int64)
    comp = np.zeros((n, 3), np.int64)  # one row per root: kind, label, histogram
    comp[:, _KIND] = np.where(labels != 0, _PURE, _NONE)
    comp[:, _LABEL] = labels
    pool = tot.sum() + 4  # live entries never exceed the labelled voxels (+2)
    ent, free = np.zeros((4, pool), np.int64), np.zeros(pool, np.int64)
    hists, ctr = np.zeros((3, n), np.int64), np.zeros(4, np.int64)
    table = _rebuild(ent, hists, ctr, 0)
    out, m = np.zeros((3, n), np.int64), 0  # rows: edge, pos, neg
    for e in order:
        k = e // n
        a, b = _find(parent, e - k * n), _find(parent, e - k * n - strides[k])
        if a == b:
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b], size[a] = a, size[a] + size[b]
        out[0, m] = e
        if tot[a] == 0 or tot[b] == 0:  # fast path: no pair
            if tot[b] != 0:
                comp[a] = comp[b]
        elif (comp[a, _KIND] == _PURE and comp[b, _KIND] == _PURE
              and comp[a, _LABEL] == comp[b, _LABEL]):  # fast path: one object grows
            out[1, m] = tot[a] * tot[b]
        else:
            room = _room(comp, hists, a, b)
            if 4 * (ctr[_USED] + room) > 3 * table.size:
                table = _rebuild(ent, hists, ctr, room)
            product = _merge(comp, tot, ent, free, hists, ctr, table, a, b)
            out[1, m], out[2, m] = product, tot[a] * tot[b] - product
        tot[a] += tot[b]
        m += 1
    return out[0, :m], out[1, :m], out[2, :m]
