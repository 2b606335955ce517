"""Figures: EM sections with labels overlaid, side-by-side panels, a slice browser.

A label's colour is a hash of its id, so neuron 17 has the same colour in every
panel and figure; label 0 (background / unknown) is transparent. Volumes are
(z, y, x), multi-channel arrays (c, z, y, x), ``voxel_size`` in nm (z, y, x).
Functions that make a figure return it: end the notebook line with ``;`` so
it is not shown twice.

Used in: notebooks/00_setup_and_data and every later notebook.
"""

from __future__ import annotations

import base64
import io
import operator

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure
from skimage.segmentation import find_boundaries

from ._validate import as_image, as_labels, as_voxel_size, same_shape

__all__ = ["label_colors", "label_rgba", "overlay", "show_panels", "slice_browser"]

# Readable titles for the course's short names; other names get "_" -> " ".
_TITLES = {"gt": "ground truth", "seg": "segmentation", "affs": "affinities", "lsds": "LSDs"}


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


def _check_section(raw, labels):
    """Check overlay's inputs: 2D (y, x) sections of the same shape."""
    if raw is None and labels is None:
        raise ValueError("overlay needs raw, labels or both")
    for name, array in (("raw", raw), ("labels", labels)):
        if isinstance(array, np.ndarray) and array.ndim != 2:
            raise ValueError(f"{name} must be one 2D section (y, x), got shape {array.shape};"
                             f" for a (z, y, x) volume pick a section, e.g. {name}[z]")
    if raw is not None:
        as_image(raw, ndim=(2,))
    if labels is not None:
        labels = as_labels(labels, ndim=(2,))
        if raw is not None:
            same_shape(raw, labels, ("raw", "labels"))
    return raw, labels


def overlay(raw: np.ndarray | None, labels: np.ndarray | None = None, *, ax=None,
            alpha: float = 0.5, boundaries: bool = False, seed: int = 0,
            title: str | None = None, aspect: float = 1.0):
    """Draw a 2D EM section in grey with label colours on top; returns the Axes.

    Parameters
    ----------
    raw : (Y, X) ndarray or None
        uint8 on the fixed range 0-255, other dtypes auto-ranged; None: black.
    labels : (Y, X) ndarray of non-negative ints, optional
        0 (background) stays transparent.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    alpha : float in [0, 1]
        Opacity of the label colours.
    boundaries : bool
        Draw only each label's outline (opaque) instead of filling it.
    seed : int
        Colour seed, see `label_colors`.
    title : str, optional
    aspect : float
        Height / width of one pixel (sections through anisotropic volumes).

    Examples
    --------
    >>> ax = overlay(np.zeros((8, 8), np.uint8), np.eye(8, dtype=np.uint64), title="eye")
    >>> plt.close(ax.figure)
    """
    raw, labels = _check_section(raw, labels)
    if ax is None:
        ax = plt.figure(figsize=(5, 5), layout="constrained").add_subplot()
    ax.set_facecolor("black")
    if raw is not None:
        vmin, vmax = {"uint8": (0, 255), "bool": (0, 1)}.get(raw.dtype.name, (None, None))
        ax.imshow(raw, cmap="gray", vmin=vmin, vmax=vmax, aspect=aspect, interpolation="nearest")
    if labels is not None:
        if boundaries:
            labels = np.where(find_boundaries(labels, mode="inner"), labels, 0)
        ax.imshow(label_rgba(labels, seed=seed, alpha=1.0 if boundaries else alpha),
                  aspect=aspect, interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title or "")
    return ax


def _kind(name: str, array: np.ndarray, spatial_ndim: int) -> str:
    """How a panel is drawn: 'raw', 'labels', 'float' or 'channels'."""
    if name == "raw" or name.startswith("raw_"):
        return "raw"
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
        return "labels"
    if np.issubdtype(array.dtype, np.floating):
        return "channels" if array.ndim == spatial_ndim + 1 else "float"
    raise TypeError(f"{name}: cannot show dtype {array.dtype}")


