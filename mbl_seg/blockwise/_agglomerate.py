"""Agglomeration the way large runs do it: per block with context, then one global threshold.

The whole-graph step (``agglomeration="graph"``) holds every edge of the volume, with its
histogram for quantile scoring, in one process. Runs over whole brains cannot, so they
agglomerate each block on its own, with some context around it, and store for every edge
the **score at which its two fragments were first joined** (its merge score). The global
step is then cheap: keep the edges whose merge score is below the threshold and take the
connected components of the fragments they join. Each edge is stored by one block, the
block of its smaller fragment id, which sees both sides of it (its context reaches across
the face); blocks disagree near their faces, where each sees only part of the neighbour,
so the result differs a little from the whole-graph agglomeration (notebook 08 measures
by how much).

Used in: :mod:`mbl_seg.blockwise` (``run(..., agglomeration="blocks")``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def join_scores(edges: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray
                ) -> np.ndarray:
    """For each edge (u, v), the score of the merge that first put u and v in one region.

    ``a, b, score`` is a merge history (:func:`mbl_seg.agglomeration.merge_history`: each
    merge joins the regions whose smallest fragments are ``a`` and ``b``). Edges whose
    fragments are never joined get ``inf``.

    >>> history = ([1, 1], [2, 3], [0.1, 0.4])  # 1+2 at 0.1, then (1, 2)+3 at 0.4
    >>> join_scores(np.array([[1, 2], [2, 3], [1, 4]]), *map(np.array, history)).tolist()
    [0.1, 0.4, inf]
    """
    edges = np.asarray(edges).reshape(-1, 2)
    out = np.full(len(edges), np.inf)
    parent: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    touching: dict[int, list[tuple[int, int]]] = {}  # fragment: [(other fragment, edge)]
    for e, (u, v) in enumerate(edges.tolist()):
        touching.setdefault(u, []).append((v, e))
        touching.setdefault(v, []).append((u, e))

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for x, y, s in zip(np.asarray(a).tolist(), np.asarray(b).tolist(), np.asarray(score)):
        rx, ry = root(x), root(y)
        if rx == ry:
            continue
        small, large = sorted((rx, ry), key=lambda r: len(members.get(r, [r])))
        large_members = members.get(large, [large])
        small_members = members.pop(small, [small])
        for m in small_members:  # small into large: each fragment moves O(log n) times
            for other, e in touching.get(m, ()):
                if out[e] == np.inf and root(other) == large:
                    out[e] = s
        parent[small] = large
        members[large] = large_members + small_members
    return out


def components(ids: np.ndarray, u: np.ndarray, v: np.ndarray, score: np.ndarray,
               threshold: float) -> np.ndarray:
    """Segments 1..N of the fragments ``ids``: joined by every edge scored below ``threshold``.

    >>> components(np.array([1, 2, 3, 4]), np.array([1, 2]), np.array([2, 3]),
    ...            np.array([0.2, 0.7]), 0.5).tolist()
    [1, 1, 2, 3]
    """
    ids = np.asarray(ids, np.uint64)
    keep = np.asarray(score) < threshold
    iu = np.searchsorted(ids, np.asarray(u, np.uint64)[keep])
    iv = np.searchsorted(ids, np.asarray(v, np.uint64)[keep])
    graph = sparse.coo_matrix((np.ones(len(iu)), (iu, iv)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    _, segments = np.unique(labels, return_inverse=True)  # numbered in order of first id
    return segments.astype(np.uint64) + 1
