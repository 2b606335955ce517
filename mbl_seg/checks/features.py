"""Self-checks for the filter-bank exercises: Hessian eigenvalues and gradient magnitude.

Both follow the conventions of :mod:`mbl_seg.features` for a 2D (y, x)
image and a scale ``sigma`` in pixels: Gaussian derivatives from
``scipy.ndimage.gaussian_filter(image, sigma, order=...)`` with its default
``mode="reflect"``, each derivative multiplied by ``sigma`` per order
(scale normalisation).

Used in: notebooks/01_classical_boundaries
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage as ndi

from .. import features
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_hessian_eigenvalues", "check_gradient_magnitude"]


# The exercises work in pixels (sigma in pixels): the library's functions with 1 nm pixels.
def hessian_eigenvalues(image, sigma):
    return features.hessian_eigenvalues(image, sigma, voxel_size=(1.0,) * image.ndim)


def gradient_magnitude(image, sigma):
    return features.gradient_magnitude(image, sigma, voxel_size=(1.0,) * image.ndim)


def _cases() -> tuple[tuple[np.ndarray, float], ...]:
    """(image, sigma) pairs: smooth float images (not square) and a uint8 EM-like patch."""
    rng = np.random.default_rng(0)
    smooth = ndi.gaussian_filter(rng.normal(size=(20, 24)), 1.5) * 20
    patch = np.full((18, 16), 180.0)
    patch[:, 7:9] = 40  # a dark membrane
    patch[4:6, :7] = 60
    patch = np.clip(patch + rng.normal(0, 15, patch.shape), 0, 255).astype(np.uint8)
    cases = ((smooth, 1.0), (smooth, 2.0), (smooth.T.copy(), 1.5), (patch, 1.5))
    for image, _ in cases:
        image.flags.writeable = False  # students get copies; the originals never change
    return cases


_CASES = _cases()


# --- what typical mistakes compute ----------------------------------------------------------


def _entries(image, sigma, *, scale=2.0, gaussian=True):
    """Hrr, Hrc, Hcc of a float copy, times sigma**scale; np.gradient twice if not gaussian."""
    image = np.asarray(image, dtype=np.float64)
    if gaussian:
        a, b, c = (ndi.gaussian_filter(image, sigma, order=o) for o in ((2, 0), (1, 1), (0, 2)))
    else:
        dr, dc = np.gradient(ndi.gaussian_filter(image, sigma))
        a, b, c = np.gradient(dr, axis=0), np.gradient(dr, axis=1), np.gradient(dc, axis=1)
    return a * sigma**scale, b * sigma**scale, c * sigma**scale


def _eig(a, b, c, *, discriminant=None, halve_root=True):
    with np.errstate(invalid="ignore"):
        root = np.sqrt((a - c) ** 2 + 4 * b**2 if discriminant is None else discriminant)
    root = root / 2 if halve_root else root
    return np.stack([(a + c) / 2 + root, (a + c) / 2 - root])


def _hessian_mistakes() -> list[tuple[Callable, str]]:
    def entries(x, **kw):
        return _entries(*x, **kw)

    def wrong_root(x):
        a, b, c = entries(x)
        return [_eig(a, b, c, discriminant=(a - c) ** 2 - 4 * b**2),
                _eig(a, b, c, discriminant=(a - c) ** 2 + b**2)]

    def uint8_filtered(x):
        image, sigma = x
        a, b, c = (ndi.gaussian_filter(image, sigma, order=o).astype(np.float64) * sigma**2
                   for o in ((2, 0), (1, 1), (0, 2)))
        return [_eig(a, b, c)]

    return [
        (lambda x: [hessian_eigenvalues(*x)[::-1]],
         "your eigenvalues are in ascending order: sort them in descending order, the "
         "largest first (eigenvalues[0] >= eigenvalues[1])"),
        (lambda x: [_eig(*entries(x, scale=s)) for s in (0, 1, 4)],
         "scale-normalise: multiply each second derivative by sigma**2, so features at "
         "different scales are comparable"),
        (lambda x: [_eig(a, 0 * b, c) for a, b, c in [entries(x)]],
         "the cross term is missing: Hrc = gaussian_filter(image, sigma, order=(1, 1)) "
         "enters the eigenvalues through sqrt(((Hrr - Hcc) / 2)**2 + Hrc**2)"),
        (lambda x: [_eig(b, b, c) for a, b, c in [entries(x)]]
         + [_eig(a, b, b) for a, b, c in [entries(x)]],
         "one diagonal entry uses order=(1, 1): Hrr needs order=(2, 0), Hcc order=(0, 2); "
         "only the cross term Hrc uses order=(1, 1)"),
        (lambda x: [_eig(*entries(x), halve_root=False)],
         "your square root is twice too large: you left out its / 2. The eigenvalues are "
         "(Hrr + Hcc) / 2 ± sqrt((Hrr - Hcc)**2 + 4 * Hrc**2) / 2, the same as "
         "(Hrr + Hcc) / 2 ± sqrt(((Hrr - Hcc) / 2)**2 + Hrc**2)"),
        (wrong_root,
         "check the square root: the eigenvalues of [[a, b], [b, c]] are "
         "(a + c) / 2 ± sqrt(((a - c) / 2)**2 + b**2) = (a + c ± sqrt((a - c)**2 + 4 * b**2)) / 2"),
        (uint8_filtered, _UINT8_HINT),
        (lambda x: [_eig(*entries(x, gaussian=False))] + [
            _eig(*entries(x, gaussian=False, scale=0))],
         "use Gaussian derivative filters, gaussian_filter(image, sigma, order=(2, 0)) etc., "
         "not finite differences (np.gradient) of the smoothed image"),
    ]


_UINT8_HINT = (
    "convert the image to float first (image.astype(np.float32)): gaussian_filter returns "
    "the dtype of its input, and a uint8 derivative cannot be negative")


# --- the checks -----------------------------------------------------------------------------


def check_hessian_eigenvalues(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(image, sigma) -> (2, y, x)``: the eigenvalues of the Hessian of Gaussian.

    The expected convention, the same as :func:`mbl_seg.features.hessian_eigenvalues`:

    * ``Hrr, Hrc, Hcc = gaussian_filter(image, sigma, order=o) * sigma**2`` for
      ``o`` = (2, 0), (1, 1), (0, 2), on a float copy of the image (default mode);
    * eigenvalues of ``[[Hrr, Hrc], [Hrc, Hcc]]`` in closed form,
      ``(Hrr + Hcc) / 2 ± sqrt(((Hrr - Hcc) / 2)**2 + Hrc**2)``;
    * stacked in descending order along axis 0: shape (2, y, x).

    Parameters
    ----------
    fn : callable
        Your function, ``fn(image, sigma)`` for a (y, x) image and sigma in pixels.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> from mbl_seg.checks.features import hessian_eigenvalues  # the library's, in pixels
    >>> check_hessian_eigenvalues(hessian_eigenvalues).passed
    ✅ hessian_eigenvalues: correct — your eigenvalues match on all 4 test images
    True

    Used in: notebooks/01_classical_boundaries
    """
    return _run("hessian_eigenvalues", lambda: _check_images(
        fn, hessian_eigenvalues, what="eigenvalues", channels=2, mistakes=_hessian_mistakes(),
        generic_hint=("compute Hrr, Hrc, Hcc with gaussian_filter(image, sigma, order=...) "
                      "* sigma**2, then (Hrr + Hcc) / 2 + r and (Hrr + Hcc) / 2 - r with "
                      "r = sqrt(((Hrr - Hcc) / 2)**2 + Hrc**2), stacked along axis 0")), verbose)


