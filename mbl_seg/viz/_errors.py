"""Where a segmentation is wrong: merges and split pieces coloured on demand."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .._validate import as_labels, same_shape
from ..evaluate import contingency_table
from ._colors import matched_labels
from ._panels import _aspect, _check_voxel_size, _scale_bar, _section, _section_index, overlay

# the colours of the error map: correct, merged, split piece
ERROR_COLOURS = {"correct": (0.55, 0.55, 0.55, 0.35), "merge": (0.90, 0.10, 0.10, 0.85),
                 "split": (0.10, 0.45, 0.95, 0.85)}


def error_map(gt: np.ndarray, seg: np.ndarray, *, min_voxels: int = 20,
              min_fraction: float = 0.1) -> np.ndarray:
    """Label every voxel by the kind of error its segment makes: 0 none, 1 merge, 2 split.

    A segment *holds* a ground-truth object if it covers at least
    ``min_voxels`` voxels and ``min_fraction`` of the object (a segment border
    one voxel off along a membrane is not an error). A segment *merges* if it
    holds two or more objects; it is a *split piece* if it holds an object
    that has a larger segment elsewhere (the largest piece of each object
    counts as correct). Merge wins over split. Voxels with ground truth 0
    (unknown) are 0.

    Parameters
    ----------
    gt, seg : ([Z,] Y, X) ndarray of non-negative ints
    min_voxels, min_fraction : int, float, optional
        Smaller overlaps (in voxels, or as a fraction of the object) are
        boundary noise, not errors.

    Returns
    -------
    ([Z,] Y, X) ndarray of uint8

    Examples
    --------
    >>> gt = np.array([[1, 1, 1, 2, 2, 3, 3, 3]], np.uint64)
    >>> seg = np.array([[5, 5, 6, 7, 7, 7, 7, 7]], np.uint64)
    >>> error_map(gt, seg, min_voxels=1).tolist()
    [[0, 0, 2, 1, 1, 1, 1, 1]]
    """
    gt, seg = as_labels(gt, name="gt"), as_labels(seg, name="seg")
    same_shape(gt, seg, ("gt", "seg"))
    if not isinstance(min_voxels, (int, np.integer)) or min_voxels < 1:
        raise ValueError(f"min_voxels must be a positive int, got {min_voxels!r}")
    if not 0 <= min_fraction <= 1:
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    out = np.zeros(gt.shape, np.uint8)
    if not gt.any():
        return out
    table = contingency_table(gt, seg)
    _, row = np.unique(table.gt_ids, return_inverse=True)
    object_size = np.bincount(row, weights=table.counts)[row]
    big = (table.counts >= min_voxels) & (table.counts >= min_fraction * object_size)
    g, s, n = table.gt_ids[big], table.seg_ids[big], table.counts[big]
    segs, per_seg = np.unique(s, return_counts=True)
    merging = segs[per_seg > 1]
    largest = {}  # gt id -> its largest segment
    for k in np.argsort(-n, kind="stable"):
        largest.setdefault(int(g[k]), int(s[k]))
    pieces = np.array([int(b) for a, b in zip(g.tolist(), s.tolist()) if largest[a] != b],
                      dtype=np.uint64)
    labelled = gt > 0
    out[labelled & np.isin(seg, pieces)] = 2
    out[labelled & np.isin(seg, merging)] = 1
    return out


def show_errors(gt: np.ndarray, seg: np.ndarray, *, raw: np.ndarray | None = None,
                voxel_size, z: int | None = None, min_voxels: int = 20,
                figsize=None) -> Figure:
    """Ground truth, the segmentation in matched colours, and its merges and splits.

    The segmentation's colours are matched to the ground truth
    (`matched_labels`): a correct segment has its neuron's colour. The third
    panel paints merging segments red and split pieces blue (`error_map`).

    Parameters
    ----------
    gt, seg : (Z, Y, X) or (Y, X) ndarray of non-negative ints
    raw : ndarray like ``gt``, optional
        EM drawn under the labels.
    voxel_size : sequence of float
        nm per voxel, (z, y, x) (or (y, x) for 2D): proportions and scale bar.
    z : int, optional
        Section of a volume (default: the middle one).
    min_voxels : int, optional
        See `error_map`.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> gt = np.repeat(np.array([[1, 1, 2, 2]], np.uint64), 4, axis=0)
    >>> fig = show_errors(gt, np.ones_like(gt), voxel_size=(4, 4), min_voxels=1)
    >>> fig.axes[2].get_title()
    'errors: 1 merging segment, 0 split pieces'
    >>> plt.close(fig)
    """
    errors = error_map(gt, seg, min_voxels=min_voxels)
    colours = matched_labels(seg, gt)
    vs = _check_voxel_size(voxel_size, gt.ndim)
    index = _section_index(gt.shape, z, 0)
    cut = (lambda a: a) if gt.ndim == 2 else (lambda a: _section(a, index, 0, 3))
    aspect = _aspect(vs, 0, gt.ndim)
    fig = plt.figure(figsize=figsize or (13, 4.6), layout="constrained")
    axes = fig.subplots(1, 3)
    under = None if raw is None else cut(raw)
    overlay(under, cut(gt), ax=axes[0], title="ground truth", aspect=aspect)
    overlay(under, cut(colours), ax=axes[1], title="segmentation (colours matched)",
            aspect=aspect)
    rgba = np.array([ERROR_COLOURS[k] for k in ("correct", "merge", "split")])[cut(errors)]
    rgba[cut(gt) == 0] = 0.0
    if under is not None:
        overlay(under, None, ax=axes[2], aspect=aspect)
    axes[2].set_facecolor("black")
    axes[2].imshow(rgba, aspect=aspect, interpolation="nearest")
    shown_seg, shown = cut(seg), cut(errors)  # count what the section shows
    n_merge = len(np.unique(shown_seg[shown == 1]))
    n_split = len(np.unique(shown_seg[shown == 2]))
    axes[2].set(xticks=[], yticks=[], title=f"errors: {n_merge} merging segment"
                f"{'s' * (n_merge != 1)}, {n_split} split piece{'s' * (n_split != 1)}")
    axes[2].legend(handles=[Patch(color=ERROR_COLOURS[k], label=k) for k in
                            ("merge", "split")], loc="lower left", fontsize=8)
    _scale_bar(axes[0], vs, 0, gt.ndim, gt.shape[-1])
    if gt.ndim == 3:
        fig.suptitle(f"section z = {index} ({index * vs[0]:g} nm)")
    return fig
