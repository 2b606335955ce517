"""Figures: EM sections with labels overlaid, side-by-side panels, a slice browser.

Label colours are a function of the label id alone (a hash), so neuron 17
has the same colour in every panel and every figure; label 0 (background)
is transparent. Volumes are (z, y, x); multi-channel arrays (c, z, y, x).

Used in: notebooks/00_setup_and_data and every later notebook.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_image, as_voxel_size

__all__ = ["label_colors", "label_rgba", "overlay", "show_panels", "show_sections",
           "slice_browser"]


def label_colors(ids, *, seed: int = 0) -> np.ndarray:
    """RGBA colours (float, (n, 4)) for label ids; id 0 is fully transparent.

    Examples
    --------
    >>> c = label_colors([0, 17, 17])
    >>> float(c[0, 3]), bool((c[1] == c[2]).all())
    (0.0, True)
    """
    import matplotlib.colors as mcolors

    ids = np.asarray(ids, dtype=np.uint64).ravel()
    # splitmix64-style mixing: neighbouring ids get unrelated colours
    with np.errstate(over="ignore"):
        h = ids * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed * 0x632BE59BD9B4E019 + 1)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    u = [((h >> np.uint64(s)) & np.uint64(0xFFFF)).astype(float) / 0xFFFF for s in (0, 16, 32)]
    hsv = np.stack([u[0], 0.6 + 0.4 * u[1], 0.75 + 0.25 * u[2]], axis=-1)
    rgba = np.ones((len(ids), 4))
    rgba[:, :3] = mcolors.hsv_to_rgb(hsv)
    rgba[ids == 0] = 0.0
    return rgba


def label_rgba(labels: np.ndarray, *, seed: int = 0, alpha: float = 0.5) -> np.ndarray:
    """A (..., 4) float32 RGBA image of a label image; 0 transparent, others ``alpha``."""
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be an integer numpy array, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    ids, inverse = np.unique(labels, return_inverse=True)
    colors = label_colors(ids, seed=seed)
    colors[ids != 0, 3] = alpha
    return colors[inverse.reshape(labels.shape)].astype(np.float32)


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """Labels kept only on their outline (2D), elsewhere 0."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:-1] |= labels[1:] != labels[:-1]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    return np.where(edge, labels, 0)


