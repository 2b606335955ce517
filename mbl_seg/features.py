"""A filter bank for pixel classification, as ilastik offers it.

Every feature comes from Gaussian derivatives of the image
(``scipy.ndimage.gaussian_filter(..., order=...)``, mode ``"reflect"``) at
several scales ``sigma``:

* ``gaussian`` - the smoothed intensity; ``log`` - the Laplacian of Gaussian
  (trace of the Hessian); ``gradient`` - the Gaussian gradient magnitude;
* ``hessian`` - the eigenvalues of the Hessian of Gaussian (ridges and
  valleys: a dark membrane has a large *positive* eigenvalue across it);
* ``structure_tensor`` - the eigenvalues of the gradient's outer product
  (inner scale ``sigma``) averaged over a Gaussian window (outer scale
  ``rho = 2 * sigma``): how strongly and consistently the image is oriented.

Conventions:

* ``sigma`` is always in nm and ``voxel_size`` (nm per voxel, z, y, x) is
  required; axis ``i`` uses ``sigma / voxel_size[i]`` voxels, so a
  (40, 4, 4) nm volume is smoothed less along z. Where that is below half a
  voxel the axis is neither smoothed nor differentiated (unresolved scale).
* Derivatives are *scale-normalised*: each derivative along axis ``i`` is
  multiplied by that axis' sigma in voxels, so features at different scales
  have comparable magnitudes. Nothing is standardised; the classifier does it.
* Eigenvalues are in *descending* order along axis 0, as in
  ``skimage.feature.hessian_matrix_eigvals``.

Used in: notebooks/01_classical_boundaries
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from ._validate import as_image, as_voxel_size

__all__ = [
    "FEATURES", "Features", "filter_bank", "gradient_magnitude", "hessian_eigenvalues",
    "structure_tensor_eigenvalues",
]

FEATURES = ("gaussian", "log", "gradient", "hessian", "structure_tensor")
_EIGEN = ("hessian", "structure_tensor")  # one channel per eigenvalue

# Below half a voxel a sampled Gaussian (derivative) kernel degenerates to a
# single tap: the second derivative would then return -image / sigma**2.
_MIN_SIGMA_VOXELS = 0.5


class Features(NamedTuple):
    """A stack of features: ``data[k]`` is the feature called ``names[k]``.

    Attributes
    ----------
    data : (n_features, [Z,] Y, X) float32 ndarray
        One feature image per channel, same spatial shape as the input image.
    names : tuple of str
        e.g. ``"hessian_0 (sigma=2)"``: kind, eigenvalue index, scale.
    """

    data: np.ndarray
    names: tuple[str, ...]


def filter_bank(
    image: np.ndarray,
    *,
    sigmas: Sequence[float] = (1.0, 2.0, 4.0),
    voxel_size: Sequence[float] | None = None,
    features: Sequence[str] = FEATURES,
) -> Features:
    """Compute ilastik-style features of a 2D or 3D image at several scales.

    Parameters
    ----------
    image : ([Z,] Y, X) ndarray
        Raw EM, any real dtype (uint8 is converted to float32, not rescaled).
    sigmas : sequence of float, optional
        Scales in nm.
    voxel_size : sequence of float, required
        nm per voxel in (z, y, x) order (or (y, x) for a 2D image).
    features : sequence of str, optional
        Which kinds to compute, a subset of :data:`FEATURES`.

    Returns
    -------
    Features
        ``data`` (n_features, [Z,] Y, X) float32, ordered by kind then scale;
        ``hessian`` and ``structure_tensor`` give ``image.ndim`` channels each.

    Examples
    --------
    >>> image = np.zeros((32, 32), dtype=np.uint8)
    >>> stack = filter_bank(image, sigmas=(8.0, 16.0), voxel_size=(8, 8))
    >>> stack.data.shape, stack.data.dtype
    ((14, 32, 32), dtype('float32'))
    >>> stack.names[:3]
    ('gaussian (sigma=8)', 'gaussian (sigma=16)', 'log (sigma=8)')

    Used in: notebooks/01_classical_boundaries
    """
    image = _as_float(image)
    voxel = _voxel_size(voxel_size, image.ndim)
    scales = _check_sigmas(sigmas, voxel)
    kinds = _check_kinds(features)
    names = [_name(kind, k, s) for kind in kinds for s in scales
             for k in range(image.ndim if kind in _EIGEN else 1)]
    data = np.empty((len(names),) + image.shape, dtype=np.float32)
    index = {name: k for k, name in enumerate(names)}
    for sigma in scales:
        for kind, values in _features_at(image, _per_axis(sigma, voxel), kinds):
            for k, channel in enumerate(values):
                data[index[_name(kind, k, sigma)]] = channel
    return Features(data, tuple(names))


def hessian_eigenvalues(
    image: np.ndarray, sigma: float, *, voxel_size: Sequence[float] | None = None
) -> np.ndarray:
    """Eigenvalues of the scale-normalised Hessian of Gaussian, in descending order.

    ``H[i, j] = sigma_i * sigma_j * gaussian_filter(image, sigma, order=...)``
    (sigma_i in voxels along axis i, mode ``"reflect"``). Across a dark
    membrane (an intensity minimum) the first eigenvalue is large and
    positive; across a bright line the last one is large and negative.

    Parameters
    ----------
    image : ([Z,] Y, X) ndarray
        Real-valued image.
    sigma : float
        Scale in nm.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) order.

    Returns
    -------
    eigenvalues : (ndim, [Z,] Y, X) float32 ndarray
        ``eigenvalues[0] >= eigenvalues[1] (>= eigenvalues[2])``.

    Examples
    --------
    >>> image = np.ones((9, 9)); image[:, 4] = 0  # a dark vertical line
    >>> ev = hessian_eigenvalues(image, 1.0, voxel_size=(1, 1))
    >>> ev.shape, bool(ev[0, 4, 4] > 0.3), bool(abs(ev[1, 4, 4]) < 1e-3)
    ((2, 9, 9), True, True)

    Used in: notebooks/01_classical_boundaries
    """
    image, _, sigmas = _prepare(image, sigma, voxel_size)
    return dict(_features_at(image, sigmas, ["hessian"]))["hessian"]


def structure_tensor_eigenvalues(
    image: np.ndarray, sigma: float, *, rho: float | None = None,
    voxel_size: Sequence[float] | None = None,
) -> np.ndarray:
    """Eigenvalues of the structure tensor, in descending order.

    The gradient ``g`` at inner scale ``sigma`` (scale-normalised) gives the
    tensor ``g g^T``, averaged with a Gaussian window of outer scale ``rho``.
    Large first and small second eigenvalue: an edge or a membrane (one
    orientation); both large: a corner or texture; both small: flat.

    Parameters
    ----------
    image : ([Z,] Y, X) ndarray
        Real-valued image.
    sigma : float
        Inner scale in nm.
    rho : float, optional
        Outer scale, same units; default ``2 * sigma``.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) order.

    Returns
    -------
    eigenvalues : (ndim, [Z,] Y, X) float32 ndarray
        Non-negative (up to rounding), ``eigenvalues[0] >= eigenvalues[1] ...``.

    Examples
    --------
    >>> image = np.zeros((16, 16)); image[:, 8:] = 1  # a vertical edge
    >>> ev = structure_tensor_eigenvalues(image, 1.0, voxel_size=(1, 1))
    >>> ev.shape, bool(ev[0, 8, 8] > 0.05), bool(ev[1, 8, 8] < 1e-6)
    ((2, 16, 16), True, True)

    Used in: notebooks/01_classical_boundaries
    """
    image, voxel, sigmas = _prepare(image, sigma, voxel_size)
    outer = 2 * float(sigma) if rho is None else _check_sigmas([rho], voxel, name="rho")[0]
    values = _features_at(image, sigmas, ["structure_tensor"], outer=_per_axis(outer, voxel))
    return dict(values)["structure_tensor"]


def gradient_magnitude(
    image: np.ndarray, sigma: float, *, voxel_size: Sequence[float] | None = None
) -> np.ndarray:
    """Scale-normalised Gaussian gradient magnitude ``sqrt(sum_i (sigma_i d/di)^2)``.

    Parameters
    ----------
    image : ([Z,] Y, X) ndarray
        Real-valued image.
    sigma : float
        Scale in nm.
    voxel_size : sequence of float, required
        nm per voxel, (z, y, x) order.

    Returns
    -------
    magnitude : ([Z,] Y, X) float32 ndarray
        Large on edges, 0 on flat regions.

    Examples
    --------
    >>> image = np.zeros((16, 16)); image[:, 8:] = 1
    >>> magnitude = gradient_magnitude(image, 1.0, voxel_size=(1, 1))
    >>> bool(magnitude[5, 7] > 0.3), float(magnitude[5, 0])
    (True, 0.0)

    Used in: notebooks/01_classical_boundaries
    """
    image, _, sigmas = _prepare(image, sigma, voxel_size)
    return dict(_features_at(image, sigmas, ["gradient"]))["gradient"][0]


# --- Gaussian derivatives -------------------------------------------------------------------


def _derivatives(image: np.ndarray, sigmas: tuple[float, ...], orders) -> dict:
    """Scale-normalised Gaussian derivatives ``{order: array}`` for every wanted order.

    A Gaussian derivative is separable: one 1D pass per axis. Derivatives with
    the same orders along the first axes share those passes (19 passes instead
    of 30 for all derivatives up to order 2 in 3D).
    """
    orders = set(orders)
    level = {(): image}
    for axis, sigma in enumerate(sigmas):
        prefixes = sorted({order[:axis + 1] for order in orders})
        level = {p: _pass(level[p[:-1]], sigma, axis, p[-1]) for p in prefixes}
    return {order: level[order] * np.float32(np.prod([s**o for s, o in zip(sigmas, order)]))
            for order in orders}


def _pass(values: np.ndarray, sigma: float, axis: int, order: int) -> np.ndarray:
    if sigma == 0:  # an unresolved axis: neither smoothed nor differentiated
        return values if order == 0 else np.zeros_like(values)
    return ndi.gaussian_filter1d(values, sigma, axis=axis, order=order, mode="reflect",
                                 output=np.float32)


def _order(ndim: int, *axes: int) -> tuple[int, ...]:  # e.g. _order(3, 1, 1) = (0, 2, 0)
    return tuple(sum(a == i for a in axes) for i in range(ndim))


def _first_orders(ndim: int) -> list[tuple[int, ...]]:
    return [_order(ndim, i) for i in range(ndim)]


def _second_orders(ndim: int) -> dict[tuple[int, int], tuple[int, ...]]:
    return {(i, j): _order(ndim, i, j) for i in range(ndim) for j in range(i, ndim)}


def _structure_tensor(gradient, outer) -> dict[tuple[int, int], np.ndarray]:
    n = len(gradient)
    return {(i, j): ndi.gaussian_filter(gradient[i] * gradient[j], outer, mode="reflect")
            for i in range(n) for j in range(i, n)}


def _magnitude(gradient) -> np.ndarray:
    return np.sqrt(sum(g * g for g in gradient)).astype(np.float32, copy=False)


def _features_at(image, sigmas, kinds, *, outer=None):
    """Yield (kind, channels) at one scale, sharing the derivatives between kinds.

    ``outer``: the structure tensor's window in voxels per axis (default 2 * sigmas).
    """
    n = image.ndim
    wanted = {(0,) * n} if "gaussian" in kinds else set()
    if {"gradient", "structure_tensor"} & set(kinds):
        wanted.update(_first_orders(n))
    if {"log", "hessian"} & set(kinds):
        wanted.update(_second_orders(n).values())
    d = _derivatives(image, sigmas, wanted)
    for kind in kinds:
        if kind == "gaussian":
            yield kind, [d[(0,) * n]]
        elif kind == "log":
            yield kind, [sum(d[_order(n, i, i)] for i in range(n))]
        elif kind == "gradient":
            yield kind, [_magnitude([d[o] for o in _first_orders(n)])]
        elif kind == "hessian":
            yield kind, _eigenvalues({p: d[o] for p, o in _second_orders(n).items()})
        else:
            gradient = [d[o] for o in _first_orders(n)]
            outer = tuple(2 * s for s in sigmas) if outer is None else outer
            yield kind, _eigenvalues(_structure_tensor(gradient, outer))


# --- eigenvalues of stacked symmetric matrices ----------------------------------------------


def _eigenvalues(m: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """Descending eigenvalues of a field of symmetric 2x2 or 3x3 matrices (upper entries)."""
    if (0, 2) not in m:
        a, b, c = m[0, 0], m[0, 1], m[1, 1]
        mean, radius = (a + c) / 2, np.sqrt(((a - c) / 2) ** 2 + b * b)
        return np.stack([mean + radius, mean - radius]).astype(np.float32, copy=False)
    return _eigenvalues_3x3(m)


def _eigenvalues_3x3(m, chunk: int = 1 << 18) -> np.ndarray:
    """Closed form (trigonometric) for 3x3: ~10x faster than np.linalg.eigvalsh here."""
    entries = [m[k].ravel() for k in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))]
    out = np.empty((3, entries[0].size), dtype=np.float32)
    # float64 in chunks: float32 would lose small eigenvalues next to large ones
    for start in range(0, out.shape[1], chunk):
        part = [e[start:start + chunk].astype(np.float64) for e in entries]
        out[:, start:start + chunk] = _trigonometric(*part)
    return out.reshape((3,) + m[0, 0].shape)


def _trigonometric(a, b, c, d, e, f) -> np.ndarray:
    """Descending eigenvalues of [[a, b, c], [b, d, e], [c, e, f]] (Smith, 1961)."""
    q = (a + d + f) / 3
    a0, d0, f0 = a - q, d - q, f - q
    p = np.sqrt((a0 * a0 + d0 * d0 + f0 * f0 + 2 * (b * b + c * c + e * e)) / 6)
    det = a0 * (d0 * f0 - e * e) - b * (b * f0 - e * c) + c * (b * e - d0 * c)
    with np.errstate(divide="ignore", invalid="ignore"):  # p == 0: a multiple of identity,
        r = np.nan_to_num(det / (2 * p**3), nan=0.0, posinf=1.0, neginf=-1.0)  # any angle works
    phi = np.arccos(np.clip(r, -1, 1)) / 3
    largest, smallest = q + 2 * p * np.cos(phi), q + 2 * p * np.cos(phi + 2 * np.pi / 3)
    return np.stack([largest, 3 * q - largest - smallest, smallest])


# --- input checks ---------------------------------------------------------------------------


def _as_float(image) -> np.ndarray:
    image = as_image(image, name="image")
    if np.iscomplexobj(image):
        raise TypeError(f"image must be real-valued, got dtype {image.dtype}")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError("image contains nan or inf values; features need finite intensities")
    return image


def _voxel_size(voxel_size, ndim: int) -> tuple[float, ...]:
    return as_voxel_size(voxel_size, ndim)  # required: sigma is in nm


def _prepare(image, sigma, voxel_size):
    """The float32 image, the voxel size and sigma in voxels per axis."""
    image = _as_float(image)
    voxel = _voxel_size(voxel_size, image.ndim)
    return image, voxel, _per_axis(_check_sigmas([sigma], voxel)[0], voxel)


def _per_axis(sigma: float, voxel: tuple[float, ...]) -> tuple[float, ...]:
    """Sigma in voxels along each axis; 0 where it is too small to be sampled."""
    return tuple(s if s >= _MIN_SIGMA_VOXELS else 0.0 for s in (sigma / v for v in voxel))


def _check_sigmas(sigmas, voxel, *, name: str = "sigma") -> list[float]:
    values = list(np.atleast_1d(np.asarray(sigmas, dtype=object)))
    if not values:
        raise ValueError(f"give at least one {name}, got {sigmas!r}")
    for value in values:
        try:
            number = np.nan if isinstance(value, (bool, str)) else float(value)
        except (TypeError, ValueError):
            number = np.nan
        if not (np.isfinite(number) and number > 0):
            raise ValueError(f"{name} must be positive finite numbers, got {sigmas!r}")
        if max(_per_axis(number, voxel)) == 0:
            raise ValueError(
                f"{name}={value} is below {_MIN_SIGMA_VOXELS} voxel along every axis "
                f"(voxel_size {voxel}); use a larger {name}")
    return [float(v) for v in values]


def _check_kinds(features) -> list[str]:
    kinds = [features] if isinstance(features, str) else list(features)
    unknown = [k for k in kinds if k not in FEATURES]
    if unknown or not kinds:
        raise ValueError(f"features must be a non-empty subset of {FEATURES}, got {features!r}")
    return list(dict.fromkeys(kinds))


def _name(kind: str, k: int, sigma: float) -> str:
    suffix = f"_{k}" if kind in _EIGEN else ""
    return f"{kind}{suffix} (sigma={sigma:g})"
