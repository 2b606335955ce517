"""An interactive browser through the sections of a volume (ipywidgets)."""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.figure import Figure

from .._validate import as_labels
from ._panels import _check_panels, _check_voxel_size, _draw, _section_index


def _png_output(fig: Figure) -> dict:
    """The figure as a notebook display_data output (what an ``Output`` widget holds)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}


def _browser_controls(shape, axis: int, alpha: float, has_labels: bool) -> tuple:
    """The browser's widgets: axis buttons, section slider, opacity slider, checkbox."""
    import ipywidgets as widgets  # only the browser needs the widget stack

    index = _section_index(shape, None, axis)  # checks axis
    return (widgets.ToggleButtons(options=[("z", 0), ("y", 1), ("x", 2)], value=axis,
                                  description="cut along"),
            widgets.IntSlider(value=index, max=shape[axis] - 1,
                              description="section", continuous_update=False),
            widgets.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05, description="opacity",
                                continuous_update=False, disabled=not has_labels),
            widgets.Checkbox(value=has_labels, description="show labels",
                             disabled=not has_labels))


def slice_browser(raw: np.ndarray, labels: np.ndarray | None = None, *, voxel_size=None,
                  prediction: np.ndarray | None = None, axis: int = 0, alpha: float = 0.5,
                  seed: int = 0):
    """An interactive browser through the sections of a (z, y, x) volume (ipywidgets).

    Parameters
    ----------
    raw : (Z, Y, X) ndarray
    labels : (Z, Y, X) ndarray of non-negative ints, optional
        Drawn over raw; a checkbox hides them, a slider sets their opacity.
    voxel_size : sequence of 3 floats, required
        nm (z, y, x): true proportions for y and x cuts, positions in nm, a
        scale bar.
    prediction : (Z, Y, X) or (C, Z, Y, X) float ndarray, optional
        Shown next to raw (probabilities in [0, 1], or affinities as RGB).
    axis, alpha, seed
        Initial cutting axis (0, 1, 2 = z, y, x), label opacity, colour seed.

    Returns
    -------
    ipywidgets.VBox
        Make it the last line of a cell to display it.

    Examples
    --------
    >>> browser = slice_browser(np.zeros((4, 8, 8), np.uint8), voxel_size=(40, 8, 8))
    """
    import ipywidgets as widgets

    _check_voxel_size(voxel_size, 3)
    extra = {} if prediction is None else {"prediction": prediction}
    given = {"raw": raw, "labels": labels, **extra}
    _, shape = _check_panels({k: v for k, v in given.items() if v is not None})
    if len(shape) != 3:
        raise ValueError(f"slice_browser needs a (z, y, x) volume, got shape {raw.shape}; "
                         "for a 2D section use overlay or show_panels")
    labels = None if labels is None else as_labels(labels)
    axis_w, index_w, alpha_w, show_w = _browser_controls(shape, axis, alpha, labels is not None)
    out = widgets.Output()
    busy = [False]  # set while an axis change moves the slider: draw once, not thrice

    def draw(_change=None) -> None:
        if busy[0]:
            return
        first = {"labels": labels} if labels is not None and show_w.value else {"raw": raw}
        fig = _draw(Figure, {**first, **extra}, raw, index=index_w.value, axis=axis_w.value,
                    voxel_size=voxel_size, alpha=alpha_w.value, boundaries=False, seed=seed)
        out.outputs = (_png_output(fig),)  # a figure without pyplot: shown only here

    def change_axis(change) -> None:
        busy[0] = True
        index_w.value, index_w.max = 0, shape[change["new"]] - 1  # value <= max throughout
        index_w.value = shape[change["new"]] // 2
        busy[0] = False
        draw()

    axis_w.observe(change_axis, names="value")
    for w in (index_w, alpha_w, show_w):
        w.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([axis_w, show_w]), widgets.HBox([index_w, alpha_w]), out])
