"""The shared input checks: numbers in every numpy form, per-axis sizes, affinities."""

import numpy as np
import pytest

from mbl_seg._validate import as_affinities, as_boundary_map, as_number, as_offset


@pytest.mark.parametrize("value, want", [
    (0.5, 0.5), (np.float32(0.5), 0.5), (np.array(0.5), 0.5), (np.array(2, np.int8), 2.0),
])
def test_as_number_takes_every_form_of_one_number(value, want):
    got = as_number(value, "threshold")
    assert got == want and type(got) is float


@pytest.mark.parametrize("value", [np.int64(100), np.array(100), 100, np.uint8(100)])
def test_as_number_gives_python_ints(value):
    got = as_number(value, "iterations", integer=True, positive=True)
    assert got == 100 and type(got) is int


@pytest.mark.parametrize("value, options, error, message", [
    ("0.5", {}, TypeError, "threshold must be a finite number, got '0.5' (str)"),
    (None, {}, TypeError, "threshold must be a finite number, got None (NoneType)"),
    ([0.5], {}, TypeError, "threshold must be a finite number, got [0.5] (list)"),
    (np.array([0.5, 0.6]), {}, TypeError,
     "threshold must be a finite number, got an array of shape (2,) (ndarray)"),
    (np.nan, {}, ValueError, "threshold must be a finite number, got nan"),
    (np.array(-np.inf), {}, ValueError, "threshold must be a finite number, got -inf"),
    (True, {}, ValueError, "threshold must be a finite number, got True"),
    (1 + 2j, {}, TypeError, "threshold must be a finite number, got (1+2j) (complex)"),
    (0.0, {"positive": True, "unit": "nm"}, ValueError,
     "threshold must be a positive number of nm, got 0.0"),
    (-1, {"nonnegative": True}, ValueError, "threshold must be a number >= 0, got -1.0"),
    (2.5, {"integer": True}, ValueError, "threshold must be an int, got 2.5"),
    (4.0, {"integer": True}, ValueError, "threshold must be an int, got 4.0"),
    (0, {"integer": True, "positive": True}, ValueError, "threshold must be an int >= 1, got 0"),
    (-1, {"integer": True, "nonnegative": True}, ValueError,
     "threshold must be an int >= 0, got -1"),
])
def test_as_number_explains_what_is_wrong(value, options, error, message):
    with pytest.raises(error) as caught:
        as_number(value, "threshold", **options)
    assert str(caught.value) == message


def test_as_number_takes_0d_tensors():
    import torch

    assert as_number(torch.tensor(4), "batch_size", integer=True, positive=True) == 4
    with pytest.raises(TypeError, match=r"got an array of shape \(2,\)"):
        as_number(torch.tensor([4, 4]), "batch_size")


def test_as_offset_takes_negative_and_zero_but_not_nan():
    assert as_offset((-8, 0, 4.5), 3) == (-8.0, 0.0, 4.5)
    assert as_offset(np.array(2), 2) == (2.0, 2.0)
    with pytest.raises(ValueError, match="offset entries must be finite nm"):
        as_offset((np.nan, 0), 2)
    with pytest.raises(TypeError, match="sequence of 3 numbers"):
        as_offset("888", 3)  # not (8, 8, 8)


def test_affinities_within_rounding_of_the_unit_range_pass():
    affs = np.array([[[-1e-6, 1 + 1e-6]]] * 2, np.float32)
    assert as_affinities(affs) is affs
    with pytest.raises(ValueError, match="has 2 channels .* but there are 3 offsets"):
        as_affinities(affs, channels=3)


def test_boundary_map_of_an_empty_image_is_fine():
    assert as_boundary_map(np.zeros((0, 4), np.uint8)).shape == (0, 4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_affinities_with_nan_or_inf_are_refused_with_their_count(bad):
    from mbl_seg._validate import as_affinities

    affs = np.full((2, 4, 4), 0.5, np.float32)
    affs[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"affs contain nan or inf \(1 of 32 values\)"):
        as_affinities(affs)
