"""Label colours: a hash of the id, so an object looks the same in every figure."""

from __future__ import annotations

import operator

import numpy as np
from matplotlib.colors import hsv_to_rgb

from .._validate import as_labels, same_shape
from ..evaluate import contingency_table


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixing 64-bit hash: neighbouring ids get unrelated values."""
    with np.errstate(over="ignore"):  # uint64 wrap-around is the point
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def label_colors(ids, *, seed: int = 0) -> np.ndarray:
    """RGBA colours for label ids, a hash of (id, seed): the same id always looks the same.

    Parameters
    ----------
    ids : (N,) array_like of non-negative ints
    seed : int
        Another seed gives every id another colour.

    Returns
    -------
    (N, 4) float ndarray
        RGBA in [0, 1], bright saturated hues with alpha 1; id 0 is (0, 0, 0, 0).

    Examples
    --------
    >>> c = label_colors([0, 17, 5])
    >>> float(c[0, 3]), bool((c[1] == label_colors([17])[0]).all())
    (0.0, True)
    """
    ids = as_labels(np.asarray(ids).reshape(-1, 1), name="ids").ravel()  # checked, uint64
    h = _splitmix64(ids ^ _splitmix64(np.uint64(operator.index(seed) % 2**64)))
    hue, sat, val = [((h >> np.uint64(s)) & np.uint64(0xFFFF)) / 0xFFFF for s in (16, 32, 48)]
    rgba = np.ones((len(ids), 4))
    rgba[:, :3] = hsv_to_rgb(np.stack([hue, 0.6 + 0.4 * sat, 0.8 + 0.2 * val], axis=-1))
    rgba[ids == 0] = 0.0
    return rgba


def label_rgba(labels: np.ndarray, *, seed: int = 0, alpha: float = 0.5) -> np.ndarray:
    """Colour a label image (0 transparent, other ids with opacity ``alpha``).

    Parameters
    ----------
    labels : (Y, X) or (Z, Y, X) ndarray of non-negative ints
    seed, alpha : int, float in [0, 1]
        Colour seed (see `label_colors`), opacity of the non-zero ids.

    Returns
    -------
    (Y, X, 4) or (Z, Y, X, 4) float32 ndarray
        RGBA, to draw over EM with ``imshow``.

    Examples
    --------
    >>> label_rgba(np.array([[0, 3], [3, 7]]), alpha=0.25)[..., 3].tolist()
    [[0.0, 0.25], [0.25, 0.25]]
    """
    labels = as_labels(labels)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    # colour each distinct id once, then index: fast for large images
    ids, inverse = np.unique(labels, return_inverse=True)
    colors = label_colors(ids, seed=seed)
    colors[ids != 0, 3] = alpha
    return colors.astype(np.float32)[inverse.reshape(labels.shape)]


def matched_labels(seg: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Segment ids to colour ``seg`` by: each segment matched to a reference object takes its id.

    Segments and reference objects are matched one to one, largest overlap
    first, so a correct segment gets the colour of its ground-truth neuron; a
    neuron split in several segments keeps its colour on its largest piece
    (the other pieces look different), and a segment covering several neurons
    takes the colour of the largest. Unmatched segments get ids that no
    reference object has. Use the result for colours only, not for scores.

    Parameters
    ----------
    seg, reference : ([Z,] Y, X) ndarray of non-negative ints
        A segmentation and the labels it is compared with (e.g. ground truth);
        reference 0 (unknown) is never matched, segment 0 stays 0.

    Returns
    -------
    ([Z,] Y, X) ndarray of uint64

    Examples
    --------
    >>> gt = np.array([[1, 1, 2, 2]], np.uint64)
    >>> matched_labels(np.array([[7, 7, 9, 9]], np.uint64), gt).tolist()
    [[1, 1, 2, 2]]
    """
    seg = as_labels(seg, name="seg")
    reference = as_labels(reference, name="reference")
    same_shape(seg, reference, ("seg", "reference"))
    taken_ref, colour_of = set(), {}
    if reference.any():  # the table leaves reference 0 out; it needs some reference left
        table = contingency_table(reference, seg)
        keep = table.seg_ids > 0
        refs, segs, counts = table.gt_ids[keep], table.seg_ids[keep], table.counts[keep]
    else:
        refs = segs = counts = np.zeros(0, np.int64)
    for k in np.argsort(-counts, kind="stable"):
        r, s = int(refs[k]), int(segs[k])
        if r not in taken_ref and s not in colour_of:
            taken_ref.add(r)
            colour_of[s] = r
    ids, inverse = np.unique(seg, return_inverse=True)
    start = int(reference.max()) + 1  # unmatched segments: ids past every reference id
    new = np.array([0 if s == 0 else colour_of.get(s, start + s) for s in ids.tolist()],
                   dtype=np.uint64)
    return new[inverse.reshape(seg.shape)]