def _check_panels(panels: dict) -> tuple[dict, tuple[int, ...]]:
    """Validate the panels; return {name: kind} and their common spatial shape."""
    if not panels:
        raise ValueError("give at least one panel, e.g. show_panels(raw=raw, labels=gt)")
    for name, array in panels.items():
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    # any 2D panel makes a 2D figure, where 3D floats are (c, y, x)
    spatial_ndim = 2 if any(a.ndim == 2 for a in panels.values()) else 3
    kinds, shapes = {}, {}
    for name, array in panels.items():
        kinds[name] = _kind(name, array, spatial_ndim)
        if array.ndim != spatial_ndim and kinds[name] != "channels":
            raise ValueError(f"{name} must be (z, y, x) or (y, x) like the other panels "
                             f"(floats may add a channel axis first), got shape {array.shape}")
        shapes[name] = array.shape[-spatial_ndim:]
    first = next(iter(shapes))
    for name, shape in shapes.items():
        if shape != shapes[first]:
            raise ValueError(f"all panels must have the same spatial shape: {first} has "
                             f"{shapes[first]}, {name} has {shape}")
    return kinds, shapes[first]


def _section(array: np.ndarray, index: int, axis: int, spatial_ndim: int) -> np.ndarray:
    """The 2D section ``index`` along spatial ``axis``, channels moved last."""
    channels = array.ndim == spatial_ndim + 1
    if spatial_ndim == 3:
        array = np.take(array, index, axis=axis + channels)
    return np.moveaxis(array, 0, -1) if channels else array


def _section_index(shape: tuple[int, ...], z, axis: int) -> int:
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0 (z), 1 (y) or 2 (x), got {axis!r}")
    if len(shape) == 2:
        if z is not None:
            raise ValueError("z picks a section of a (z, y, x) volume; these panels are 2D")
        return 0
    index = shape[axis] // 2 if z is None else operator.index(z)
    if not 0 <= index < shape[axis]:
        raise ValueError(f"section {index} is outside 0..{shape[axis] - 1} along "
                         f"{'zyx'[axis]} (shape {shape})")
    return index


def _aspect(voxel_size, axis: int, spatial_ndim: int) -> float:
    """Height / width of one pixel of the section perpendicular to ``axis``."""
    if voxel_size is None:
        return 1.0
    vs = as_voxel_size(voxel_size, 3 if np.size(voxel_size) == 3 else spatial_ndim)
    if spatial_ndim == 2:
        return vs[-2] / vs[-1]
    rows, cols = [a for a in range(3) if a != axis]
    return vs[rows] / vs[cols]


def _panel(ax, name: str, kind: str, sec: np.ndarray, raw_sec, *, aspect: float,
           alpha: float, boundaries: bool, seed: int) -> None:
    """Draw one panel's 2D section ``sec`` by its kind."""
    title = _TITLES.get(name, name.replace("_", " "))
    if kind in ("raw", "labels"):
        under = sec if kind == "raw" else raw_sec
        overlay(under, None if kind == "raw" else sec, ax=ax, title=title, aspect=aspect,
                seed=seed, alpha=alpha if under is not None else 1.0, boundaries=boundaries)
    elif kind == "float" or sec.shape[-1] == 1:
        sec = sec if kind == "float" else sec[..., 0]  # one channel: a probability map
        lo, hi = np.nanmin(sec), np.nanmax(sec)
        # probabilities on a fixed scale, so sections and models compare; others auto
        vmin, vmax, cmap = (0, 1, "magma") if lo >= 0 and hi <= 1 else (lo, hi, "viridis")
        im = ax.imshow(sec, cmap=cmap, vmin=vmin, vmax=vmax, aspect=aspect,
                       interpolation="nearest")
        ax.figure.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
        ax.set(xticks=[], yticks=[], title=title)
    elif sec.shape[-1] > 3:
        raise ValueError(f"{name} has {sec.shape[-1]} channels; at most 3 show as RGB, "
                         f"e.g. {name}={name}[:3]")
    else:
        c = sec.shape[-1]
        rgb = np.zeros(sec.shape[:-1] + (3,), np.float32)
        rgb[..., :c] = np.clip(sec, 0, 1)
        ax.imshow(rgb, aspect=aspect, interpolation="nearest")
        ax.set(xticks=[], yticks=[],
               title=f"{title} ({'RGB'[:c]} = channels {', '.join(map(str, range(c)))})")


