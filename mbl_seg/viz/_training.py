"""Training curves: the loss per iteration and the validation metrics of a run."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from .._validate import as_metrics

__all__ = ["plot_losses"]


def plot_losses(result, *, validation=None, ax=None, smooth: int | None = None):
    """The training loss per iteration (raw and running mean, log scale) and validation metrics.

    Parameters
    ----------
    result : TrainResult, checkpoint dict (from `load_checkpoint`) or (N,) sequence of floats
        The losses; a result or checkpoint brings its validation history along.
    validation : list of (iteration, float or dict[str, float]), optional
        Validation results, drawn on a second y axis (overrides the result's).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    smooth : int, optional
        Window of the running mean, in iterations (default N // 20; 0 or 1: none).

    Returns
    -------
    matplotlib Axes
        The loss axes; the validation axes, if any, is its twin.

    Examples
    --------
    >>> ax = plot_losses([1.0, 0.5, 0.3, 0.2], validation=[(2, 0.7), (4, 0.4)], smooth=2)
    >>> ax.get_yscale(), ax.get_xlabel()
    ('log', 'iteration')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    losses, validation = _history_of(result, validation)
    if smooth is None:
        smooth = len(losses) // 20
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) or smooth < 0:
        raise ValueError(f"smooth must be a window of iterations (int >= 0), got {smooth!r}")
    if ax is None:
        ax = plt.figure(figsize=(7, 3.5), layout="constrained").add_subplot()
    steps = np.arange(1, losses.size + 1)
    ax.plot(steps, losses, color="C0", alpha=0.35 if smooth > 1 else 1.0, lw=1, label="loss")
    if smooth > 1:
        ax.plot(steps, _running_mean(losses, smooth), color="C0", lw=2,
                label=f"loss, mean of {smooth}")
    if np.all(losses > 0):  # log scale shows the slow late decrease; it needs positive values
        ax.set_yscale("log")
    ax.set(xlabel="iteration", ylabel="training loss")
    handles, top = ax.get_legend_handles_labels(), ax
    if validation:
        twin = ax.twinx()
        names = list(dict.fromkeys(name for _, metrics in validation for name in metrics))
        for colour, name in enumerate(names, start=1):
            points = np.array([(i, m[name]) for i, m in validation if name in m])
            twin.plot(points[:, 0], points[:, 1], "o-", color=f"C{colour}",
                      label=f"validation {name}" if name != "validation" else name)
        twin.set_ylabel("validation")
        more = twin.get_legend_handles_labels()
        handles, top = (handles[0] + more[0], handles[1] + more[1]), twin
    # Above the axes, so that it hides no curve; on the top axes, so that no curve hides it.
    top.legend(*handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4,
               frameon=False, fontsize="small")
    return ax


def _history_of(result, validation) -> tuple[np.ndarray, list[tuple[int, dict[str, float]]]]:
    if hasattr(result, "losses") and hasattr(result, "validation"):  # a TrainResult
        losses, found = result.losses, result.validation
    elif isinstance(result, Mapping):
        if "losses" not in result:
            raise ValueError(f"a checkpoint dict needs a 'losses' entry, got keys {sorted(result)}")
        losses, found = result["losses"], result.get("validation")
    else:
        losses, found = result, None
    try:
        losses = np.asarray(losses, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("plot_losses needs a TrainResult, a checkpoint dict or a list of losses, "
                        f"got {type(result).__name__}") from None
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses must be a non-empty 1D sequence, got shape {losses.shape}")
    pairs = found if validation is None else validation
    try:
        pairs = [(int(i), as_metrics(m, "validation")) for i, m in (pairs or [])]
    except (TypeError, ValueError):
        raise TypeError("validation must be a list of (iteration, number or dict) pairs, "
                        f"got {pairs!r}") from None
    return losses, pairs


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (fewer at the start).

    >>> _running_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2)
    array([1., 2., 4., 6.])
    """
    total = np.concatenate([[0.0], np.cumsum(values)])
    end = np.arange(1, values.size + 1)
    begin = np.maximum(end - window, 0)
    return (total[end] - total[begin]) / (end - begin)
