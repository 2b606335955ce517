"""Regions in nm to voxel slices: the grid, clipping, and clear errors."""

import daisy
import numpy as np
import pytest

from mbl_seg.roi import Region, to_slices


@pytest.mark.parametrize("seed", range(20))
def test_slices_cover_the_voxels_whose_corner_lies_in_the_region(seed):
    rng = np.random.default_rng(seed)
    voxel_size = tuple(int(v) for v in rng.choice([4, 8, 40], 3))
    shape = tuple(int(n) for n in rng.integers(1, 30, 3))
    begin = tuple(int(b) * v for b, v in zip(rng.integers(-10, 30, 3), voxel_size))
    size = tuple(int(s) * v for s, v in zip(rng.integers(0, 20, 3), voxel_size))
    roi = daisy.Roi(begin, size)
    slices = to_slices(roi, voxel_size, shape)
    for axis, s in enumerate(slices):  # brute force: voxel i lies at i * v nm
        inside = [i for i in range(shape[axis])
                  if begin[axis] <= i * voxel_size[axis] < begin[axis] + size[axis]]
        assert list(range(s.start, s.stop)) == inside


def test_without_a_shape_nothing_is_clipped():
    assert to_slices(Region((-80, 0), (160, 16)), (40, 8)) == (slice(-2, 4), slice(0, 2))


@pytest.mark.parametrize("roi,voxel_size,shape,error,words", [
    (Region((4, 0, 0), (20, 8, 8)), (8, 8, 8), None, ValueError, "voxel grid"),
    (Region((0, 0, 0), (8, 8, 8)), None, None, (TypeError, ValueError), "voxel_size"),
    (Region((0, 0, 0), (8, 8, 8)), (8, 8, 8), (4, 4), ValueError, "one size per axis"),
    (Region((8, 0, 0), (0, 8, 8)), (8, 8, 8), None, ValueError, "ends before it begins"),
    ((slice(0, 4),), (8,), None, TypeError, "daisy.Roi"),
])
def test_bad_input_gets_a_clear_error(roi, voxel_size, shape, error, words):
    with pytest.raises(error, match=words):
        to_slices(roi, voxel_size, shape)
