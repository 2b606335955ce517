"""Self-checks for the MALIS exercises: maximin edges and MALIS pair counts on tiny 2D graphs.

The graphs follow the course convention: ``affs`` is (2, H, W); ``affs[0][y, x]``
is the edge between (y, x) and (y - 1, x), ``affs[1][y, x]`` the edge between
(y, x) and (y, x - 1); row 0 of ``affs[0]`` and column 0 of ``affs[1]`` are no edges.

Used in: notebooks/04_malis
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..malis import descending_order, malis_weights, maximin_edge
from ._core import CheckResult, _call, _close, _diagnose, _Fail, _fmt, _numbers, _run

__all__ = ["check_maximin_edge", "check_malis_pair_counts"]


def _graph(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """Affinities with distinct two-decimal values, so every maximin edge is unique."""
    rng = np.random.default_rng(seed)
    values = rng.choice(np.arange(1, 100), size=2 * shape[0] * shape[1], replace=False)
    affs = (values / 100).reshape(2, *shape).astype(np.float32)
    affs[0, 0, :] = 0  # no edge above row 0
    affs[1, :, 0] = 0  # no edge left of column 0
    affs.flags.writeable = False
    return affs


# (affs, u, v): the straight and L-shaped paths are not the best ones here.
_EDGE_CASES = (
    (_graph(7, (3, 3)), (0, 0), (2, 2)),
    (_graph(5, (3, 4)), (0, 0), (2, 3)),
    (_graph(12, (4, 4)), (0, 1), (3, 2)),
    (_graph(3, (2, 5)), (0, 0), (0, 4)),
)


def _labels(rows) -> np.ndarray:
    labels = np.array(rows, dtype=np.uint64)
    labels.flags.writeable = False
    return labels


_COUNT_CASES = (
    (_graph(7, (3, 3)), _labels([[1, 1, 2], [1, 0, 2], [3, 3, 2]])),
    (_graph(5, (3, 4)), _labels([[1, 1, 0, 2], [1, 1, 0, 2], [0, 3, 3, 2]])),
    (_graph(21, (2, 4)), _labels([[1, 2, 2, 1], [1, 0, 2, 1]])),
)


# --- maximin edge ---------------------------------------------------------------------------


def _edge_value(affs: np.ndarray, p: tuple[int, int], q: tuple[int, int]) -> float:
    """The affinity of the edge between neighbours p and q (course convention)."""
    lower = max(p, q)  # the edge is stored at the voxel with the larger index
    axis = 0 if p[1] == q[1] else 1
    return float(affs[axis][lower])


def _l_paths(u, v) -> list[list[tuple[int, int]]]:
    """The two straight/L-shaped paths: y first then x, and x first then y."""
    def walk(first_axis):
        path, cur = [tuple(u)], list(u)
        for axis in (first_axis, 1 - first_axis):
            while cur[axis] != v[axis]:
                cur[axis] += 1 if v[axis] > cur[axis] else -1
                path.append(tuple(cur))
        return path
    return [walk(0), walk(1)]


def _path_edges(affs, path) -> list[float]:
    return [_edge_value(affs, p, q) for p, q in zip(path[:-1], path[1:])]


def _tree_path(affs, u, v) -> list[tuple[int, int]]:
    """The path from u to v in the maximum spanning tree (the maximin path)."""
    shape = affs.shape[1:]
    n = shape[0] * shape[1]
    parent, tree = list(range(n)), {i: [] for i in range(n)}
    for e in descending_order(np.asarray(affs, np.float32)):
        k, i = divmod(int(e), n)
        j = i - (shape[1] if k == 0 else 1)
        ri, rj = _root(parent, i), _root(parent, j)
        if ri != rj:
            parent[ri] = rj
            tree[i].append(j)
            tree[j].append(i)
    start, goal = np.ravel_multi_index(u, shape), np.ravel_multi_index(v, shape)
    came, todo = {start: None}, [start]
    while todo:
        node = todo.pop()
        for nxt in tree[node]:
            if nxt not in came:
                came[nxt] = node
                todo.append(nxt)
    path, node = [], goal
    while node is not None:
        path.append(tuple(int(c) for c in np.unravel_index(node, shape)))
        node = came[node]
    return path[::-1]


def _first_join(affs, u, v, order) -> float:
    """The affinity of the edge that first connects u and v, visiting edges in ``order``."""
    shape = affs.shape[1:]
    n = shape[0] * shape[1]
    parent = list(range(n))
    start, goal = np.ravel_multi_index(u, shape), np.ravel_multi_index(v, shape)
    for e in order:
        k, i = divmod(int(e), n)
        j = i - (shape[1] if k == 0 else 1)
        parent[_root(parent, i)] = _root(parent, j)
        if _root(parent, start) == _root(parent, goal):
            return float(affs.ravel()[e])
    return float("nan")


def _root(parent, i):
    while parent[i] != i:
        i = parent[i]
    return i


def _shifted(affs, axes) -> np.ndarray:
    """What the student reads if affs[k][i] linked i and i + 1 along axis k (not i - 1)."""
    out = np.array(affs, copy=True)
    for k in axes:
        src = np.asarray(affs[k])
        out[k] = np.roll(src, 1, axis=k)
        out[k][(slice(None),) * k + (0,)] = 0
    return out


def _maximin_mistakes() -> list[tuple[Callable, str]]:
    def straight(case):
        affs, u, v = case
        return [min(_path_edges(affs, p)) for p in _l_paths(u, v)]

    def largest(case):
        affs, u, v = case
        paths = [_tree_path(affs, u, v), *_l_paths(u, v)]
        return [max(_path_edges(affs, p)) for p in paths] + [float(np.max(affs))]

    def off_by_one(case):
        affs, u, v = case
        return [maximin_edge(_shifted(affs, axes), u, v) for axes in ((0, 1), (0,), (1,))]

    def ascending(case):
        affs, u, v = case
        return [_first_join(affs, u, v, descending_order(np.asarray(affs, np.float32))[::-1])]

    return [
        (straight,
         "you took the weakest edge of the straight (L-shaped) path; the maximin edge is the "
         "weakest edge of the *best* path, which may go around: add edges from the highest "
         "affinity down until u and v are connected"),
        (ascending,
         "you visited the edges from the weakest up: Kruskal for the maximin edge starts at "
         "the *strongest* edge. Visit them by decreasing affinity (edges_by_affinity "
         "already sorts them so: don't reverse or re-sort its list)"),
        (off_by_one,
         "check the edge convention: affs[0][y, x] links (y, x) with (y - 1, x) and "
         "affs[1][y, x] links (y, x) with (y, x - 1), not with y + 1 / x + 1"),
        (largest,
         "you returned the strongest edge; the maximin edge is the *weakest* edge on the "
         "best path (its bottleneck)"),
    ]


def check_maximin_edge(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(affs, u, v) -> float``: the affinity of the maximin edge between two pixels.

    Parameters
    ----------
    fn : callable
        Your function: takes (2, H, W) affinities (course convention) and two
        pixels ``u = (y, x)``, ``v = (y, x)``; returns the largest ``t`` such
        that a path from ``u`` to ``v`` uses only edges with affinity >= ``t``.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> from mbl_seg.malis import maximin_edge
    >>> check_maximin_edge(maximin_edge).passed
    ✅ maximin_edge: correct — your answers match on all 4 test graphs
    True

    Used in: notebooks/04_malis
    """
    def body() -> str:
        cases = [((a, u, v), _numbers(_call(fn, a, u, v), 1, "the maximin affinity")[0])
                 for a, u, v in _EDGE_CASES]
        wrong = [(c, got) for c, got in cases if not _close(got, maximin_edge(*c))]
        if not wrong:
            return f"your answers match on all {len(cases)} test graphs"
        (affs, u, v), got = wrong[0]
        hint = _diagnose(cases, _maximin_mistakes()) or (
            "sort the edges by decreasing affinity, join pixels with a union-find, and "
            "return the affinity of the edge that first connects u and v")
        raise _Fail(f"for u = {u}, v = {v} on the {affs.shape[1]}x{affs.shape[2]} test graph "
                    f"you returned {_fmt(got)}, expected {_fmt(maximin_edge(affs, u, v))}. "
                    f"Hint: {hint}")
    return _run("maximin_edge", body, verbose)