def overlay(raw: np.ndarray | None, labels: np.ndarray | None = None, *, ax=None,
            alpha: float = 0.5, boundaries: bool = False, seed: int = 0,
            title: str | None = None, aspect: float = 1.0):
    """Draw a 2D EM section in grey with labels on top; returns the Axes.

    Parameters
    ----------
    raw : (Y, X) ndarray or None
        uint8 (shown 0-255) or float (auto range).
    labels : (Y, X) ndarray of ints, optional
        Label 0 stays transparent.
    boundaries : bool
        Draw only the outline of each label.
    aspect : float
        Height / width of one pixel (for sections through anisotropic volumes).
    """
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(5, 5))[1]
    if raw is not None:
        as_image(raw, ndim=(2,))
        vmin, vmax = (0, 255) if raw.dtype == np.uint8 else (None, None)
        ax.imshow(raw, cmap="gray", vmin=vmin, vmax=vmax, aspect=aspect,
                  interpolation="nearest")
    if labels is not None:
        if labels.ndim != 2:
            raise ValueError(f"labels must be a 2D section (y, x), got shape {labels.shape}")
        shown = _boundaries(labels) if boundaries else labels
        ax.imshow(label_rgba(shown, seed=seed, alpha=1.0 if boundaries else alpha),
                  aspect=aspect, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def _section(array: np.ndarray, index: int, axis: int, channels: bool) -> np.ndarray:
    if channels:
        return np.moveaxis(np.take(array, index, axis=axis + 1), 0, -1)
    return np.take(array, index, axis=axis) if array.ndim == 3 else array


def _panel(ax, name: str, array: np.ndarray, raw2d, index: int, axis: int, aspect: float,
           alpha: float):
    """One panel: raw, labels (over raw), probabilities, or 3-channel affinities."""
    title = name.replace("_", " ")
    channels = array.ndim == 4
    sec = _section(array, index, axis, channels)
    if name == "raw":
        return overlay(sec, ax=ax, title=title, aspect=aspect)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool and not channels:
        return overlay(raw2d, sec.astype(np.uint64), ax=ax, title=title, aspect=aspect,
                       alpha=alpha if raw2d is not None else 1.0)
    if channels:
        if sec.shape[-1] != 3:
            raise ValueError(f"{name}: only 3-channel arrays (c=3) can be shown as RGB, "
                             f"got {sec.shape[-1]} channels")
        ax.imshow(np.clip(sec, 0, 1), aspect=aspect, interpolation="nearest")
        return overlay(None, ax=ax, title=f"{title} (RGB = z, y, x)", aspect=aspect)
    im = ax.imshow(sec, cmap="magma", vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    return overlay(None, ax=ax, title=title, aspect=aspect)


def show_panels(*, z: int | None = None, axis: int = 0, voxel_size=None, size: float = 4.0,
                alpha: float = 0.5, **panels):
    """Side-by-side panels of one section through several aligned volumes.

    Parameters
    ----------
    z : int, optional
        Section index along ``axis`` (default: the middle).
    axis : {0, 1, 2}
        Cut perpendicular to z (0), y (1) or x (2).
    voxel_size : sequence of 3 floats, optional
        nm (z, y, x); makes sections through anisotropic volumes look right.
    size : float
        Height of one panel in inches.
    alpha : float
        Opacity of labels drawn over raw.
    **panels : (Z, Y, X) or (Y, X) or (3, Z, Y, X) ndarrays
        In the order to show. ``raw`` in grey; integer arrays (labels,
        segmentations) as colours over ``raw``; floats in [0, 1] with a
        colour bar; 3-channel floats (affinities) as RGB.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> raw = np.zeros((4, 8, 8), np.uint8); gt = np.ones((4, 8, 8), np.uint64)
    >>> fig = show_panels(raw=raw, ground_truth=gt)
    """
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("give at least one panel, e.g. show_panels(raw=raw)")
    spatial = {k: (v.shape[1:] if v.ndim == 4 else v.shape) for k, v in panels.items()}
    reference = next(iter(spatial.values()))
    for name, shape in spatial.items():
        if shape != reference:
            raise ValueError(f"all panels need the same (z, y, x) shape: "
                             f"{next(iter(spatial))} has {reference}, {name} has {shape}")
    if len(reference) == 3:
        index = reference[axis] // 2 if z is None else int(z)
        if not 0 <= index < reference[axis]:
            raise ValueError(f"section {index} is outside 0..{reference[axis] - 1} along axis {axis}")
    else:
        index = 0
    aspect = _aspect(voxel_size, axis, len(reference))
    raw = panels.get("raw")
    raw2d = None if raw is None else _section(raw, index, axis, False)
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (name, array) in zip(axes[0], panels.items()):
        _panel(ax, name, array, raw2d, index, axis, aspect, alpha)
    if len(reference) == 3:
        fig.suptitle(f"section {'zyx'[axis]} = {index}", y=0.98)
    fig.tight_layout()
    return fig


def _aspect(voxel_size, axis: int, ndim: int) -> float:
    if voxel_size is None or ndim == 2:
        return 1.0
    vs = as_voxel_size(voxel_size, 3)
    rows, cols = [a for a in range(3) if a != axis]
    return vs[rows] / vs[cols]


def show_sections(raw: np.ndarray, labels: np.ndarray | None = None, *, voxel_size,
                  point=None, size: float = 4.0):
    """The three orthogonal sections (yx, zx, zy) through ``point``, true to scale."""
    import matplotlib.pyplot as plt

    as_image(raw, ndim=(3,))
    point = tuple(s // 2 for s in raw.shape) if point is None else point
    fig, axes = plt.subplots(1, 3, figsize=(3 * size, size))
    for ax, axis in zip(axes, (0, 1, 2)):
        lab = None if labels is None else np.take(labels, point[axis], axis=axis)
        overlay(np.take(raw, point[axis], axis=axis), lab, ax=ax,
                aspect=_aspect(voxel_size, axis, 3),
                title=f"{'zyx'[axis]} = {point[axis]}  ({'yx zx zy'.split()[axis]} section)")
    fig.tight_layout()
    return fig


def slice_browser(raw: np.ndarray, labels: np.ndarray | None = None, *, voxel_size=None,
                  prediction: np.ndarray | None = None, axis: int = 0, alpha: float = 0.5):
    """An interactive browser over the sections of a (z, y, x) volume (ipywidgets).

    Sliders pick the section and the label opacity, buttons the cutting axis;
    a checkbox hides the labels. Returns the widget: make it the last line of a
    cell to display it.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    as_image(raw, ndim=(3,))
    for name, extra in (("labels", labels), ("prediction", prediction)):
        if extra is not None and extra.shape[-3:] != raw.shape:
            raise ValueError(f"{name} must match raw's shape {raw.shape}, got {extra.shape}")
    axis_w = widgets.ToggleButtons(options=[("z", 0), ("y", 1), ("x", 2)], value=axis,
                                   description="cut along")
    index_w = widgets.IntSlider(value=raw.shape[axis] // 2, min=0, max=raw.shape[axis] - 1,
                                description="section", continuous_update=False)
    alpha_w = widgets.FloatSlider(value=alpha, min=0, max=1, step=0.05, description="opacity")
    show_w = widgets.Checkbox(value=labels is not None, description="labels")
    out = widgets.Output()

    def draw(*_):
        index_w.max = raw.shape[axis_w.value] - 1
        panels = {"raw": raw}
        if labels is not None and show_w.value:
            panels["labels"] = labels
        if prediction is not None:
            panels["prediction"] = prediction
        with plt.ioff():
            fig = show_panels(z=index_w.value, axis=axis_w.value, voxel_size=voxel_size,
                              alpha=alpha_w.value, **panels)
        out.clear_output(wait=True)
        with out:
            display(fig)
        plt.close(fig)

    for w in (axis_w, index_w, alpha_w, show_w):
        w.observe(draw, names="value")
    browser = widgets.VBox([widgets.HBox([axis_w, show_w]), widgets.HBox([index_w, alpha_w]),
                            out])
    draw()
    return browser
