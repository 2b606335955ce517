"""The notebook-07 self-check: a right merge step passes, typical mistakes get their own hint."""

import pytest

from mbl_seg.checks import check_merge_edges


def student(u, v, edges_u, edges_v):
    """The way a student writes it: copy one side, add the other."""
    merged = {k: val for k, val in edges_u.items() if k != v}
    for other, (contacts, total) in edges_v.items():
        if other == u:
            continue
        if other in merged:
            c, s = merged[other]
            merged[other] = (c + contacts, s + total)
        else:
            merged[other] = (contacts, total)
    return merged


def test_a_right_merge_step_passes():
    result = check_merge_edges(student, verbose=False)
    assert result.passed, result.message


def mean_of_means(u, v, edges_u, edges_v):
    merged = {k: val for k, val in edges_u.items() if k != v}
    for other, (contacts, total) in edges_v.items():
        if other == u:
            continue
        if other in merged:
            c, s = merged[other]
            mean = (s / c + total / contacts) / 2
            merged[other] = (c + contacts, mean * (c + contacts))
        else:
            merged[other] = (contacts, total)
    return merged


def returns_means(u, v, edges_u, edges_v):
    """(contacts, mean of the two means): the mean where the sum belongs."""
    merged = mean_of_means(u, v, edges_u, edges_v)
    return {k: (c, t / c) for k, (c, t) in merged.items()}


def returns_pooled_mean(u, v, edges_u, edges_v):
    return {k: (c, t / c) for k, (c, t) in student(u, v, edges_u, edges_v).items()}


def overwrite(u, v, edges_u, edges_v):
    merged = dict(edges_u)
    merged.update(edges_v)
    merged.pop(u), merged.pop(v)
    return merged


def keeps_the_pair(u, v, edges_u, edges_v):
    merged = student(u, v, edges_u, edges_v)
    merged[v] = edges_u[v]
    return merged


def mutates(u, v, edges_u, edges_v):
    for other, pair in edges_v.items():
        if other != u:
            c, s = edges_u.get(other, (0, 0.0))
            edges_u[other] = (c + pair[0], s + pair[1])
    edges_u.pop(v)
    return edges_u


def forgets_one_side(u, v, edges_u, edges_v):
    return {k: val for k, val in edges_u.items() if k != v}


def not_done(u, v, edges_u, edges_v):
    raise NotImplementedError


@pytest.mark.parametrize("fn,words", [
    (mean_of_means, "mean of the two means"),
    (returns_means, "not their mean"),
    (returns_pooled_mean, "not their mean"),
    (overwrite, "overwrites"),
    (keeps_the_pair, "no edge to"),
    (mutates, "changed edges_u"),
    (forgets_one_side, "every neighbour of either region"),
    (not_done, "not implemented yet"),
    (lambda u, v, a, b: None, "return"),
    (lambda u, v, a, b: [1, 2], "dict"),
    (lambda u, v, a, b: {3: 0.7}, "pair"),
])
def test_mistakes_get_their_hint(fn, words):
    result = check_merge_edges(fn, verbose=False)
    assert not result.passed
    assert words in result.message, result.message