# --- pair counts ----------------------------------------------------------------------------


def _counts(affs, labels) -> np.ndarray:
    """Reference (pos, neg) stacked as one (2, 2, H, W) array."""
    return np.stack(malis_weights(np.asarray(affs), np.asarray(labels)))


def _self_pairs(affs, labels, ordered: bool) -> np.ndarray:
    out = _counts(affs, labels) * (2 if ordered else 1)
    top = np.unravel_index(descending_order(np.asarray(affs))[0], affs.shape)
    out[0][top] += int((np.asarray(labels) != 0).sum())  # u == v: decided by the first edge
    return out


def _count_mistakes() -> list[tuple[Callable, str]]:
    def with_background(case):
        affs, labels = case
        own = labels.max() + 1 + np.arange(labels.size, dtype=np.uint64).reshape(labels.shape)
        return [_counts(affs, labels + 1), _counts(affs, np.where(labels == 0, own, labels))]

    def no_minus_pos(case):
        pos, neg = _counts(*case)
        return [np.stack([pos, pos + neg])]

    return [
        (no_minus_pos,
         "your neg also counts the pairs of the same object: (labelled in A) * (labelled in "
         "B) is every pair the edge joins. Subtract pos, the same-object pairs: "
         "neg = (labelled in A) * (labelled in B) - pos"),
        (lambda c: [_counts(*c)[::-1]],
         "pos and neg are swapped: pos counts pairs of the *same* object, neg pairs of "
         "different objects"),
        (with_background,
         "you counted pairs with background voxels: label 0 takes part in no pair, count "
         "only voxels with a label > 0"),
        (lambda c: [_self_pairs(*c, ordered=False), _self_pairs(*c, ordered=True)],
         "you counted each voxel as a pair with itself (u == v): loop over pairs u < v"),
        (lambda c: [2 * _counts(*c)],
         "you counted every pair twice, as (u, v) and (v, u): count unordered pairs once "
         "(countA[l] * countB[l] at each merge, not twice that)"),
    ]


