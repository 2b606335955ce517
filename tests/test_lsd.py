"""Local shape descriptors against their definition, written out as explicit sums."""

import itertools

import numpy as np
import pytest
from scipy import ndimage

from mbl_seg.lsd import TRUNCATE, lsd_channels, lsd_context, lsds
from mbl_seg.targets import lsds as lsds_from_targets


def _window(sigma_voxels):
    """The truncated, normalised 1D Gaussian of the published LSDs (scipy's gaussian_filter)."""
    r = int(TRUNCATE * sigma_voxels + 0.5)
    t = np.arange(-r, r + 1)
    w = np.exp(-0.5 * (t / sigma_voxels) ** 2)
    return r, w / w.sum()


def brute_force_lsds(labels, sigma, voxel_size, downsample=1):
    """The definition, one voxel at a time, in float64 and absolute coordinates (nm).

    For voxel v of object l, its grid point p = v // d (d = downsample) looks at
    every grid point q with |q - p| within the truncated window and label l at
    full-resolution position q * d: weights w(q - p), the weighted count, mean
    position and covariance of those positions, then the published normalisation.
    """
    nd = labels.ndim
    sigma = np.broadcast_to(np.asarray(sigma, float), (nd,))
    grid_nm = np.asarray(voxel_size, float) * downsample
    coarse = labels[(slice(None, None, downsample),) * nd]
    windows = [_window(s / g) for s, g in zip(sigma, grid_nm)]
    pairs = list(itertools.combinations(range(nd), 2))
    out = np.zeros((len(lsd_channels(nd)),) + labels.shape)
    for v in np.ndindex(labels.shape):
        label = labels[v]
        if label == 0:
            continue
        p = np.array(v) // downsample
        total, first, second = 0.0, np.zeros(nd), np.zeros((nd, nd))
        for q in np.ndindex(coarse.shape):
            d = np.array(q) - p
            if coarse[q] != label or any(abs(d[a]) > windows[a][0] for a in range(nd)):
                continue
            w = np.prod([windows[a][1][d[a] + windows[a][0]] for a in range(nd)])
            x = np.array(q) * grid_nm
            total, first, second = total + w, first + w * x, second + w * np.outer(x, x)
        if total == 0:  # the grid point sees none of the object: neutral values
            offset, cov = np.zeros(nd), np.zeros((nd, nd))
        else:
            mean = first / total
            offset, cov = mean - p * grid_nm, second / total - np.outer(mean, mean)
        var = np.maximum(np.diag(cov), 1e-3)
        pearson = [cov[a, b] / np.sqrt(var[a] * var[b]) for a, b in pairs]
        values = [*(0.5 * offset / sigma + 0.5), *(var / sigma ** 2),
                  *(0.5 * np.array(pearson) + 0.5), total]
        out[(slice(None),) + v] = np.clip(values, 0, 1)
    return out


def _blobs(rng, shape, n=4):
    labels = rng.integers(0, n, size=shape)
    return ndimage.median_filter(labels, 3).astype(np.uint64)


CASES = [  # shape, voxel size, sigma (nm), downsample
    ((6, 9, 10), (8, 8, 8), 12, 1),
    ((6, 9, 10), (20, 6, 6), (30, 10, 10), 1),  # anisotropic voxels and window
    ((7, 9, 11), (8, 8, 8), 12, 2),  # downsampled, shape not a multiple of 2
    ((5, 8, 8), (30, 8, 8), 20, 2),
    ((12, 14), (5, 4), 9, 1),
    ((13, 14), (5, 4), 9, 3),
]


@pytest.mark.parametrize("shape, voxel_size, sigma, downsample", CASES)
def test_lsds_equal_the_definition_summed_voxel_by_voxel(shape, voxel_size, sigma, downsample):
    labels = _blobs(np.random.default_rng(sum(shape)), shape)
    ours = lsds(labels, sigma=sigma, voxel_size=voxel_size, downsample=downsample)
    expected = brute_force_lsds(labels, sigma, voxel_size, downsample)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-4


def test_large_objects_are_filtered_in_tiles_with_the_same_result(monkeypatch):
    # a tile smaller than the object and the window: the tiles must add up exactly
    import mbl_seg.lsd as lsd_module

    labels = _blobs(np.random.default_rng(3), (8, 20, 20), n=3)
    whole = lsds(labels, sigma=16, voxel_size=(8, 8, 8))
    monkeypatch.setattr(lsd_module, "_TILE", 5)
    tiled = lsds(labels, sigma=16, voxel_size=(8, 8, 8))
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_a_label_with_no_background_anywhere_is_described():
    labels = np.full((4, 6, 6), 5, np.uint64)
    d = lsds(labels, sigma=10, voxel_size=(8, 8, 8))
    assert (d[9] > 0).all()  # size is never 0 inside an object
    centre = d[:, 2, 3, 3]
    assert abs(centre[0] - 0.5) < 0.1  # near the middle: little offset


def test_background_is_zero_in_every_channel_and_values_in_unit_range():
    labels = _blobs(np.random.default_rng(1), (6, 12, 12))
    d = lsds(labels, sigma=16, voxel_size=(8, 8, 8))
    assert (d[:, labels == 0] == 0).all()
    assert d.min() >= 0 and d.max() <= 1


