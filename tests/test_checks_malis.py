"""The MALIS self-checks pass right answers and name the mistake in typical wrong ones."""

import numpy as np
import pytest

from mbl_seg.checks import malis as checks_malis
from mbl_seg.checks.malis import check_malis_pair_counts, check_maximin_edge
from mbl_seg.malis import maximin_edge

# --- student-like implementations -----------------------------------------------------------


def _edges(affs, convention=-1):
    """(value, (k, y, x), p, q) of every edge; convention +1 is the off-by-one mistake."""
    _, h, w = affs.shape
    out = []
    for k in range(2):
        for y in range(h):
            for x in range(w):
                q = (y + convention, x) if k == 0 else (y, x + convention)
                if 0 <= q[0] < h and 0 <= q[1] < w:
                    out.append((float(affs[k, y, x]), (k, y, x), (y, x), q))
    return sorted(out, key=lambda t: -t[0])


def _kruskal_edge(affs, u, v, convention=-1):
    """The maximin edge found by a union-find; stops after the edge that connects u and v."""
    parent = {}

    def root(p):
        while parent.get(p, p) != p:
            p = parent[p]
        return p

    for value, index, p, q in _edges(affs, convention):
        parent[root(p)] = root(q)
        if root(u) == root(v):
            return value, index


def maximin_right(affs, u, v):
    return _kruskal_edge(affs, u, v)[0]


def maximin_threshold_sweep(affs, u, v):
    """Right too: the largest threshold at which u and v are connected (flood fill)."""
    for value, _, _, _ in _edges(affs):
        seen, todo = {u}, [u]
        while todo:
            p = todo.pop()
            for t_value, _, a, b in _edges(affs):
                if t_value >= value and p in (a, b):
                    other = b if p == a else a
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
        if v in seen:
            return value


def maximin_straight(affs, u, v):
    path, cur = [u], list(u)
    for axis in (0, 1):
        while cur[axis] != v[axis]:
            cur[axis] += 1 if v[axis] > cur[axis] else -1
            path.append(tuple(cur))
    values = []
    for p, q in zip(path[:-1], path[1:]):
        axis = 0 if p[1] == q[1] else 1
        values.append(affs[axis][max(p, q)])
    return min(values)


def maximin_largest(affs, u, v):
    return float(affs.max())


def maximin_off_by_one(affs, u, v):
    return _kruskal_edge(affs, u, v, convention=+1)[0]


def maximin_ascending(affs, u, v):
    """Kruskal from the weakest edge up (the sorted list reversed)."""
    parent = {}

    def root(p):
        while parent.get(p, p) != p:
            p = parent[p]
        return p

    for value, _, p, q in _edges(affs)[::-1]:
        parent[root(p)] = root(q)
        if root(u) == root(v):
            return value


def _pair_loop(affs, labels, *, with_self=False, ordered=False, background=False):
    pos, neg = np.zeros(affs.shape), np.zeros(affs.shape)
    pixels = [tuple(int(c) for c in p) for p in np.ndindex(labels.shape)]
    for i, u in enumerate(pixels):
        for j, v in enumerate(pixels):
            if (j < i and not ordered) or (j == i and not with_self):
                continue
            if not background and (labels[u] == 0 or labels[v] == 0):
                continue
            _, index = _kruskal_edge(affs, u, v)
            (pos if labels[u] == labels[v] else neg)[index] += 1
    return pos, neg


def counts_right(affs, labels):
    return _pair_loop(affs, labels)


def counts_swapped(affs, labels):
    pos, neg = _pair_loop(affs, labels)
    return neg, pos


def counts_background(affs, labels):
    return _pair_loop(affs, labels, background=True)


def counts_self_pairs(affs, labels):
    return _pair_loop(affs, labels, with_self=True)


def counts_ordered(affs, labels):
    return _pair_loop(affs, labels, ordered=True)


def counts_without_minus_pos(affs, labels):
    """neg = (labelled in A) * (labelled in B): every joined pair, the same-object ones too."""
    pos, neg = _pair_loop(affs, labels)
    return pos, pos + neg


def todo(*args):
    raise NotImplementedError("TODO")


# --- tests ----------------------------------------------------------------------------------


