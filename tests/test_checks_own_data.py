"""Self-check of notebook 09: each right answer passes, each typical mistake gets its hint."""

import numpy as np
import pytest
from scipy import ndimage

from mbl_seg.checks import check_to_network_grid
from mbl_seg.own_data import to_network_grid


def _zoom(order=1, invert=False, reverse=False, first_only=False, cast=True, grid_mode=False):
    def fn(raw, voxel_size, network_voxel_size):
        f = [a / b for a, b in zip(voxel_size, network_voxel_size)]
        if invert:
            f = [1 / x for x in f]
        if reverse:
            f = f[::-1]
        if first_only:
            f = [f[0]] * 3
        out = ndimage.zoom(raw.astype(np.float32), f, order=order, grid_mode=grid_mode,
                           mode="nearest")
        return np.clip(np.rint(out), 0, 255).astype(np.uint8) if cast else out
    return fn


@pytest.mark.parametrize("fn", [to_network_grid, _zoom(1), _zoom(3), _zoom(1, grid_mode=True),
                                _zoom(3, grid_mode=True)])
def test_linear_or_cubic_resampling_passes(fn):
    assert check_to_network_grid(fn, verbose=False).passed


@pytest.mark.parametrize("fn, words", [
    (_zoom(invert=True), "upside down"),
    (_zoom(reverse=True), "(z, y, x)"),
    (_zoom(first_only=True), "each axis has its own factor"),
    (_zoom(order=0), "nearest-neighbour"),
    (_zoom(cast=False), "round, clip to 0-255 and cast back"),
    (lambda raw, v, n: raw, "nothing was resampled"),
    (lambda raw, v, n: None, "`return`"),
    (lambda raw, v, n: to_network_grid(255 - raw, v, n), "differ from a resampling"),
])
def test_typical_mistakes_get_their_hint(fn, words):
    result = check_to_network_grid(fn, verbose=False)
    assert not result.passed and words in result.message, result.message


def test_unfinished_exercise():
    def todo(*args):
        raise NotImplementedError
    assert "not implemented yet" in check_to_network_grid(todo, verbose=False).message
