"""Figures of agglomeration: the split/merge curve over thresholds, and a threshold slider."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .._validate import as_labels
from ._browser import _png_output
from ._colors import matched_labels
from ._panels import _check_section, _check_voxel_size, overlay

__all__ = ["plot_split_merge", "threshold_explorer"]

_MARKERS = "osD^v<>"


def _check_sweep(sweep, name: str) -> None:
    for field in ("thresholds", "voi_split", "voi_merge"):
        if not hasattr(sweep, field):
            raise TypeError(f"{name} should be a result of mbl_seg.agglomeration.sweep (with "
                            f"thresholds, voi_split, voi_merge), got {type(sweep).__name__}")


def _draw_curves(ax, sweeps: Mapping, points: Mapping, current: float | None = None,
                 chosen: Mapping | None = None) -> None:
    for k, (name, sweep) in enumerate(sweeps.items()):
        line, = ax.plot(sweep.voi_split, sweep.voi_merge, "-", marker=".", label=name)
        if chosen and name in chosen:
            best, word = int(np.argmin(np.abs(np.asarray(sweep.thresholds) - chosen[name]))), \
                "chosen"
        else:
            best, word = int(np.argmin(sweep.voi_split + sweep.voi_merge)), "best"
        ax.plot(sweep.voi_split[best], sweep.voi_merge[best], "*", ms=14, color=line.get_color(),
                markeredgecolor="black", zorder=3)
        ax.annotate(f"{word} t = {sweep.thresholds[best]:g}",
                    (sweep.voi_split[best], sweep.voi_merge[best]), textcoords="offset points",
                    xytext=(10, 4 + 11 * k), fontsize=8, color=line.get_color())
        if current is not None:
            at = int(np.argmin(np.abs(np.asarray(sweep.thresholds) - current)))
            ax.plot(sweep.voi_split[at], sweep.voi_merge[at], "o", ms=11, mfc="none",
                    mec="red", mew=2, zorder=4)
    for k, (name, (split, merge)) in enumerate(points.items()):
        ax.plot(split, merge, _MARKERS[k % len(_MARKERS)], ms=8, color="black", mfc="white",
                label=name, zorder=3)
    top = max([max(np.max(s.voi_split), np.max(s.voi_merge)) for s in sweeps.values()] +
              [max(p) for p in points.values()] + [0.1])
    for total in np.arange(0.5, 2 * top + 0.5, 0.5):  # lines of equal VOI total
        ax.plot([0, total], [total, 0], color="0.85", lw=0.7, zorder=0)
    ax.set(xlabel="VOI split (bits): too many pieces →", ylabel="VOI merge (bits): neurons joined →",
           xlim=(0, None), ylim=(0, None), aspect="equal")
    ax.legend(fontsize=8, loc="upper right")


def plot_split_merge(sweeps: Mapping, points: Mapping[str, Sequence[float]] | None = None, *,
                     chosen: Mapping[str, float] | None = None, limit: float | None = None,
                     ax=None, figsize=(6, 5.5)) -> Figure:
    """The split/merge curve of one or more threshold sweeps, with single methods as points.

    Each curve runs from the fragments (low threshold: many splits, few
    merges; bottom right) to everything merged (top left); the star is the
    threshold with the lowest VOI total (or the one given in ``chosen``, e.g.
    chosen on validation data, on a test curve), and the grey lines are lines of
    equal VOI total (0.5 bit apart): a better segmentation lies further down
    and to the left.

    Parameters
    ----------
    sweeps : dict of str to Sweep
        Results of :func:`mbl_seg.agglomeration.sweep`, by name.
    points : dict of str to (split, merge), optional
        Segmentations without a threshold sweep (e.g. a watershed), drawn as points.
    chosen : dict of str to float, optional
        Per curve name, the threshold to star instead of the curve's best.
    limit : float, optional
        Cut both axes at this many bits (the all-merged end is far off).
    ax : matplotlib Axes, optional
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from mbl_seg.agglomeration import Sweep
    >>> s = Sweep(np.array([0.1, 0.5, 0.9]), np.array([2.0, 0.8, 0.1]),
    ...           np.array([0.2, 0.5, 3.0]), np.zeros(3), np.array([30, 12, 1]))
    >>> fig = plot_split_merge({"mean": s}, {"watershed": (1.0, 0.9)})
    >>> plt.close(fig)
    """
    if not isinstance(sweeps, Mapping) or not sweeps:
        raise TypeError("sweeps should be a dict {name: sweep result}, e.g. "
                        "{'mean affinity': sweep(affs, fragments, truth, thresholds=...)}")
    for name, s in sweeps.items():
        _check_sweep(s, f"sweeps[{name!r}]")
    points = dict(points or {})
    for name, p in points.items():
        if np.shape(p) != (2,):
            raise ValueError(f"points[{name!r}] should be (VOI split, VOI merge), got {p!r}")
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    if chosen is not None and not isinstance(chosen, Mapping):
        raise TypeError(f"chosen should be a dict {{curve name: threshold}}, got {chosen!r}")
    _draw_curves(ax, sweeps, points, chosen=chosen)
    if limit is not None:
        ax.set(xlim=(0, limit), ylim=(0, limit))
    ax.set_title("split / merge over the agglomeration threshold")
    return ax.figure


def threshold_explorer(raw: np.ndarray, segmentations: Sequence[np.ndarray], sweep, *,
                       truth: np.ndarray | None = None, voxel_size=None,
                       points: Mapping[str, Sequence[float]] | None = None,
                       limit: float | None = 4.0):
    """A slider over the agglomeration thresholds: the section's segmentation and the curve.

    Parameters
    ----------
    raw : (Y, X) ndarray
        One EM section.
    segmentations : sequence of (Y, X) ndarray of non-negative ints
        That section's segmentation at each threshold of ``sweep`` (same order).
    sweep : Sweep
        The scores of the whole volume at those thresholds
        (:func:`mbl_seg.agglomeration.sweep`).
    truth : (Y, X) ndarray, optional
        Ground truth of the section: segments are coloured like their neuron,
        and the truth is shown for comparison.
    voxel_size : sequence of 2 floats, required
        nm per pixel (y, x).
    points : dict of str to (split, merge), optional
        Extra points on the curve (e.g. the watershed).
    limit : float, optional
        Cut the curve's axes at this many bits.

    Returns
    -------
    ipywidgets.VBox

    Examples
    --------
    >>> from mbl_seg.agglomeration import Sweep
    >>> s = Sweep(np.array([0.1, 0.5]), np.array([2.0, 0.8]), np.array([0.2, 0.5]),
    ...           np.zeros(2), np.array([3, 1]))
    >>> segs = [np.array([[1, 2, 3]] * 3), np.ones((3, 3), int)]
    >>> box = threshold_explorer(np.zeros((3, 3), np.uint8), segs, s, voxel_size=(8, 8))
    """
    import ipywidgets as widgets

    _check_sweep(sweep, "sweep")
    vs = _check_voxel_size(voxel_size, 2)
    thresholds = [float(t) for t in sweep.thresholds]
    if len(segmentations) != len(thresholds):
        raise ValueError(f"one segmentation per threshold: got {len(segmentations)} "
                         f"segmentations for {len(thresholds)} thresholds")
    segmentations = [as_labels(s, name="each segmentation") for s in segmentations]
    for s in segmentations:
        _check_section(raw, s)
    if truth is not None:
        truth = as_labels(truth, name="truth")
        _check_section(raw, truth)
        segmentations = [matched_labels(s, truth) for s in segmentations]
    aspect = vs[0] / vs[1]
    best = thresholds[int(np.argmin(np.asarray(sweep.voi_split) + np.asarray(sweep.voi_merge)))]
    slider = widgets.SelectionSlider(options=[(f"{t:g}", t) for t in thresholds], value=best,
                                     description="threshold", continuous_update=False)
    out = widgets.Output()

    def draw(_change=None) -> None:
        k = thresholds.index(slider.value)
        fig = Figure(figsize=(13, 4.4), layout="constrained")
        axes = fig.subplots(1, 3 if truth is not None else 2,
                            width_ratios=[1, 1, 1.05] if truth is not None else [1, 1.05])
        n = len(np.unique(segmentations[k]))
        overlay(raw, segmentations[k], ax=axes[0], aspect=aspect,
                title=f"threshold {slider.value:g}: {n} segments in this section")
        if truth is not None:
            overlay(raw, truth, ax=axes[1], aspect=aspect, title="ground truth")
        _draw_curves(axes[-1], {"agglomeration": sweep}, dict(points or {}), slider.value)
        if limit is not None:
            axes[-1].set(xlim=(0, limit), ylim=(0, limit))
        axes[-1].set_title(f"VOI split {sweep.voi_split[k]:.2f}, merge {sweep.voi_merge[k]:.2f} "
                           "(whole volume)", fontsize=10)
        out.outputs = (_png_output(fig),)

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])
