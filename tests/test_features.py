"""The filter bank: oracles (skimage, np.linalg.eigvalsh), invariants and input checks."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.feature import (hessian_matrix, hessian_matrix_eigvals,
                             structure_tensor_eigenvalues as skimage_st_eigenvalues)

from mbl_seg import features as F
from mbl_seg.features import (FEATURES, Features, filter_bank, gradient_magnitude,
                              hessian_eigenvalues, structure_tensor_eigenvalues)


def _px(image):
    """1 nm pixels: sigma in pixels, as the tests below think of it."""
    return (1.0,) * np.ndim(image)


def smooth_noise(shape, seed=0, sigma=1.5):
    """A smooth random image: derivatives of every order are non-trivial everywhere."""
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.normal(size=shape), sigma) * 10


def close(a, b, rel=1e-4):
    """Equal up to ``rel`` of the largest magnitude (eigenvalues are float32)."""
    scale = max(np.abs(b).max(), 1e-12)
    return np.abs(np.asarray(a, float) - np.asarray(b, float)).max() <= rel * scale


# --- oracles --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, sigma", [((40, 33), 2.0), ((40, 33), 3.0), ((20, 22, 21), 2.0)])
def test_hessian_eigenvalues_match_skimage(shape, sigma):
    image = smooth_noise(shape)
    ours = hessian_eigenvalues(image, sigma, voxel_size=_px(image))
    # skimage does not scale-normalise and differentiates twice at sigma / sqrt(2)
    elems = hessian_matrix(image, sigma, mode="reflect", use_gaussian_derivatives=True)
    theirs = np.asarray(hessian_matrix_eigvals(elems)) * sigma**2
    assert ours.shape == (len(shape),) + shape and ours.dtype == np.float32
    interior = (slice(None),) + tuple(slice(7, -7) for _ in shape)  # away from the borders
    assert close(ours[interior], theirs[interior], rel=2e-2)


@pytest.mark.parametrize("shape, sigma, rho", [((30, 26), 1.0, None), ((30, 26), 2.0, 1.0),
                                               ((10, 16, 12), 1.5, None)])
def test_structure_tensor_eigenvalues_match_brute_force_and_skimage(shape, sigma, rho):
    image = smooth_noise(shape, seed=1)
    outer = 2 * sigma if rho is None else rho
    grads = []
    for axis in range(image.ndim):
        order = [0] * image.ndim
        order[axis] = 1
        grads.append(sigma * ndi.gaussian_filter(image, sigma, order=order, mode="reflect"))
    elems = [ndi.gaussian_filter(grads[i] * grads[j], outer, mode="reflect")
             for i in range(image.ndim) for j in range(i, image.ndim)]
    theirs = skimage_st_eigenvalues(elems)
    ours = structure_tensor_eigenvalues(image, sigma, rho=rho, voxel_size=_px(image))
    assert close(ours, theirs, rel=1e-4)
    assert ours.min() >= -1e-4 * ours.max()


def test_3x3_closed_form_matches_eigvalsh_including_degenerate_matrices():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(500, 3, 3))
    a = a + a.transpose(0, 2, 1)
    q, _ = np.linalg.qr(rng.normal(size=(4, 3, 3)))
    degenerate = np.stack([
        np.eye(3) * 2.5, np.zeros((3, 3)),
        q[0] @ np.diag([1.0, 1.0, -3.0]) @ q[0].T,  # a repeated eigenvalue
        q[1] @ np.diag([4.0, -1.0, -1.0]) @ q[1].T,
        q[2] @ np.diag([1e3, 0.0, 1e-3]) @ q[2].T,  # very different magnitudes
        np.diag([0.0, 5.0, 1.0]),
    ])
    matrices = np.concatenate([a, degenerate]).astype(np.float32)
    entries = {(i, j): np.ascontiguousarray(matrices[:, i, j]) for i in range(3)
               for j in range(i, 3)}
    ours = F._eigenvalues_3x3(entries)
    expected = np.linalg.eigvalsh(matrices.astype(np.float64))[:, ::-1].T
    assert np.allclose(ours, expected, atol=1e-6 * np.abs(expected).max(axis=0) + 1e-6)
    assert np.all(np.diff(ours, axis=0) <= 1e-5)


# --- invariants -----------------------------------------------------------------------------


def test_constant_image_gives_zero_derivative_features():
    stack = filter_bank(np.full((3, 20, 24), 1.0), sigmas=(1.0, 2.0), voxel_size=(1, 1, 1))
    for name, channel in zip(stack.names, stack.data):
        expected = 1.0 if name.startswith("gaussian") else 0.0
        # scipy truncates kernels at 4 sigma: the derivative kernels sum to ~3e-4 per axis
        assert np.abs(channel - expected).max() < 2e-3, name


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_lines_give_a_strong_eigenvalue_across_them(sigma):
    image = np.zeros((41, 41))
    image[:, 20] = 1.0  # a bright line along y
    ev = hessian_eigenvalues(image, sigma, voxel_size=_px(image))
    # intensity maximum across the line: the last eigenvalue is sigma^2 * G''(0) < 0
    expected = -1 / (sigma * np.sqrt(2 * np.pi))
    assert ev[1, 20, 20] == pytest.approx(expected, rel=2e-2)
    assert abs(ev[0, 20, 20]) < 1e-3
    # a dark membrane on a bright background
    dark = hessian_eigenvalues(1 - image, sigma, voxel_size=_px(image))
    assert dark[0, 20, 20] == pytest.approx(-expected, rel=2e-2)
    assert dark[0, 20, 20] == dark[0].max()


def test_rotation_by_90_degrees_rotates_but_preserves_eigenvalues():
    image = smooth_noise((24, 31), seed=4)
    for fn in (hessian_eigenvalues, structure_tensor_eigenvalues):
        ev = fn(image, 1.5, voxel_size=(1, 1))
        rotated = fn(np.rot90(image).copy(), 1.5, voxel_size=(1, 1))
        assert close(rotated, np.rot90(ev, axes=(1, 2)), rel=1e-5)
    assert close(gradient_magnitude(np.rot90(image).copy(), 1.5, voxel_size=_px(image)),
                 np.rot90(gradient_magnitude(image, 1.5, voxel_size=_px(image))), rel=1e-5)


def test_scale_normalisation_makes_edge_response_independent_of_sigma():
    image = np.zeros((80, 80))
    image[:, 40:] = 1.0
    peaks = [gradient_magnitude(image, s, voxel_size=_px(image))[40].max()
             for s in (2.0, 4.0, 8.0)]
    # a unit step seen at scale sigma: sigma * max|G'| = 1 / sqrt(2 pi), whatever sigma
    # (at sigma 1 the step between two pixels is sampled too coarsely: 0.36)
    assert np.allclose(peaks, 1 / np.sqrt(2 * np.pi), rtol=3e-2)


def test_anisotropic_voxel_size_smooths_less_along_z():
    image = smooth_noise((12, 20, 20), seed=5, sigma=1.0)
    stack = filter_bank(image, sigmas=(4.0,), voxel_size=(4, 2, 2), features=("gaussian",))
    assert np.allclose(stack.data[0], ndi.gaussian_filter(image, (1, 2, 2), mode="reflect"),
                       atol=1e-5)
    # a second derivative along z is normalised by the z sigma in voxels, not the nm sigma
    bump = np.zeros((21, 9, 9))
    bump[10] = 1.0
    ev = hessian_eigenvalues(bump, 8.0, voxel_size=(4, 1, 1))
    assert ev[-1, 10, 4, 4] == pytest.approx(-1 / (2 * np.sqrt(2 * np.pi)), rel=2e-2)
    # sigma is always nm: no voxel size, no guess (1 nm would silently mean voxels)
    with pytest.raises(TypeError, match="voxel_size is required"):
        hessian_eigenvalues(image, 2.0)
    with pytest.raises(TypeError, match="voxel_size is required"):
        filter_bank(image, sigmas=(8.0,))


def test_unresolved_z_scale_gives_per_section_2d_features():
    image = smooth_noise((5, 24, 24), seed=6)
    # 8 nm at (40, 4, 4) nm: 0.2 voxel along z, 2 voxels in-plane
    stack = filter_bank(image, sigmas=(8.0,), voxel_size=(40, 4, 4))
    per_section = np.stack([filter_bank(section, sigmas=(8.0,), voxel_size=(4, 4)).data
                            for section in image], 1)
    names = stack.names
    gauss, grad = names.index("gaussian (sigma=8)"), names.index("gradient (sigma=8)")
    assert np.allclose(stack.data[gauss], per_section[0], atol=1e-5)
    assert np.allclose(stack.data[grad], per_section[2], atol=1e-5)
    hessian = stack.data[[names.index(f"hessian_{k} (sigma=8)") for k in range(3)]]
    assert np.allclose(np.sort(hessian, axis=0), np.sort(np.concatenate(
        [per_section[3:5], np.zeros((1,) + image.shape)]), axis=0), atol=1e-3)


# --- the stack ------------------------------------------------------------------------------


def test_filter_bank_layout_names_and_channels():
    image = smooth_noise((20, 22), seed=7)
    before = image.copy()
    stack = filter_bank(image, sigmas=(1.0, 3.0), voxel_size=_px(image))
    assert isinstance(stack, Features)
    assert stack.data.shape == (14, 20, 22) and stack.data.dtype == np.float32
    assert len(stack.names) == len(set(stack.names)) == 14
    assert stack.names[:4] == ("gaussian (sigma=1)", "gaussian (sigma=3)", "log (sigma=1)",
                               "log (sigma=3)")
    assert np.array_equal(image, before)
    channel = {name: data for name, data in zip(stack.names, stack.data)}
    assert np.array_equal(channel["hessian_1 (sigma=3)"],
                          hessian_eigenvalues(image, 3.0, voxel_size=_px(image))[1])
    assert np.array_equal(channel["structure_tensor_0 (sigma=1)"],
                          structure_tensor_eigenvalues(image, 1.0, voxel_size=_px(image))[0])
    assert np.array_equal(channel["gradient (sigma=1)"],
                          gradient_magnitude(image, 1.0, voxel_size=_px(image)))
    # LoG = trace of the Hessian = sum of its eigenvalues
    assert close(channel["log (sigma=3)"],
                 hessian_eigenvalues(image, 3.0, voxel_size=_px(image)).sum(0), rel=1e-5)


def test_filter_bank_subsets_and_3d():
    image = (smooth_noise((6, 12, 10), seed=8) * 10 + 128).clip(0, 255).astype(np.uint8)
    stack = filter_bank(image, sigmas=(1.0,), features=("hessian", "gradient", "hessian"),
                        voxel_size=_px(image))
    assert stack.names == ("hessian_0 (sigma=1)", "hessian_1 (sigma=1)",
                           "hessian_2 (sigma=1)", "gradient (sigma=1)")
    log = filter_bank(image, sigmas=2.0, features="log", voxel_size=_px(image))
    assert log.data.shape == (1, 6, 12, 10)
    full = filter_bank(image, voxel_size=_px(image))
    assert full.data.shape == (3 * (3 + 2 * 3), 6, 12, 10)
    assert np.isfinite(full.data).all()
    assert set(FEATURES) == {name.split(" ")[0].split("_")[0] if not name.startswith(
        "structure") else "structure_tensor" for name in full.names}


@pytest.mark.parametrize("image, kwargs, error, words", [
    (np.zeros((8, 8), complex), {}, TypeError, "real-valued"),
    (np.array([["a", "b"], ["c", "d"]]), {}, TypeError, "numeric"),
    ([[0.0, 1.0], [1.0, 0.0]], {}, TypeError, "numpy array"),
    (np.zeros((2, 3, 8, 8)), {}, ValueError, "dimensions"),
    (np.zeros(8), {}, ValueError, "dimensions"),
    (np.full((8, 8), np.nan), {}, ValueError, "nan"),
    (np.zeros((8, 8)), {"voxel_size": (4, 4, 4)}, ValueError, "one entry per axis"),
    (np.zeros((8, 8)), {"voxel_size": (0, 4)}, ValueError, "positive"),
    (np.zeros((8, 8)), {"sigmas": (1.0, 0.0)}, ValueError, "positive finite"),
    (np.zeros((8, 8)), {"sigmas": (-1.0,)}, ValueError, "positive finite"),
    (np.zeros((8, 8)), {"sigmas": (np.nan,)}, ValueError, "positive finite"),
    (np.zeros((8, 8)), {"sigmas": ("big",)}, ValueError, "positive finite"),
    (np.zeros((8, 8)), {"sigmas": ()}, ValueError, "at least one"),
    (np.zeros((8, 8)), {"sigmas": (0.1,)}, ValueError, "below 0.5 voxel"),
    (np.zeros((8, 8)), {"features": ("gaussian", "sobel")}, ValueError, "subset of"),
    (np.zeros((8, 8)), {"features": ()}, ValueError, "subset of"),
])
def test_bad_inputs_raise_clear_errors(image, kwargs, error, words):
    kwargs = {"voxel_size": (1.0, 1.0), **kwargs}
    with pytest.raises(error, match=words):
        filter_bank(image, **kwargs)


def test_single_feature_functions_check_their_inputs():
    with pytest.raises(ValueError, match="positive finite"):
        hessian_eigenvalues(np.zeros((8, 8)), 0, voxel_size=(1, 1))
    with pytest.raises(ValueError, match="rho must be positive"):
        structure_tensor_eigenvalues(np.zeros((8, 8)), 1.0, rho=-2, voxel_size=(1, 1))
    with pytest.raises(ValueError, match="one entry per axis"):
        gradient_magnitude(np.zeros((4, 8, 8)), 1.0, voxel_size=(4, 4))
    with pytest.raises(TypeError, match="real-valued"):
        hessian_eigenvalues(np.zeros((8, 8), complex), 1.0, voxel_size=(1, 1))
