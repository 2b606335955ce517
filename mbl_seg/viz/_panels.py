"""Sections with labels overlaid, and several aligned volumes side by side."""

from __future__ import annotations

import operator
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from skimage.segmentation import find_boundaries

from .._validate import as_image, as_labels, as_voxel_size, same_shape
from ._colors import label_rgba, matched_labels

# Readable titles for the course's short names; other names get "_" -> " ".
_TITLES = {"gt": "ground truth", "seg": "segmentation", "affs": "affinities", "lsds": "LSDs"}



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


def _check_voxel_size(voxel_size, spatial_ndim: int) -> tuple[float, ...]:
    """The voxel size (nm) for panels of ``spatial_ndim`` axes; (z, y, x) fits 2D too."""
    if voxel_size is None:
        raise TypeError("figures need voxel_size= in nm per voxel, (z, y, x) or (y, x) for "
                        "2D sections, e.g. voxel_size=dataset.voxel_size: it sets the "
                        "proportions and the scale bar")
    if spatial_ndim == 2 and np.size(voxel_size) == 3:
        return as_voxel_size(voxel_size, 3)[1:]
    return as_voxel_size(voxel_size, spatial_ndim)


def _cut_axes(axis: int, spatial_ndim: int) -> tuple[int, int]:
    """The (row, column) axes of a section perpendicular to ``axis``."""
    if spatial_ndim == 2:
        return 0, 1
    rows, cols = [a for a in range(3) if a != axis]
    return rows, cols


def _aspect(vs: tuple[float, ...], axis: int, spatial_ndim: int) -> float:
    """Height / width of one pixel of the section perpendicular to ``axis``."""
    rows, cols = _cut_axes(axis, spatial_ndim)
    return vs[rows] / vs[cols]


def _nice_length(nm: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) of about ``nm``."""
    power = 10.0 ** np.floor(np.log10(nm))
    return max(f * power for f in (1, 2, 5) if f * power <= nm)


def _scale_bar(ax, vs: tuple[float, ...], axis: int, spatial_ndim: int, width_px: int) -> None:
    """A white bar of a round length in nm, lower right, about a fifth of the width."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    nm_per_px = vs[_cut_axes(axis, spatial_ndim)[1]]
    length = _nice_length(width_px * nm_per_px / 5)
    text = f"{length / 1000:g} µm" if length >= 1000 else f"{length:g} nm"
    bar = AnchoredSizeBar(ax.transData, length / nm_per_px, text, "lower right", pad=0.3,
                          borderpad=0.4, color="white", frameon=True, size_vertical=1.5,
                          fontproperties={"size": 8})
    bar.patch.set(facecolor="black", alpha=0.55, linewidth=0)  # readable on bright EM
    ax.add_artist(bar)


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
               title=f"{title}\n({'RGB'[:c]} = channels {', '.join(map(str, range(c)))})")


def _draw(new_figure, panels: dict, raw, *, index: int, axis: int, voxel_size, alpha: float,
          boundaries: bool, seed: int, figsize=None) -> Figure:
    """Draw ``panels`` (label panels over ``raw``) into ``new_figure(figsize=...)``."""
    kinds, shape = _check_panels(panels if raw is None else {"raw": raw, **panels})
    ndim = len(shape)
    vs = _check_voxel_size(voxel_size, ndim)
    aspect = _aspect(vs, axis, ndim)
    sections = {name: _section(a, index, axis, ndim) for name, a in panels.items()}
    rows, cols = next(iter(sections.values())).shape[:2]
    # about 4 inches per panel (and colour bar); the height in true proportion
    n_bars = sum(kinds[n] == "float" or (kinds[n] == "channels" and s.shape[-1] == 1)
                 for n, s in sections.items())
    figsize = figsize or (4.0 * len(panels) + 0.7 * n_bars,
                          float(np.clip(4.0 * rows * aspect / cols, 1.5, 8.0)) + 0.9)
    fig = new_figure(figsize=figsize, layout="constrained")
    raw_sec = None if raw is None else _section(raw, index, axis, ndim)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, name in zip(axes, panels):
        _panel(ax, name, kinds[name], sections[name], raw_sec, aspect=aspect, alpha=alpha,
               boundaries=boundaries, seed=seed)
    _scale_bar(axes[0], vs, axis, ndim, cols)
    _wrap_titles(axes)
    if ndim == 3:
        nm = f" ({index * vs[axis]:g} nm)"
        fig.suptitle(f"{('yx', 'zx', 'zy')[axis]} section at {'zyx'[axis]} = {index} "
                     f"(of 0..{shape[axis] - 1}){nm}")
    return fig


def _wrap_titles(axes) -> None:
    """Break each panel's title into lines that fit the panel's width, as laid out.

    The figure grows by the extra lines, so that the images keep their size.
    """
    fig = axes[0].figure
    fig.draw_without_rendering()  # the layout: each panel's width in pixels
    lines = 1
    for ax in axes:
        em = ax.title.get_fontsize() * fig.dpi / 72
        chars = max(8, int(ax.get_window_extent().width / (0.6 * em)))  # ~0.6 em a letter
        wrapped = "\n".join(textwrap.fill(line, chars) for line in ax.get_title().split("\n"))
        ax.set_title(wrapped)
        lines = max(lines, wrapped.count("\n") + 1)
    if lines > 1:
        width, height = fig.get_size_inches()
        extra = (lines - 1) * 1.25 * axes[0].title.get_fontsize() / 72
        fig.set_size_inches(width, height + extra)


def show_panels(*, voxel_size=None, z: int | None = None, axis: int = 0, alpha: float = 0.5,
                boundaries: bool = False, seed: int = 0, match: str | None = None,
                figsize=None, **panels) -> Figure:
    """Side by side, the same section through several aligned volumes; returns the Figure.

    Parameters
    ----------
    z : int, optional
        Index of the section along ``axis`` (default: the middle one).
    axis : {0, 1, 2}
        Cut perpendicular to z (0: a yx section), y (1) or x (2).
    voxel_size : sequence of float, required
        nm per voxel (z, y, x), or (y, x) for 2D panels: sections through
        anisotropic volumes keep true proportions; the first panel gets a
        scale bar.
    alpha, boundaries, seed
        Label opacity over ``raw``, outlines only, colour seed (see `overlay`).
    match : str, optional
        Name of a label panel (e.g. ``"gt"``): every other label panel is
        coloured by `matched_labels` against it, so the same neuron has the
        same colour in every panel.
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
    >>> fig = show_panels(raw=raw, gt=gt, boundary_map=np.zeros((4, 8, 8)), z=1,
    ...                   voxel_size=(40, 8, 8))
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['raw', 'ground truth', 'boundary map']
    >>> plt.close(fig)
    """
    kinds, shape = _check_panels(panels)
    raw = next((panels[n] for n, k in kinds.items() if k == "raw"), None)
    if match is not None:
        if kinds.get(match) != "labels":
            raise ValueError(f"match must name a label panel, one of "
                             f"{[n for n, k in kinds.items() if k == 'labels']}, got {match!r}")
        panels = {name: matched_labels(a, panels[match]) if k == "labels" and name != match
                  else a for (name, a), k in zip(panels.items(), kinds.values())}
    return _draw(plt.figure, panels, raw, index=_section_index(shape, z, axis), axis=axis,
                 voxel_size=voxel_size, alpha=alpha, boundaries=boundaries, seed=seed,
                 figsize=figsize)
