"""Where a segmentation goes wrong: the merge and split errors behind the VOI numbers.

VOI says how much is split and merged; these functions say *which* neurons,
so a notebook can show them and ask why (a faint membrane? a thin neck?).

Used in: notebooks/01_classical_boundaries, 02_deep_boundaries.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import as_labels, same_shape
from .evaluate import contingency_table

__all__ = ["Merge", "merge_errors", "split_errors", "contact", "pairs_touching_in"]


class Merge(NamedTuple):
    """Segment ``segment`` covers (a large part of) ground-truth neurons ``a`` and ``b``."""

    segment: int
    a: int
    b: int


def _significant(gt: np.ndarray, seg: np.ndarray, min_voxels: int, by: str) -> dict:
    """For every id of ``by`` ("seg" or "gt"), the ids of the other it overlaps substantially."""
    table = contingency_table(gt, seg)
    keep = table.counts >= min_voxels
    keys, values = ((table.seg_ids, table.gt_ids) if by == "seg" else
                    (table.gt_ids, table.seg_ids))
    groups: dict[int, list[int]] = {}
    for key, value in zip(keys[keep].tolist(), values[keep].tolist()):
        groups.setdefault(key, []).append(value)
    return groups


def merge_errors(gt: np.ndarray, seg: np.ndarray, *, min_voxels: int = 20) -> list[Merge]:
    """Pairs of neurons that share a segment, each with at least ``min_voxels`` in it.

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of uint64
        Ground truth (0 = background, ignored) and segmentation.
    min_voxels : int, optional
        Overlaps smaller than this are boundary noise, not merges.

    Returns
    -------
    list of Merge
        ``(segment, a, b)`` with ``a < b``, sorted.

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2, 3, 3]], np.uint64)
    >>> seg = np.array([[7, 7, 7, 7, 8, 8]], np.uint64)
    >>> merge_errors(gt, seg, min_voxels=1)
    [Merge(segment=7, a=1, b=2)]
    """
    _check(gt, seg, min_voxels)
    merges = []
    for segment, ids in _significant(gt, seg, min_voxels, by="seg").items():
        ids = sorted(ids)
        merges += [Merge(segment, a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    return sorted(merges)


def split_errors(gt: np.ndarray, seg: np.ndarray, *, min_voxels: int = 20) -> dict[int, list]:
    """Neurons cut into several segments: ``{gt id: [segment ids]}``.

    >>> gt = np.array([[1, 1, 1, 2, 2]], np.uint64)
    >>> split_errors(gt, np.array([[4, 4, 5, 6, 6]], np.uint64), min_voxels=1)
    {1: [4, 5]}
    """
    _check(gt, seg, min_voxels)
    return {g: sorted(s) for g, s in _significant(gt, seg, min_voxels, by="gt").items()
            if len(s) > 1}


def contact(labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """Voxels of object ``a`` or ``b`` that touch the other one (face neighbours).

    >>> contact(np.array([[1, 1, 2, 2]], np.uint64), 1, 2).astype(int)
    array([[0, 1, 1, 0]])
    """
    labels = as_labels(labels)
    if int(a) == int(b):
        raise ValueError(f"a contact needs two different objects, got a = b = {a}")
    out = np.zeros(labels.shape, bool)
    for axis in range(labels.ndim):
        lo = [slice(None)] * labels.ndim
        hi = [slice(None)] * labels.ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        first, second = labels[tuple(lo)], labels[tuple(hi)]
        touch = ((first == a) & (second == b)) | ((first == b) & (second == a))
        out[tuple(lo)] |= touch
        out[tuple(hi)] |= touch
    return out


def pairs_touching_in(labels: np.ndarray, where: np.ndarray) -> set[tuple[int, int]]:
    """Pairs ``(a, b)``, ``a < b``, of objects that touch at a voxel where ``where`` is True.

    Two face-neighbour voxels of different non-zero labels are a contact; it
    counts if either voxel is in ``where`` (e.g. the faint-membrane patches).

    >>> labels = np.array([[1, 2, 3]], np.uint64)
    >>> sorted(pairs_touching_in(labels, np.array([[False, False, True]])))
    [(2, 3)]
    """
    labels = as_labels(labels)
    where = np.asarray(where, dtype=bool)
    same_shape(labels, where, ("labels", "where"))
    return {(int(a), int(b)) for a, b in np.unique(_contact_pairs(labels, where), axis=0)}


def _contact_pairs(labels: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) ids, smaller first, of every face-neighbour contact (at ``where``, if given)."""
    found = []
    for axis in range(labels.ndim):
        lab = np.moveaxis(labels, axis, 0)
        lo, hi = lab[:-1], lab[1:]
        keep = (lo != hi) & (lo > 0) & (hi > 0)
        if where is not None:
            hit = np.moveaxis(where, axis, 0)
            keep &= hit[:-1] | hit[1:]
        found.append(np.sort(np.stack([lo[keep], hi[keep]], axis=1), axis=1))
    return np.concatenate(found)


def _check(gt, seg, min_voxels) -> None:
    same_shape(as_labels(gt, name="gt"), as_labels(seg, name="seg"), ("gt", "seg"))
    if not isinstance(min_voxels, (int, np.integer)) or min_voxels < 1:
        raise ValueError(f"min_voxels must be a positive int, got {min_voxels!r}")
