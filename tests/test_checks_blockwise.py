"""The notebook-08 self-checks: right answers pass, typical mistakes get their own hint."""

import math

import pytest

from mbl_seg.checks import check_overhead, check_read_region


def student_read(write, context, shape):
    return tuple(slice(max(0, w.start - c), min(n, w.stop + c))
                 for w, c, n in zip(write, context, shape))


def unclipped(write, context, shape):
    return tuple(slice(w.start - c, w.stop + c) for w, c in zip(write, context))


def no_end_clip(write, context, shape):
    return tuple(slice(max(0, w.start - c), w.stop + c) for w, c in zip(write, context))


def one_side(write, context, shape):
    return tuple(slice(max(0, w.start - c), w.stop) for w, c in zip(write, context))


def reversed_axes(write, context, shape):
    return student_read(write, context, shape)[::-1]


def context_reversed(write, context, shape):
    return student_read(write, tuple(context)[::-1], shape)


def shape_reversed(write, context, shape):
    return student_read(write, context, tuple(shape)[::-1])


def returns_list(write, context, shape):
    return [student_read(write, context, shape)]


def unfinished(write, context, shape):
    raise NotImplementedError


def test_a_right_read_region_passes():
    result = check_read_region(student_read, verbose=False)
    assert result.passed, result.message


@pytest.mark.parametrize("fn,words", [
    (unclipped, "clip the start at 0"),
    (no_end_clip, "past the volume's end"),
    (one_side, "both sides"),
    (returns_list, "tuple of"),
    (reversed_axes, "reverse order of the axes"),
    (context_reversed, "context[k] is the context of axis k"),
    (shape_reversed, "shape[k] is the volume's size along axis k"),
])
def test_read_region_mistakes_get_their_hint(fn, words):
    result = check_read_region(fn, verbose=False)
    assert not result.passed and words in result.message, result.message


def test_unfinished_exercise_is_not_a_traceback():
    result = check_read_region(unfinished, verbose=False)
    assert not result.passed


def student_overhead(block, context):
    return math.prod(b + 2 * c for b, c in zip(block, context)) / math.prod(block)


@pytest.mark.parametrize("fn,words", [
    (lambda b, c: math.prod(x + y for x, y in zip(b, c)) / math.prod(b), "context is per side"),
    (lambda b, c: math.prod(b) / math.prod(x + 2 * y for x, y in zip(b, c)), "written per read"),
    (lambda b, c: student_overhead(b, c) - 1, "block's own voxels"),
    (lambda b, c: None, "return"),
])
def test_overhead_mistakes_get_their_hint(fn, words):
    result = check_overhead(fn, verbose=False)
    assert not result.passed and words in result.message, result.message


def test_a_right_overhead_passes():
    assert check_overhead(student_overhead, verbose=False).passed
