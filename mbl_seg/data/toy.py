"""Toy segmentation errors made from ground truth, to see what the metrics measure.

Used in: notebooks/00_setup_and_data.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_labels
from ..errors import contact_pairs

__all__ = ["split_object", "merge_objects", "touching_pairs", "largest_objects"]


def largest_objects(labels: np.ndarray, n: int = 1) -> np.ndarray:
    """The ids of the ``n`` largest non-zero objects, largest first.

    >>> largest_objects(np.array([[1, 2, 2, 0, 0, 0]]), 1)
    array([2], dtype=uint64)
    """
    labels = as_labels(labels)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return ids[np.argsort(-counts, kind="stable")[:n]]


def split_object(labels: np.ndarray, label_id: int, *, axis: int = -1) -> np.ndarray:
    """A copy of ``labels`` with object ``label_id`` cut in two at its centre along ``axis``.

    The half beyond the centre gets a new id (``labels.max() + 1``).

    >>> split_object(np.array([[1, 1, 1, 1]]), 1)
    array([[1, 1, 2, 2]], dtype=uint64)
    """
    labels = as_labels(labels).copy()
    mask = labels == label_id
    if not mask.any():
        raise ValueError(f"label {label_id} is not in the image")
    coords = np.nonzero(mask)[axis]
    centre = (coords.min() + coords.max() + 1) / 2
    beyond = np.zeros_like(mask)
    index = [slice(None)] * labels.ndim
    index[axis] = slice(int(np.ceil(centre)), None)
    beyond[tuple(index)] = True
    labels[mask & beyond] = labels.max() + 1
    return labels


def merge_objects(labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """A copy of ``labels`` in which object ``b`` is given the id of object ``a``.

    >>> merge_objects(np.array([[1, 2, 3]]), 1, 2)
    array([[1, 1, 3]], dtype=uint64)
    """
    labels = as_labels(labels).copy()
    labels[labels == b] = a
    return labels


def touching_pairs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of different non-zero ids that touch (face neighbours), by contact area.

    >>> touching_pairs(np.array([[1, 1, 2], [3, 3, 2]]))
    [(1, 3), (1, 2), (2, 3)]
    """
    both = contact_pairs(as_labels(labels))
    if len(both) == 0:
        return []
    uniq, counts = np.unique(both, axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [(int(x), int(y)) for x, y in uniq[order]]
