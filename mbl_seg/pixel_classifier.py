"""Sparse scribble annotations and a small pixel classifier, as in ilastik.

The ilastik workflow: compute a filter bank (:func:`mbl_seg.features.filter_bank`),
draw a few strokes on boundaries and inside cells, train a classifier on the
labelled pixels only, and predict a boundary probability for every pixel.

Used in: notebooks/01_classical_boundaries
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage as ndi

from ._validate import as_image, as_number
from .features import Features

__all__ = ["UNLABELLED", "BOUNDARY", "INSIDE", "scribbles", "PixelClassifier"]

UNLABELLED, BOUNDARY, INSIDE = 0, 1, 2

# The 8 in-plane steps (dy, dx): strokes are drawn section by section, as a user would.
_STEPS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def scribbles(
    boundaries: np.ndarray,
    *,
    n_strokes: int = 20,
    length: int = 60,
    margin: float = 3.0,
    seed: int = 0,
) -> np.ndarray:
    """Draw sparse annotations like an ilastik user: strokes on boundaries and inside cells.

    Each stroke is a random walk with momentum through allowed pixels of one
    (y, x) section: a boundary stroke follows boundary pixels, an inside stroke
    stays at least ``margin`` pixels away from any boundary. A stroke ends
    after ``length`` pixels or when it cannot go on without turning back.

    Parameters
    ----------
    boundaries : ([Z,] Y, X) float32 or bool ndarray
        Boundary target, 1 = boundary (a pixel counts as boundary where > 0.5).
    n_strokes : int, optional
        Strokes per class.
    length : int, optional
        Longest stroke, in pixels.
    margin : float, optional
        Smallest in-plane distance (pixels) from an inside stroke to a boundary.
    seed : int, optional
        The same inputs and seed always give the same strokes.

    Returns
    -------
    annotations : ([Z,] Y, X) uint8 ndarray
        0 = unlabelled, 1 = boundary, 2 = inside a cell.

    Examples
    --------
    >>> boundaries = np.zeros((40, 40), dtype=bool)
    >>> boundaries[:, 20] = True
    >>> marks = scribbles(boundaries, n_strokes=2, length=10)
    >>> bool(boundaries[marks == 1].all()), bool((~boundaries[marks == 2]).all())
    (True, True)
    >>> sorted(np.unique(marks).tolist())
    [0, 1, 2]

    Used in: notebooks/01_classical_boundaries
    """
    is_boundary = _boundary_mask(boundaries)
    n_strokes = as_number(n_strokes, "n_strokes", integer=True, positive=True)
    length = as_number(length, "length", integer=True, positive=True)
    margin = as_number(margin, "margin", nonnegative=True, unit="pixels")
    volume = is_boundary.reshape((-1,) + is_boundary.shape[-2:])  # 2D becomes one section
    inside = _inside(volume, margin)
    rng = np.random.default_rng(seed)
    out = np.zeros(volume.shape, dtype=np.uint8)
    for value, allowed in ((BOUNDARY, volume), (INSIDE, inside)):
        _draw(out, value, allowed, n_strokes, length, rng)
    return out.reshape(is_boundary.shape)


def _draw(out, value, allowed, n_strokes, length, rng) -> None:
    """Draw ``n_strokes`` strokes of ``value`` into ``out``, starting at distinct pixels."""
    starts = np.flatnonzero(allowed)
    for start in rng.choice(starts, size=min(n_strokes, starts.size), replace=False):
        for pixel in _stroke(allowed, np.unravel_index(start, allowed.shape), length, rng):
            out[pixel] = value


def _stroke(allowed: np.ndarray, start, length: int, rng: np.random.Generator) -> list:
    """A random walk with momentum through allowed pixels of one section; no revisits."""
    z, y, x = (int(v) for v in start)
    heading = rng.uniform(0, 2 * np.pi)
    path, seen = [(z, y, x)], {(y, x)}
    _, height, width = allowed.shape
    while len(path) < length:
        heading += rng.normal(0, 0.3)  # the hand wobbles a little
        best, best_score = None, -math.inf
        for dy, dx in _STEPS:
            ny, nx = y + dy, x + dx
            if 0 <= ny < height and 0 <= nx < width and allowed[z, ny, nx] and (
                    (ny, nx) not in seen):
                score = math.cos(math.atan2(dy, dx) - heading)
                if score > best_score:
                    best, best_score = (ny, nx), score
        if best is None or best_score < -0.1:  # nowhere to go but back
            break
        heading = math.atan2(best[0] - y, best[1] - x)
        y, x = best
        seen.add((y, x))
        path.append((z, y, x))
    return path


def _inside(volume: np.ndarray, margin: float) -> np.ndarray:
    """Pixels at least ``margin`` (and 1) pixels in-plane from a boundary, per section."""
    distance = np.stack([ndi.distance_transform_edt(~section) for section in volume])
    inside = distance >= max(margin, 1.0)
    if not inside.any():
        raise ValueError(f"no pixel is {margin} pixels away from a boundary: lower margin")
    return inside


def _boundary_mask(boundaries) -> np.ndarray:
    boundaries = as_image(boundaries, name="boundaries")
    if np.iscomplexobj(boundaries):
        raise TypeError(f"boundaries must be real (1 = boundary), got dtype {boundaries.dtype}")
    mask = boundaries > 0.5
    if not mask.any() or mask.all():
        raise ValueError("boundaries must contain both boundary (> 0.5) and non-boundary pixels")
    return mask


class PixelClassifier:
    """A small neural network from per-pixel features to a boundary probability.

    Features are standardised with the mean and standard deviation of the
    labelled pixels, then fed to a 1-hidden-layer MLP (``hidden`` ReLU units;
    ``hidden=0`` is logistic regression). Training is full-batch Adam on the
    labelled pixels with a class-balanced binary cross-entropy, because
    boundary strokes are fewer than inside strokes.

    Why not a random forest, as ilastik uses? It would need an extra
    dependency (scikit-learn); this network trains in about a second on a few
    thousand pixels on a CPU, is as good on a handful of smooth features, and
    is deterministic from ``seed`` (its weights come from a
    ``torch.Generator``; no global random state is touched).

    Parameters
    ----------
    hidden : int, optional
        Hidden units; 0 = logistic regression.
    seed : int, optional
        Seed for the initial weights.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(2, 20, 20)).astype(np.float32)
    >>> annotations = np.zeros((20, 20), dtype=np.uint8)
    >>> annotations[data[0] > 1] = 1  # "boundary" where feature 0 is high
    >>> annotations[data[0] < -1] = 2
    >>> classifier = PixelClassifier(hidden=8).fit(data, annotations, iterations=100)
    >>> probability = classifier.predict(data)
    >>> probability.shape, probability.dtype
    ((20, 20), dtype('float32'))
    >>> bool(probability[data[0] > 1].min() > 0.5 > probability[data[0] < -1].max())
    True

    Used in: notebooks/01_classical_boundaries
    """

    def __init__(self, hidden: int = 32, *, seed: int = 0) -> None:
        self.hidden = as_number(hidden, "hidden", integer=True, nonnegative=True)
        self.seed = seed
        self.model: torch.nn.Module | None = None
        self.mean = self.std = None
        self.losses: list[float] = []

    def fit(self, features, annotations: np.ndarray, *, iterations: int = 300,
            learning_rate: float = 0.01, verbose: bool = False) -> PixelClassifier:
        """Train on the labelled pixels of ``annotations`` (1 = boundary, 2 = inside).

        Parameters
        ----------
        features : Features or (n_features, [Z,] Y, X) ndarray
            The filter bank of the image.
        annotations : ([Z,] Y, X) uint8 ndarray
            0 = unlabelled (ignored), 1 = boundary, 2 = inside.
        iterations : int, optional
            Full-batch Adam steps, at least 1.
        learning_rate : float, optional
            Adam step size, positive.
        verbose : bool, optional
            Print the loss every 100 iterations.

        Returns
        -------
        PixelClassifier
            ``self``, trained; ``self.losses`` holds the loss of every step.
        """
        iterations = as_number(iterations, "iterations", integer=True, positive=True)
        learning_rate = as_number(learning_rate, "learning_rate", positive=True)
        data = _feature_array(features)
        annotations = _annotations(annotations, data.shape[1:])
        x = data[:, annotations > 0].T  # (n_labelled, n_features)
        y = (annotations[annotations > 0] == BOUNDARY).astype(np.float32)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        inputs = torch.from_numpy((x - self.mean) / self.std)
        target = torch.from_numpy(y)
        # each class weighs half of the loss, however many pixels it has
        weight = torch.where(target > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
        self.model = _network(data.shape[0], self.hidden, self.seed)
        self.losses = _train(self.model, inputs, target, weight, iterations=iterations,
                             learning_rate=learning_rate, verbose=verbose)
        return self

    def predict(self, features, *, chunk_size: int = 1 << 16) -> np.ndarray:
        """Boundary probability of every pixel, computed ``chunk_size`` pixels at a time.

        Parameters
        ----------
        features : Features or (n_features, [Z,] Y, X) ndarray
            The same kind of features, in the same order, as given to :meth:`fit`.
        chunk_size : int, optional
            Pixels per forward pass (keeps memory low on large volumes).

        Returns
        -------
        probability : ([Z,] Y, X) float32 ndarray
            In [0, 1]; 1 = boundary.
        """
        if self.model is None:
            raise RuntimeError("call fit(features, annotations) before predict(features)")
        chunk_size = as_number(chunk_size, "chunk_size", integer=True, positive=True)
        data = _feature_array(features)
        if data.shape[0] != self.mean.size:
            raise ValueError(f"the classifier was trained on {self.mean.size} features, "
                             f"got {data.shape[0]}")
        flat = data.reshape(data.shape[0], -1)
        out = np.empty(flat.shape[1], dtype=np.float32)
        with torch.no_grad():
            for start in range(0, flat.shape[1], chunk_size):
                x = (flat[:, start:start + chunk_size].T - self.mean) / self.std
                logits = self.model(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
                out[start:start + chunk_size] = torch.sigmoid(logits[:, 0]).numpy()
        return out.reshape(data.shape[1:])


def _train(model, inputs, target, weight, *, iterations, learning_rate, verbose) -> list:
    """Full-batch Adam on the balanced cross-entropy; the loss of every step."""
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    threads = torch.get_num_threads()
    # A few thousand pixels: one thread is fastest, and several threads slow down
    # badly on a busy 2-core laptop. The setting is restored afterwards.
    torch.set_num_threads(1)
    try:
        for step in range(iterations):
            optimiser.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(inputs)[:, 0], target, weight=weight)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if verbose and (step % 100 == 0 or step == iterations - 1):
                print(f"iteration {step:4d}: balanced cross-entropy {losses[-1]:.4f}")
    finally:
        torch.set_num_threads(threads)
    return losses


def _network(n_features: int, hidden: int, seed: int) -> torch.nn.Module:
    """The MLP, initialised from its own generator (no global seeding)."""
    generator = torch.Generator().manual_seed(int(seed))
    sizes = [n_features, hidden, 1] if hidden else [n_features, 1]
    layers: list[torch.nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layer = torch.nn.Linear(n_in, n_out)
        bound = 1 / np.sqrt(n_in)  # the default PyTorch range, drawn from our generator
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
        layers += [layer, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _feature_array(features) -> np.ndarray:
    data = features.data if isinstance(features, Features) else features
    data = as_image(data, name="features", ndim=(3, 4),
                    layout="(n_features, y, x) or (n_features, z, y, x)")
    if np.iscomplexobj(data):
        raise TypeError(f"features must be real, got dtype {data.dtype}")
    data = data.astype(np.float32, copy=False)
    finite = np.isfinite(data)
    if not finite.all():
        raise ValueError(f"features contain nan or inf ({data.size - np.count_nonzero(finite)} "
                         f"of {data.size} values): expected finite numbers; does the image "
                         "hold nan or inf?")
    return data


def _annotations(annotations, spatial: tuple[int, ...]) -> np.ndarray:
    annotations = as_image(annotations, name="annotations")
    if not (np.issubdtype(annotations.dtype, np.integer) or annotations.dtype == bool):
        nan = "; use 0 for unlabelled, not nan" if np.isnan(annotations).any() else ""
        raise TypeError(f"annotations must be integers (0 = unlabelled, 1 = boundary, "
                        f"2 = inside), got dtype {annotations.dtype}{nan}")
    if annotations.shape != spatial:
        raise ValueError(f"annotations must have the spatial shape of the features "
                         f"{spatial}, got {annotations.shape}")
    unknown = np.setdiff1d(np.unique(annotations), [UNLABELLED, BOUNDARY, INSIDE])
    if unknown.size:
        raise ValueError(f"annotations may only hold 0, 1 (boundary), 2 (inside), "
                         f"found {unknown.tolist()}")
    for value, what in ((BOUNDARY, "boundary (1)"), (INSIDE, "inside (2)")):
        if not (annotations == value).any():
            raise ValueError(f"annotations have no {what} pixels: draw at least one stroke "
                             f"of each class")
    return annotations
