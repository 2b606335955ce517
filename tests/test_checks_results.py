import math

import pytest

from mbl_seg.checks import expect_between, expect_less


def test_expect_between_passes_inside_and_fails_outside_without_hiding_the_value():
    assert expect_between(1.0, 0.5, 1.5, "x", verbose=False)
    assert expect_between(0.5, 0.5, 1.5, "x", verbose=False)
    result = expect_between(2.0, 0.5, 1.5, "x", verbose=False)
    assert not result and "2" in result.message
    assert not expect_between(math.nan, 0, 1, "x", verbose=False)
    with pytest.raises(ValueError):
        expect_between(1, 2, 1, "x")
    with pytest.raises(TypeError):
        expect_between("a lot", 0, 1, "x")


def test_expect_less():
    assert expect_less(1, 2, "a < b", verbose=False)
    assert not expect_less(2, 2, "a < b", verbose=False)
