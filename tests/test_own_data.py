"""Checks and grids for a volume of one's own (mbl_seg.own_data)."""

import numpy as np
import pytest

from mbl_seg import own_data
from mbl_seg.own_data import (check_volume, grey_values, grid_factors, to_network_grid,
                              to_uint8, to_volume_grid)

RNG = np.random.default_rng(0)
RAW = RNG.integers(20, 236, (8, 32, 32), dtype=np.uint8)


def test_factors_are_ours_over_the_networks():
    assert grid_factors((40, 4, 4), (8, 8, 8)) == (5.0, 0.5, 0.5)


@pytest.mark.parametrize("voxel_size, shape", [((10, 10, 10), (10, 40, 40)),
                                               ((8, 4, 4), (8, 16, 16)),
                                               ((8, 8, 8), (8, 32, 32))])
def test_resampled_shape_and_dtype(voxel_size, shape):
    out = to_network_grid(RAW, voxel_size, (8, 8, 8))
    assert out.shape == shape and out.dtype == np.uint8


def test_resampling_keeps_a_constant_and_a_ramp():
    assert np.all(to_network_grid(np.full((4, 10, 10), 77, np.uint8), (10,) * 3, (8,) * 3) == 77)
    ramp = np.broadcast_to(np.arange(0, 200, 10, dtype=np.uint8), (4, 20, 20))
    out = to_network_grid(ramp, (8, 8, 16), (8, 8, 8))  # x doubled: the steps halve
    inner = np.diff(out[0, 0, 2:-2].astype(int))
    assert set(inner) <= {4, 5, 6}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_back_to_the_volume_undoes_an_integer_upsampling(k):
    labels = RNG.integers(0, 50, (3, 7, 5)).astype(np.uint64)
    up = labels.repeat(k, 0).repeat(k, 1).repeat(k, 2)
    assert np.array_equal(to_volume_grid(up, labels.shape), labels)


def test_back_to_the_volume_never_blends_ids():
    seg = RNG.integers(1, 1000, (5, 13, 11)).astype(np.uint64)
    back = to_volume_grid(seg, (4, 10, 9))
    assert back.shape == (4, 10, 9) and set(np.unique(back)) <= set(np.unique(seg))
    with pytest.raises(ValueError, match="same number of axes"):
        to_volume_grid(seg, (10, 9))


def test_a_ready_volume_passes_with_what_was_checked():
    line = check_volume(RAW, (8, 8, 8), network_voxel_size=(8, 8, 8))
    assert line.startswith("ready: (8, 32, 32) voxels of (8, 8, 8) nm")
    assert check_volume(RAW, (9, 9, 9), network_voxel_size=(8, 8, 8))  # within 15 %


def test_a_voxel_size_mismatch_says_how_to_resample():
    with pytest.raises(ValueError, match=r"1.25x in z.*to_network_grid\(raw, \(10, 10, 10\), "
                                         r"\(8, 8, 8\)\) gives \(10, 40, 40\)"):
        check_volume(RAW, (10, 10, 10), network_voxel_size=(8, 8, 8))
    ok = to_network_grid(RAW, (10, 10, 10), (8, 8, 8))
    assert check_volume(ok, (8, 8, 8), network_voxel_size=(8, 8, 8))


def test_sections_much_thicker_than_their_pixels_are_refused_for_a_3d_network():
    with pytest.raises(ValueError, match="as thick as their pixels.*2D network"):
        check_volume(RAW, (40, 4, 4), network_voxel_size=(8, 8, 8))
    # the same anisotropy as the network's own is fine
    assert check_volume(RAW, (36, 12, 12), network_voxel_size=(36, 12, 12))


@pytest.mark.parametrize("raw, match", [
    (RAW[0], r"\(z, y, x\), got shape \(32, 32\)"),
    (np.zeros((2, 8, 8, 3), np.uint8), "colour images"),
    (RAW.astype(np.uint16) * 200, "uint16: convert it with to_uint8"),
    (RAW.astype(np.float32), r"normalised to \[0, 1\], got values 20 to 235"),
])
def test_bad_grey_values_or_shapes_say_what_came(raw, match):
    with pytest.raises(ValueError, match=match):
        check_volume(raw, (8, 8, 8), network_voxel_size=(8, 8, 8))


def test_too_little_contrast_is_refused_against_the_training_data():
    flat = (RAW // 8 + 100).astype(np.uint8)  # a span of about 27 grey values
    train = grey_values(RAW)
    with pytest.raises(ValueError, match="too little contrast.*to_uint8"):
        check_volume(flat, (8, 8, 8), network_voxel_size=(8, 8, 8), network_grey_values=train)
    assert check_volume(to_uint8(flat), (8, 8, 8), network_voxel_size=(8, 8, 8),
                        network_grey_values=train)


def test_float_raw_is_read_on_the_0_255_scale():
    assert grey_values(RAW.astype(np.float32) / 255).median == pytest.approx(
        grey_values(RAW).median, abs=0.5)


def test_to_uint8_stretches_uint16_and_refuses_a_flat_volume():
    out = to_uint8(RNG.integers(1000, 5000, (4, 8, 8)).astype(np.uint16))
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    with pytest.raises(ValueError, match="one grey value"):
        to_uint8(np.full((2, 4, 4), 7, np.uint16))


def test_tolerance_must_be_a_fraction():
    with pytest.raises(ValueError, match="tolerance"):
        check_volume(RAW, (8, 8, 8), network_voxel_size=(8, 8, 8), tolerance=15)


def test_module_constants_are_what_the_docs_say():
    assert own_data.TOLERANCE == 0.15 and own_data.MAX_ANISOTROPY == 2.0


def test_a_volume_about_to_be_resampled_is_checked_for_everything_else():
    assert check_volume(RAW, (10, 10, 10), network_voxel_size=(8, 8, 8), resample=True)
    with pytest.raises(ValueError, match="as thick as their pixels"):
        check_volume(RAW, (40, 4, 4), network_voxel_size=(8, 8, 8), resample=True)
    with pytest.raises(ValueError, match="uint16"):
        check_volume(RAW.astype(np.uint16), (10, 10, 10), network_voxel_size=(8, 8, 8),
                     resample=True)
