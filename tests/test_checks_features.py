"""The filter-bank self-checks pass right answers and name the mistake in typical wrong ones."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from mbl_seg.checks import features as checks_features
from mbl_seg.checks.features import check_gradient_magnitude, check_hessian_eigenvalues
# the library's functions in pixels (1 nm pixels), as the exercises write them
from mbl_seg.checks.features import gradient_magnitude, hessian_eigenvalues

# --- Hessian eigenvalues: what students write ------------------------------------------------


def entries(image, sigma, *, scale=2, orders=((2, 0), (1, 1), (0, 2)), as_float=True):
    image = image.astype(np.float64) if as_float else image
    return [gaussian_filter(image, sigma, order=o) * sigma**scale for o in orders]


def hessian_right(image, sigma):
    hrr, hrc, hcc = entries(image, sigma)
    mean = (hrr + hcc) / 2
    radius = np.sqrt(((hrr - hcc) / 2) ** 2 + hrc**2)
    return np.stack([mean + radius, mean - radius])


def hessian_right_eigvalsh(image, sigma):
    """The same with np.linalg.eigvalsh on (y, x, 2, 2) matrices, returned as a list."""
    hrr, hrc, hcc = entries(image.astype(np.float32), sigma)
    matrices = np.stack([np.stack([hrr, hrc], -1), np.stack([hrc, hcc], -1)], -1)
    ev = np.linalg.eigvalsh(matrices)
    return [ev[..., 1], ev[..., 0]]


def hessian_ascending(image, sigma):
    return hessian_right(image, sigma)[::-1]


def hessian_no_scale(image, sigma):
    return hessian_right(image, sigma) / sigma**2


def hessian_sigma_once(image, sigma):
    return hessian_right(image, sigma) / sigma


def hessian_no_cross_term(image, sigma):
    hrr, _, hcc = entries(image, sigma)
    return np.stack([np.maximum(hrr, hcc), np.minimum(hrr, hcc)])


def hessian_11_twice(image, sigma):
    hrr, hrc, hcc = entries(image, sigma, orders=((1, 1), (1, 1), (0, 2)))
    mean, radius = (hrr + hcc) / 2, np.sqrt(((hrr - hcc) / 2) ** 2 + hrc**2)
    return np.stack([mean + radius, mean - radius])


def eig_with(root_of):
    def fn(image, sigma):
        a, b, c = entries(image, sigma)
        with np.errstate(invalid="ignore"):
            root = root_of(a, b, c)
        return np.stack([(a + c) / 2 + root, (a + c) / 2 - root])
    return fn


hessian_minus_4b2 = eig_with(lambda a, b, c: np.sqrt((a - c) ** 2 - 4 * b**2) / 2)
hessian_missing_4 = eig_with(lambda a, b, c: np.sqrt((a - c) ** 2 + b**2) / 2)
hessian_root_not_halved = eig_with(lambda a, b, c: np.sqrt((a - c) ** 2 + 4 * b**2))
hessian_wrong_det = eig_with(lambda a, b, c: np.sqrt((a + c) ** 2 - 4 * (a * c + b**2)) / 2)


def hessian_last_axis(image, sigma):
    return np.moveaxis(hessian_right(image, sigma), 0, -1)


def hessian_entries(image, sigma):
    return np.stack(entries(image, sigma))


def hessian_matrix(image, sigma):
    hrr, hrc, hcc = entries(image, sigma)
    return np.array([[hrr, hrc], [hrc, hcc]])


def hessian_uint8(image, sigma):
    hrr, hrc, hcc = entries(image, sigma, as_float=False)
    mean, radius = (hrr + hcc) / 2, np.sqrt(((hrr - hcc) / 2) ** 2 + hrc**2)
    return np.stack([mean + radius, mean - radius])


def hessian_finite_differences(image, sigma):
    smooth = gaussian_filter(image.astype(float), sigma)
    dr, dc = np.gradient(smooth)
    a, b, c = (np.gradient(dr, axis=0) * sigma**2, np.gradient(dr, axis=1) * sigma**2,
               np.gradient(dc, axis=1) * sigma**2)
    mean, radius = (a + c) / 2, np.sqrt(((a - c) / 2) ** 2 + b**2)
    return np.stack([mean + radius, mean - radius])


def hessian_constant_mode(image, sigma):
    a, b, c = (gaussian_filter(image.astype(float), sigma, order=o, mode="constant") * sigma**2
               for o in ((2, 0), (1, 1), (0, 2)))
    mean, radius = (a + c) / 2, np.sqrt(((a - c) / 2) ** 2 + b**2)
    return np.stack([mean + radius, mean - radius])


def test_hessian_check_passes_right_answers(capsys):
    for fn in (hessian_right, hessian_right_eigvalsh, hessian_eigenvalues):
        result = check_hessian_eigenvalues(fn)
        assert result.passed and result
        assert str(result).startswith("✅ hessian_eigenvalues: correct — ")
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("fn, hint", [
    (hessian_ascending, "ascending order"),
    (hessian_no_scale, "multiply each second derivative by sigma**2"),
    (hessian_sigma_once, "multiply each second derivative by sigma**2"),
    (hessian_no_cross_term, "the cross term is missing"),
    (hessian_11_twice, "one diagonal entry uses order=(1, 1)"),
    (hessian_minus_4b2, "check the square root"),
    (hessian_missing_4, "check the square root"),
    (hessian_root_not_halved, "your square root is twice too large"),
    (hessian_wrong_det, "check the square root"),
    (hessian_last_axis, "axis 0, not the last axis"),
    (hessian_entries, "Hessian entries"),
    (hessian_matrix, "Hessian entries"),
    (hessian_uint8, "convert the image to float first"),
    (hessian_finite_differences, "not finite differences"),
    (hessian_constant_mode, "mode='reflect'"),
    (lambda image, sigma: np.zeros((2,) + image.shape), "compute Hrr, Hrc, Hcc"),
    (lambda image, sigma: None, "forget the `return`"),
    (lambda image, sigma: "eigenvalues", "should return an array"),
    (lambda image, sigma: np.zeros(3), "return one value per pixel"),
    (lambda image, sigma: image.nonexistent, "AttributeError"),
])
def test_hessian_check_names_the_mistake(fn, hint, capsys):
    result = check_hessian_eigenvalues(fn)
    assert not result.passed and not result
    assert hint in result.message, result.message
    assert capsys.readouterr().out == f"❌ hessian_eigenvalues: {result.message}\n"


def test_hessian_check_not_implemented_and_message_details():
    def todo(image, sigma):
        raise NotImplementedError("TODO")

    result = check_hessian_eigenvalues(todo, verbose=False)
    assert result.message == "not implemented yet — fill in the TODO"
    first = check_hessian_eigenvalues(hessian_ascending, verbose=False)
    assert first == check_hessian_eigenvalues(hessian_ascending, verbose=False)
    assert first.message.startswith("for the (20, 24) float64 test image with sigma = 1.0, at [")
    # the nan of a wrong root is pointed at, not hidden
    assert "you returned nan" in check_hessian_eigenvalues(hessian_minus_4b2, verbose=False
                                                           ).message


def test_hessian_check_does_not_let_students_modify_inputs():
    def mutating(image, sigma):
        image[...] = 0
        return hessian_right(image, sigma)

    assert not check_hessian_eigenvalues(mutating, verbose=False)
    assert all(image.any() for image, _ in checks_features._CASES)
    assert check_hessian_eigenvalues(hessian_right, verbose=False)


# --- gradient magnitude ---------------------------------------------------------------------


def derivatives(image, sigma, scale=1):
    image = image.astype(np.float64)
    return [gaussian_filter(image, sigma, order=o) * sigma**scale for o in ((1, 0), (0, 1))]


def gradient_right(image, sigma):
    gr, gc = derivatives(image, sigma)
    return np.sqrt(gr**2 + gc**2)


def gradient_hypot(image, sigma):
    return np.hypot(*derivatives(image.astype(np.float32), sigma))


@pytest.mark.parametrize("fn", [gradient_right, gradient_hypot, gradient_magnitude])
def test_gradient_check_passes_right_answers(fn):
    result = check_gradient_magnitude(fn, verbose=False)
    assert result.passed, result.message
    assert result.message == "correct — your gradient magnitude match on all 4 test images"


@pytest.mark.parametrize("fn, hint", [
    (lambda im, s: gradient_right(im, s) / s, "multiply each first derivative by sigma"),
    (lambda im, s: gradient_right(im, s) ** 2, "squared magnitude"),
    (lambda im, s: np.abs(derivatives(im, s)[1]), "use both derivatives"),
    (lambda im, s: sum(np.abs(g) for g in derivatives(im, s)), "not a sum"),
    (lambda im, s: np.hypot(*(gaussian_filter(im, s, order=o) * s
                              for o in ((1, 0), (0, 1)))), "convert the image to float"),
    (lambda im, s: np.hypot(*np.gradient(gaussian_filter(im.astype(float), s))) * s,
     "not np.gradient"),
    (lambda im, s: np.stack(derivatives(im, s)), "you returned the two derivatives"),
    (lambda im, s: np.ones(im.shape), "gr, gc = gaussian_filter"),
])
def test_gradient_check_names_the_mistake(fn, hint):
    result = check_gradient_magnitude(fn, verbose=False)
    assert not result.passed
    assert hint in result.message, result.message
    assert str(result).startswith("❌ gradient_magnitude: ")


def test_hessian_root_not_halved_hint_only_for_that_mistake():
    """The other wrong roots keep the general square-root hint."""
    halved = check_hessian_eigenvalues(hessian_root_not_halved, verbose=False).message
    assert "you left out its / 2" in halved
    twice = eig_with(lambda a, b, c: 2 * np.sqrt(((a - c) / 2) ** 2 + b**2))
    assert "twice too large" in check_hessian_eigenvalues(twice, verbose=False).message
    for fn in (hessian_missing_4, hessian_wrong_det, hessian_no_scale):
        assert "twice too large" not in check_hessian_eigenvalues(fn, verbose=False).message
    assert check_hessian_eigenvalues(hessian_right, verbose=False)
