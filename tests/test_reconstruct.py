"""Reconstruction by dilation (mbl_seg._reconstruct) against scikit-image's, bit for bit."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import reconstruction

from mbl_seg._reconstruct import reconstruct


def _cases():
    rng = np.random.default_rng(0)
    for k in range(40):
        shape = [(1, 1), (7, 1), (1, 9), (13, 17), (5, 6, 7), (1, 12, 12), (9, 1, 11),
                 (6, 20, 18)][k % 8]
        kind = k % 4
        if kind == 0:  # a smooth landscape: the h-dome of a distance map
            mask = ndimage.gaussian_filter(rng.random(shape), 1.5) * 10
            seed = mask - rng.uniform(0.1, 2)
        elif kind == 1:  # integers: ties everywhere
            mask = rng.integers(0, 4, shape).astype(float)
            seed = mask - 1
        elif kind == 2:  # a few markers, -inf elsewhere is not needed: the minimum
            mask = rng.random(shape)
            seed = np.where(rng.random(shape) < 0.05, mask, mask.min())
        else:  # any seed below the mask
            mask = rng.normal(size=shape)
            seed = mask - rng.exponential(size=shape)
        yield seed, mask


@pytest.mark.parametrize("seed, mask", list(_cases()))
def test_equals_scikit_image(seed, mask):
    np.testing.assert_array_equal(reconstruct(seed, mask),
                                  reconstruction(seed, mask, method="dilation"))


def test_a_long_winding_path_needs_the_queue():
    """A spiral corridor: the scans alone cannot carry the seed's value to its end."""
    mask = np.zeros((31, 31))
    mask[1::2, 1:-1] = 5.0  # rows joined alternately at the right and at the left
    mask[2::4, -2] = 5.0
    mask[4::4, 1] = 5.0
    seed = np.zeros_like(mask)
    seed[1, 1] = 5.0
    out = reconstruct(seed, mask)
    np.testing.assert_array_equal(out, reconstruction(seed, mask, method="dilation"))
    assert out[29, 1:-1].min() == 5.0  # the far end of the corridor


def test_what_it_refuses():
    with pytest.raises(ValueError, match="one shape"):
        reconstruct(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2D or 3D"):
        reconstruct(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="must not exceed mask"):
        reconstruct(np.ones((3, 3)), np.zeros((3, 3)))