def _gradient_mistakes() -> list[tuple[Callable, str]]:
    def derivatives(x, gaussian=True):
        image, sigma = np.asarray(x[0], np.float64), x[1]
        if gaussian:
            return [ndi.gaussian_filter(image, sigma, order=o) * sigma for o in ((1, 0), (0, 1))]
        return [g * sigma for g in np.gradient(ndi.gaussian_filter(image, sigma))]

    def uint8_filtered(x):
        image, sigma = x
        gr, gc = (ndi.gaussian_filter(image, sigma, order=o).astype(np.float64) * sigma
                  for o in ((1, 0), (0, 1)))
        return [np.sqrt(gr**2 + gc**2)]

    return [
        (lambda x: [gradient_magnitude(*x) / x[1], gradient_magnitude(*x) * x[1]],
         "scale-normalise: multiply each first derivative by sigma (once)"),
        (lambda x: [gradient_magnitude(*x) ** 2],
         "you returned the squared magnitude: take np.sqrt(gr**2 + gc**2)"),
        (lambda x: [np.abs(g) for g in derivatives(x)] + derivatives(x),
         "use both derivatives, along rows (order=(1, 0)) and columns (order=(0, 1))"),
        (lambda x: [np.abs(derivatives(x)[0]) + np.abs(derivatives(x)[1]),
                    derivatives(x)[0] + derivatives(x)[1]],
         "the magnitude is sqrt(gr**2 + gc**2), not a sum of the two derivatives"),
        (uint8_filtered, _UINT8_HINT),
        (lambda x: [np.sqrt(sum(g**2 for g in derivatives(x, gaussian=False)))],
         "use Gaussian derivative filters, gaussian_filter(image, sigma, order=(1, 0)) and "
         "order=(0, 1), not np.gradient of the smoothed image"),
    ]


