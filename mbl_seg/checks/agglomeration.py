"""Self-check for the agglomeration exercise: the edges of two regions after they merge.

Used in: notebooks/07_agglomeration
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_merge_edges", "merge_edges"]


def merge_edges(u: int, v: int, edges_u: dict, edges_v: dict) -> dict:
    """The reference: the edges of region ``u ∪ v``, contacts pooled, ``u`` and ``v`` dropped.

    ``edges_u`` maps each neighbour of region ``u`` to ``(contacts, affinity_sum)`` (``v``
    among them), ``edges_v`` likewise. A neighbour of both gets the sum of both contact
    counts and both affinity sums, so that its mean affinity is the mean over the union of
    the contacts.

    >>> merge_edges(1, 2, {2: (4, 3.6), 3: (3, 2.7)}, {1: (4, 3.6), 3: (1, 0.1)})
    {3: (4, 2.8000000000000003)}
    """
    merged = {}
    for edges in (edges_u, edges_v):
        for other, (contacts, total) in edges.items():
            if other in (u, v):
                continue
            have = merged.get(other, (0, 0.0))
            merged[other] = (have[0] + contacts, have[1] + total)
    return merged


def _cases() -> list[tuple[int, int, dict, dict]]:
    return [
        # one neighbour shared (3), one on each side only (4 and 5)
        (1, 2, {2: (4, 3.6), 3: (3, 2.7), 5: (2, 0.4)}, {1: (4, 3.6), 3: (1, 0.1), 4: (6, 3.0)}),
        # no neighbour besides each other
        (7, 9, {9: (5, 4.5)}, {7: (5, 4.5)}),
        # everything shared, larger ids and uneven contact counts
        (10, 40, {40: (2, 1.9), 11: (10, 9.0), 12: (1, 0.2)},
         {10: (2, 1.9), 11: (2, 0.2), 12: (3, 2.4)}),
    ]


def _as_pairs(got) -> dict:
    if got is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    if not isinstance(got, dict):
        raise _Fail(f"return a dict {{neighbour: (contacts, affinity_sum)}}, got a "
                    f"{type(got).__name__}")
    pairs = {}
    for key, value in got.items():
        try:
            contacts, total = value
            pairs[key] = (float(contacts), float(total))
        except (TypeError, ValueError):
            raise _Fail(f"each value should be a pair (contacts, affinity_sum), got "
                        f"{value!r} for neighbour {key}") from None
    return pairs


def _mean_of_means(u, v, edges_u, edges_v) -> dict:
    right = merge_edges(u, v, edges_u, edges_v)
    wrong = {}
    for other, (contacts, total) in right.items():
        if other in edges_u and other in edges_v:
            means = [edges[other][1] / edges[other][0] for edges in (edges_u, edges_v)]
            total = sum(means) / 2 * contacts
        wrong[other] = (contacts, total)
    return wrong


def _body(fn: Callable) -> str:
    for u, v, edges_u, edges_v in _cases():
        before = copy.deepcopy((edges_u, edges_v))
        got = _as_pairs(_call(fn, u, v, edges_u, edges_v))
        if (edges_u, edges_v) != before:
            raise _Fail("your function changed edges_u or edges_v: build a new dict for the "
                        "merged region and leave the inputs as they were (agglomeration still "
                        "needs them to find stale edges)")
        want = merge_edges(u, v, *before)
        if u in got or v in got:
            raise _Fail(f"merging regions {u} and {v}: the merged region has no edge to {u} or "
                        f"{v} any more (they are inside it), leave those keys out")
        if set(got) != set(want):
            raise _Fail(f"merging {u} and {v} with neighbours {sorted(before[0])} and "
                        f"{sorted(before[1])}: your merged region's neighbours are "
                        f"{sorted(got)}, expected {sorted(want)} (every neighbour of either "
                        "region, except the two regions themselves)")
        wrong = {k: (c, s) for k, (c, s) in got.items()
                 if abs(c - want[k][0]) > 1e-9 or abs(s - want[k][1]) > 1e-9}
        if not wrong:
            continue
        other = min(wrong)
        shared = other in before[0] and other in before[1]
        mean_of_means = _mean_of_means(u, v, *before)[other]
        means = (want[other][1] / want[other][0], mean_of_means[1] / mean_of_means[0])
        if abs(wrong[other][0] - want[other][0]) < 1e-9 and any(
                abs(wrong[other][1] - m) < 1e-9 for m in means):
            hint = ("the second number is the sum of the affinities, not their mean: return "
                    "(contacts, affinity_sum), adding both regions' sums for a shared "
                    "neighbour; the mean (sum / contacts) is taken when an edge is scored")
        elif shared and all(abs(a - b) < 1e-9 for a, b in zip(wrong[other], mean_of_means)):
            hint = ("that is the mean of the two means: pool the contacts instead, adding "
                    "both contact counts and both affinity sums; the mean is then "
                    "sum / contacts over all the contacts of the merged face")
        elif shared and any(all(abs(a - b) < 1e-9 for a, b in zip(wrong[other], side[other]))
                            for side in before):
            hint = ("a neighbour of both regions keeps only one side's contacts (dict.update "
                    "or a plain assignment overwrites): add the two (contacts, sum) pairs")
        else:
            hint = ("for a neighbour of only one region, keep its (contacts, sum); for a "
                    "neighbour of both, add the contacts and add the sums")
        raise _Fail(f"merging {u} and {v}: for neighbour {other} you give (contacts, sum) = "
                    f"({wrong[other][0]:g}, {wrong[other][1]:.3g}), expected "
                    f"({want[other][0]:g}, {want[other][1]:.3g}). Hint: {hint}")
    return "your merged edges pool the contacts exactly, in all three cases"


def check_merge_edges(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(u, v, edges_u, edges_v) -> edges``: the edges of the region ``u ∪ v``.

    Each ``edges`` dict maps a neighbour to ``(contacts, affinity_sum)``;
    :func:`merge_edges` is the reference.

    Examples
    --------
    >>> check_merge_edges(merge_edges).passed
    ✅ merge_edges: correct — your merged edges pool the contacts exactly, in all three cases
    True

    Used in: notebooks/07_agglomeration
    """
    return _run("merge_edges", lambda: _body(fn), verbose)
