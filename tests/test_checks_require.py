"""Tests for mbl_seg.checks.require: exercises with consequences."""

import numpy as np
import pytest

from mbl_seg.checks import ExerciseNotDone, check_affinities, check_center_crop, require
from mbl_seg.targets import affinities


def _unfinished(x, shape):
    raise NotImplementedError


def _wrong_crop(x, shape):
    return x[..., :shape[0], :shape[1]]  # the top-left corner, not the centre


def _right_crop(x, shape):
    starts = [(s - t) // 2 for s, t in zip(x.shape[2:], shape)]
    return x[(slice(None), slice(None), *(slice(a, a + t) for a, t in zip(starts, shape)))]


def test_require_returns_a_passing_function_and_prints_nothing(capsys):
    assert require(check_center_crop, _right_crop, used_for="the cell below crops") is _right_crop
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("fn, said", [(_unfinished, "not implemented yet"),
                                      (_wrong_crop, "")])
def test_require_stops_on_an_unfinished_or_wrong_exercise(fn, said):
    with pytest.raises(ExerciseNotDone, match="`_.*` is not done yet") as info:
        require(check_center_crop, fn, used_for="the training below uses it")
    assert said in str(info.value) and "the training below uses it" in str(info.value)
    assert "solutions/" in str(info.value)


def test_require_shows_a_message_not_a_traceback_in_ipython():
    with pytest.raises(ExerciseNotDone) as info:
        require(check_center_crop, _unfinished, used_for="x")
    (line,) = info.value._render_traceback_()
    assert "ExerciseNotDone" in line and "not done yet" in line


def test_require_with_the_library_answer_passes():
    def my_affinities(labels, offsets):
        return affinities(labels, offsets)
    assert require(check_affinities, my_affinities, used_for="targets") is my_affinities


def test_require_refuses_arguments_in_the_wrong_order():
    with pytest.raises(TypeError, match="self-check and your function"):
        require(_right_crop, np.zeros(3), used_for="x")