def _draw(new_figure, panels: dict, raw, *, index: int, axis: int, voxel_size, alpha: float,
          boundaries: bool, seed: int, figsize=None) -> Figure:
    """Draw ``panels`` (label panels over ``raw``) into ``new_figure(figsize=...)``."""
    kinds, shape = _check_panels(panels if raw is None else {"raw": raw, **panels})
    ndim, aspect = len(shape), _aspect(voxel_size, axis, len(shape))
    sections = {name: _section(a, index, axis, ndim) for name, a in panels.items()}
    rows, cols = next(iter(sections.values())).shape[:2]
    # about 4 inches per panel (and colour bar); the height in true proportion
    n_bars = sum(kinds[n] == "float" or (kinds[n] == "channels" and s.shape[-1] == 1)
                 for n, s in sections.items())
    figsize = figsize or (4.0 * len(panels) + 0.7 * n_bars,
                          float(np.clip(4.0 * rows * aspect / cols, 1.5, 8.0)) + 0.9)
    fig = new_figure(figsize=figsize, layout="constrained")
    raw_sec = None if raw is None else _section(raw, index, axis, ndim)
    for ax, name in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        _panel(ax, name, kinds[name], sections[name], raw_sec, aspect=aspect, alpha=alpha,
               boundaries=boundaries, seed=seed)
    if ndim == 3:
        nm = "" if voxel_size is None else f" ({index * as_voxel_size(voxel_size, 3)[axis]:g} nm)"
        fig.suptitle(f"{('yx', 'zx', 'zy')[axis]} section at {'zyx'[axis]} = {index} "
                     f"(of 0..{shape[axis] - 1}){nm}")
    return fig


def show_panels(*, z: int | None = None, axis: int = 0, voxel_size=None, alpha: float = 0.5,
                boundaries: bool = False, seed: int = 0, figsize=None, **panels) -> Figure:
    """Side by side, the same section through several aligned volumes; returns the Figure.

    Parameters
    ----------
    z : int, optional
        Index of the section along ``axis`` (default: the middle one).
    axis : {0, 1, 2}
        Cut perpendicular to z (0: a yx section), y (1) or x (2).
    voxel_size : sequence of 3 floats, optional
        nm (z, y, x): sections through anisotropic volumes keep true proportions.
    alpha, boundaries, seed
        Label opacity over ``raw``, outlines only, colour seed (see `overlay`).
    figsize : (float, float), optional
    **panels : (Z, Y, X) or (Y, X) ndarrays, or (C, Z, Y, X) / (C, Y, X) floats
        Left to right, titled by name (``gt`` -> "ground truth", ``_`` -> " ").
        ``raw`` (and ``raw_*``) in grey; integer arrays (labels, segmentations)
        as colours over ``raw``; floats in [0, 1] (probabilities) in magma on
        0..1 with a colour bar (other floats auto-ranged); 2- or 3-channel
        floats (affinities) as RGB.

    Examples
    --------
    >>> raw, gt = np.zeros((4, 8, 8), np.uint8), np.ones((4, 8, 8), np.uint64)
    >>> fig = show_panels(raw=raw, gt=gt, boundary_map=np.zeros((4, 8, 8)), z=1)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['raw', 'ground truth', 'boundary map']
    >>> plt.close(fig)
    """
    kinds, shape = _check_panels(panels)
    raw = next((panels[n] for n, k in kinds.items() if k == "raw"), None)
    return _draw(plt.figure, panels, raw, index=_section_index(shape, z, axis), axis=axis,
                 voxel_size=voxel_size, alpha=alpha, boundaries=boundaries, seed=seed,
                 figsize=figsize)


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
    voxel_size : sequence of 3 floats, optional
        nm (z, y, x): true proportions for y and x cuts, positions in nm.
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
    >>> browser = slice_browser(np.zeros((4, 8, 8), np.uint8))
    """
    import ipywidgets as widgets

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