def test_maximin_check_passes_right_answers(capsys):
    for fn in (maximin_right, maximin_threshold_sweep, maximin_edge,
               lambda a, u, v: np.float32(maximin_right(a, u, v))):
        assert check_maximin_edge(fn)
    assert capsys.readouterr().out.count("✅ maximin_edge: correct") == 4


@pytest.mark.parametrize("fn, hint", [
    (maximin_straight, "straight (L-shaped) path"),
    (maximin_largest, "strongest edge"),
    (maximin_off_by_one, "edge convention"),
    (maximin_ascending, "you visited the edges from the weakest up"),
    (todo, "not implemented yet — fill in the TODO"),
    (lambda a, u, v: None, "forget the `return`"),
    (lambda a, u, v: (0.5, 0.5), "should return one number"),
    (lambda a, u, v: 0.5, "sort the edges by decreasing affinity"),
    (lambda a, u, v: a[5], "IndexError"),
])
def test_maximin_check_names_the_mistake(fn, hint, capsys):
    result = check_maximin_edge(fn)
    assert not result.passed
    assert hint in result.message, result.message
    assert capsys.readouterr().out == f"❌ maximin_edge: {result.message}\n"


def test_counts_check_passes_right_answers():
    assert check_malis_pair_counts(counts_right, verbose=False)
    assert check_malis_pair_counts(lambda a, lab: tuple(checks_malis._counts(a, lab)),
                                   verbose=False)
    assert check_malis_pair_counts(lambda a, lab: [x.tolist() for x in counts_right(a, lab)],
                                   verbose=False)


@pytest.mark.parametrize("fn, hint", [
    (counts_swapped, "swapped"),
    (counts_background, "pairs with background voxels"),
    (counts_self_pairs, "pair with itself"),
    (counts_ordered, "counted every pair twice"),
    (counts_without_minus_pos, "your neg also counts the pairs of the same object"),
    (todo, "not implemented yet"),
    (lambda a, lab: np.zeros(a.shape), "should return (pos, neg)"),
    (lambda a, lab: None, "forget the `return`"),
    (lambda a, lab: (np.zeros(a.shape), np.zeros(a.shape)), "visit edges by decreasing"),
])
def test_counts_check_names_the_mistake(fn, hint):
    result = check_malis_pair_counts(fn, verbose=False)
    assert not result.passed
    assert hint in result.message, result.message
    assert str(result).startswith("❌ malis_pair_counts: for labels [[") or "return" in hint \
        or "implemented" in hint


def test_mistakes_are_distinguishable_on_the_test_graphs():
    """Each typical mistake differs from the right answer on at least one test graph."""
    for predict, _ in checks_malis._maximin_mistakes():
        assert any(not any(np.isclose(p, maximin_edge(*case)) for p in predict(case))
                   for case in checks_malis._EDGE_CASES)
    for predict, _ in checks_malis._count_mistakes():
        assert any(all(not np.array_equal(p, checks_malis._counts(*case))
                       for p in predict(case)) for case in checks_malis._COUNT_CASES)


def test_check_does_not_let_students_modify_the_cases():
    def mutating(affs, u, v):
        affs[...] = 0
        return 0.0

    check_maximin_edge(mutating, verbose=False)
    assert check_maximin_edge(maximin_right, verbose=False)
    assert all(case[0].any() for case in checks_malis._EDGE_CASES)


def test_new_hints_only_for_their_mistake():
    """Weakest-first Kruskal and a neg without `- pos` have their own hints; others do not."""
    for fn in (maximin_straight, maximin_largest, maximin_off_by_one, lambda a, u, v: 0.5):
        assert "weakest up" not in check_maximin_edge(fn, verbose=False).message
    for fn in (counts_swapped, counts_background, counts_ordered,
               lambda a, lab: (np.zeros(a.shape), np.zeros(a.shape))):
        assert "Subtract pos" not in check_malis_pair_counts(fn, verbose=False).message


def test_no_two_mistakes_explain_the_same_answers():
    """Each hint is reachable: no earlier mistake predicts every answer of a later one."""
    for mistakes, cases in ((checks_malis._maximin_mistakes(), checks_malis._EDGE_CASES),
                            (checks_malis._count_mistakes(), checks_malis._COUNT_CASES)):
        for i, (first, _) in enumerate(mistakes):
            for later, _ in mistakes[i + 1:]:
                assert not all(any(np.allclose(p, q) for p in first(c) for q in later(c))
                               for c in cases)