def _as_counts(value, affs) -> np.ndarray:
    if value is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    try:
        out = np.stack([np.asarray(x, dtype=np.float64) for x in value])
    except (TypeError, ValueError):
        out = np.empty(0)
    if out.shape != (2, *affs.shape):
        raise _Fail(f"your function should return (pos, neg): two arrays shaped like affs "
                    f"{affs.shape}, got {type(value).__name__} of shape {np.shape(out)}")
    return out


def check_malis_pair_counts(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(affs, labels) -> (pos, neg)``: the MALIS pair counts of every edge.

    Parameters
    ----------
    fn : callable
        Your function: takes (2, H, W) affinities (course convention) and
        (H, W) labels (0 = background, in no pair) and returns two arrays shaped
        like ``affs``: ``pos[k][y, x]`` / ``neg[k][y, x]`` = the number of
        unordered pairs of labelled pixels of the same / of different objects
        whose maximin edge is ``affs[k][y, x]``.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> def my_counts(affs, labels):
    ...     raise NotImplementedError("TODO")
    >>> result = check_malis_pair_counts(my_counts)
    ❌ malis_pair_counts: not implemented yet — fill in the TODO

    Used in: notebooks/04_malis
    """
    def body() -> str:
        cases = [((a, lab), _as_counts(_call(fn, a, lab), a)) for a, lab in _COUNT_CASES]
        wrong = [(c, got) for c, got in cases if not _close(got, _counts(*c))]
        if not wrong:
            return f"your counts match on all {len(cases)} test graphs"
        (affs, labels), got = wrong[0]
        want = _counts(affs, labels)
        where = tuple(int(i) for i in np.argwhere(~np.isclose(got, want))[0])
        name = ("pos", "neg")[where[0]]
        hint = _diagnose(cases, _count_mistakes()) or (
            "visit edges by decreasing affinity with a union-find; when an edge joins "
            "components A and B, pos = sum over labels l > 0 of countA[l] * countB[l] and "
            "neg = (labelled in A) * (labelled in B) - pos")
        raise _Fail(f"for labels {labels.tolist()} you returned {name}{list(where[1:])} = "
                    f"{got[where]:g}, expected {want[where]:g}. Hint: {hint}")
    return _run("malis_pair_counts", body, verbose)