def test_relabelling_does_not_change_the_descriptors():
    labels = _blobs(np.random.default_rng(2), (5, 10, 10))
    mapping = np.array([0, 907, 3, 2 ** 40], np.uint64)
    d1 = lsds(labels, sigma=12, voxel_size=(8, 8, 8))
    d2 = lsds(mapping[labels], sigma=12, voxel_size=(8, 8, 8))
    np.testing.assert_array_equal(d1, d2)


def test_mirroring_flips_the_offsets_and_correlations_only():
    labels = _blobs(np.random.default_rng(4), (5, 10, 12))
    d = lsds(labels, sigma=14, voxel_size=(8, 8, 8))
    m = lsds(labels[:, :, ::-1], sigma=14, voxel_size=(8, 8, 8))[..., ::-1]
    inside = labels != 0
    flipped = {2, 7, 8}  # offset x, correlations zx and yx change sign
    for c in range(10):
        expected = 1 - d[c] if c in flipped else d[c]
        np.testing.assert_allclose(m[c][inside], expected[inside], atol=1e-5, err_msg=str(c))


def test_a_slab_along_x_has_variance_along_x_only():
    labels = np.zeros((9, 9, 9), np.uint64)
    labels[4, 4, :] = 1  # a rod along x, one voxel thick
    d = lsds(labels, sigma=16, voxel_size=(8, 8, 8))
    names = lsd_channels(3)
    at = (slice(None), 4, 4, 4)
    values = dict(zip(names, d[at]))
    assert values["variance xx"] > 0.3
    assert values["variance zz"] < 1e-5 and values["variance yy"] < 1e-5
    assert values["offset x"] == pytest.approx(0.5, abs=1e-6)  # symmetric around the centre


def test_channel_names_and_context():
    assert len(lsd_channels(3)) == 10 and len(lsd_channels(2)) == 6
    assert lsd_channels(3)[6:9] == ["correlation zy", "correlation zx", "correlation yx"]
    assert lsd_context(40, (36, 12, 12)) == (3, 10, 10)
    assert lsd_context(40, (8, 8, 8), downsample=2) == (17, 17, 17)  # 8 grid points of 16 nm + 1


def test_lsds_of_a_crop_are_exact_beyond_the_context():
    labels = _blobs(np.random.default_rng(5), (10, 30, 30))
    full = lsds(labels, sigma=16, voxel_size=(8, 8, 8))
    c = lsd_context(16, (8, 8, 8))
    crop = (slice(0, 10), slice(2, 28), slice(1, 30))
    part = lsds(labels[crop], sigma=16, voxel_size=(8, 8, 8))
    # z: the crop keeps the whole axis; y: cut on both sides; x: cut at the start only
    inner = (slice(None), slice(None), slice(c[1], 26 - c[1]), slice(c[2], None))
    np.testing.assert_allclose(part[inner], full[(slice(None),) + crop][inner], atol=1e-5)


def test_targets_exports_lsds():
    assert lsds_from_targets is lsds


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(sigma=40), TypeError, "voxel_size is required"),
    (dict(sigma=None, voxel_size=(8, 8, 8)), TypeError, "sigma is required"),
    (dict(sigma=-1, voxel_size=(8, 8, 8)), ValueError, "sigma"),
    (dict(sigma=(40, 40), voxel_size=(8, 8, 8)), ValueError, "one entry per axis"),
    (dict(sigma=40, voxel_size=(8, 8, 8), downsample=1.5), ValueError, "downsample"),
    (dict(sigma=40, voxel_size=(8, 8, 8), downsample=0), ValueError, "downsample"),
])
def test_bad_arguments_are_refused_with_what_was_expected(kwargs, error, words):
    labels = np.ones((3, 4, 4), np.uint64)
    with pytest.raises(error, match=words):
        lsds(labels, **kwargs)


def test_probability_maps_are_refused():
    with pytest.raises(TypeError, match="integer label image"):
        lsds(np.ones((3, 4, 4), np.float32), sigma=40, voxel_size=(8, 8, 8))


def test_centre_offsets_are_the_first_channels_before_normalisation():
    from mbl_seg.lsd import centre_offsets

    labels = _blobs(np.random.default_rng(6), (6, 12, 12))
    sigma, vs = (20.0, 14.0, 14.0), (10, 7, 7)
    offsets = centre_offsets(labels, sigma=sigma, voxel_size=vs)
    channels = lsds(labels, sigma=sigma, voxel_size=vs)[:3]
    scale = np.asarray(sigma)[:, None, None, None]
    unclipped = (np.abs(offsets) < 0.99 * scale) & (labels != 0)
    assert unclipped.mean() > 0.5
    np.testing.assert_allclose((2 * channels - 1)[unclipped] * np.broadcast_to(scale, offsets.shape)[unclipped],
                               offsets[unclipped], atol=2e-3)
    assert (offsets[:, labels == 0] == 0).all()


def test_ids_beyond_float_precision_keep_their_descriptors():
    # found in review: ids >= 2**53 were compared as float64 and lost every descriptor
    labels = _blobs(np.random.default_rng(8), (5, 10, 10))
    big = np.array([0, 2 ** 53 + 1, 2 ** 63 + 7, 2 ** 64 - 1], np.uint64)[labels]
    np.testing.assert_array_equal(lsds(big, sigma=12, voxel_size=(8, 8, 8)),
                                  lsds(labels, sigma=12, voxel_size=(8, 8, 8)))