def check_gradient_magnitude(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(image, sigma) -> (y, x)``: the scale-normalised Gaussian gradient magnitude.

    Expected, as :func:`mbl_seg.features.gradient_magnitude`:
    ``gr, gc = gaussian_filter(image, sigma, order=o) * sigma`` for ``o`` =
    (1, 0), (0, 1) on a float copy of the image (default mode), and
    ``np.sqrt(gr**2 + gc**2)``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(image, sigma)`` for a (y, x) image and sigma in pixels.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult
        ``passed`` and a message that names the likely mistake.

    Examples
    --------
    >>> def my_gradient_magnitude(image, sigma):
    ...     raise NotImplementedError("TODO")
    >>> result = check_gradient_magnitude(my_gradient_magnitude)
    ❌ gradient_magnitude: not implemented yet — fill in the TODO

    Used in: notebooks/01_classical_boundaries
    """
    return _run("gradient_magnitude", lambda: _check_images(
        fn, gradient_magnitude, what="gradient magnitude", channels=0,
        mistakes=_gradient_mistakes(),
        generic_hint=("gr, gc = gaussian_filter(image, sigma, order=(1, 0)) * sigma and "
                      "order=(0, 1); return np.sqrt(gr**2 + gc**2)")), verbose)


# --- shared machinery -----------------------------------------------------------------------


def _same(got, expected, *, margin: int = 0) -> bool:
    """Equal up to float32 rounding (relative to the largest value); nan matches nan."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        return False
    if margin:
        inner = (Ellipsis, slice(margin, -margin), slice(margin, -margin))
        got, expected = got[inner], expected[inner]
    scale = np.nanmax(np.abs(expected), initial=0.0)
    return bool(np.allclose(got, expected, rtol=1e-4, atol=1e-4 * scale + 1e-6, equal_nan=True))


def _as_array(value, image: np.ndarray, what: str, channels: int) -> np.ndarray:
    """The student's answer as a float array of the expected shape, or a _Fail saying why."""
    if value is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise _Fail(f"your function should return an array of {what}, got "
                    f"{type(value).__name__}") from None
    expected = ((channels,) if channels else ()) + image.shape
    if out.shape == expected:
        return out
    if channels and out.shape == image.shape + (channels,):
        hint = ("the eigenvalues go on axis 0, not the last axis: "
                "np.stack([largest, smallest], axis=0)")
    elif channels and out.shape in ((3,) + image.shape, (2, 2) + image.shape):
        hint = ("you returned the Hessian entries (Hrr, Hrc, Hcc); the task is the two "
                "eigenvalues of the matrix [[Hrr, Hrc], [Hrc, Hcc]] at each pixel")
    elif not channels and out.shape == (2,) + image.shape:
        hint = ("you returned the two derivatives: combine them into one magnitude, "
                "np.sqrt(gr**2 + gc**2)")
    else:
        hint = "return one value per pixel" + (f" for each of the {channels} {what}"
                                               if channels else "")
    raise _Fail(f"for a {image.shape} image you returned shape {out.shape}, expected "
                f"{expected}. Hint: {hint}")


def _check_images(fn, reference, *, what, channels, mistakes, generic_hint) -> str:
    """Run ``fn`` on every case, compare with ``reference``, and fail with the best hint."""
    cases = [((image, sigma), _as_array(_call(fn, image, sigma), image, what, channels))
             for image, sigma in _CASES]
    wrong = [(x, got) for x, got in cases if not _same(got, reference(*x))]
    if not wrong:
        return f"your {what} match on all {len(cases)} test images"
    (image, sigma), got = wrong[0]
    for predict, hint in mistakes:  # noqa: B007 - the hint of the mistake found, used below
        if all(any(_same(got, p) for p in predict(x)) for x, got in cases):
            break
    else:
        hint = _fallback_hint(cases, wrong, reference, generic_hint)
    expected = reference(image, sigma)
    error = np.abs(got - expected)
    error[np.isnan(error)] = np.inf  # point at a nan first
    where = np.unravel_index(np.argmax(error), got.shape)
    raise _fail(image, sigma, where, got, expected, hint)


def _fallback_hint(cases, wrong, reference, generic_hint) -> str:
    if all(x[0].dtype == np.uint8 for x, _ in wrong):
        return _UINT8_HINT
    if any(np.isnan(got).any() for _, got in wrong):
        return ("you returned nan: a square root of a negative number? (a - c)**2 + 4 * b**2 "
                "is never negative")
    if all(_same(got, reference(*x), margin=int(4 * x[1]) + 1) for x, got in cases):
        return ("right inside the image but not at its border: keep gaussian_filter's "
                "default mode='reflect'")
    return generic_hint


def _fail(image, sigma, where, got, expected, hint) -> _Fail:
    at = ", ".join(str(int(i)) for i in where)
    return _Fail(f"for the {image.shape} {image.dtype} test image with sigma = {sigma}, at "
                f"[{at}] you returned {got[where]:.4f}, expected {expected[where]:.4f}. "
                f"Hint: {hint}")
