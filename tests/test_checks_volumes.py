"""Self-checks of notebook 05: each right answer passes, each typical mistake gets its hint."""

import pytest

from mbl_seg.checks import check_missing_sections, check_output_shape_3d
from mbl_seg.checks.volumes import _shape_by_rule
from mbl_seg.models import UNet


def _library(shape, downsample, kernel_size):
    return UNet(dims=3, depth=len(kernel_size), downsample=downsample, kernel_size=kernel_size,
                base_features=1).output_shape(shape)


def _by_rule(**mistake):
    def fn(shape, downsample, kernel_size):
        got = _shape_by_rule(shape, downsample, kernel_size, **mistake)
        if got is None:
            raise ValueError("does not fit")
        return got
    return fn


def test_the_rule_is_the_unets_arithmetic():
    assert check_output_shape_3d(_by_rule(), verbose=False).passed
    assert check_output_shape_3d(_library, verbose=False).passed


@pytest.mark.parametrize("mistake, words", [
    (dict(bottom=False), "bottom level"), (dict(up=False), "on the way up"),
    (dict(same_kernel=True), "kernel[axis]"),
])
def test_output_shape_mistakes_get_their_hint(mistake, words):
    result = check_output_shape_3d(_by_rule(**mistake), verbose=False)
    assert not result.passed and words in result.message


def test_output_shape_in_reverse_axis_order_and_factors_per_level_get_their_hint():
    result = check_output_shape_3d(lambda *a: tuple(reversed(_library(*a))), verbose=False)
    assert not result.passed and "reverse order of the axes" in result.message, result.message

    def one_factor_per_level(shape, downsample, kernel_size):  # as if len(downsample) == depth
        return tuple(downsample[level][0] for level in range(len(kernel_size)))
    result = check_output_shape_3d(one_factor_per_level, verbose=False)
    assert not result.passed and "one fewer" in result.message, result.message


def test_output_shape_unfitting_inputs_must_raise():
    def never_raises(shape, downsample, kernel_size):
        try:
            return _library(shape, downsample, kernel_size)
        except ValueError:
            return (0, 0, 0)
    result = check_output_shape_3d(never_raises, verbose=False)
    assert not result.passed and "raise a ValueError" in result.message


def test_output_shape_unfinished_and_wrong_type():
    def todo(*args):
        raise NotImplementedError
    assert "not implemented" in check_output_shape_3d(todo, verbose=False).message
    assert "tuple of 3 ints" in check_output_shape_3d(lambda *a: 5, verbose=False).message


def _right(raw, labels, rng, probability):
    raw = raw.copy()
    raw[rng.random(raw.shape[0]) < probability] = 0
    return raw, labels.copy()


def test_missing_sections_right_answers_pass():
    assert check_missing_sections(_right, verbose=False).passed

    def per_section_draws(raw, labels, rng, probability):  # the same numbers, one at a time
        raw = raw.copy()
        for z in range(raw.shape[0]):
            if rng.random() < probability:
                raw[z] = 0
        return raw, labels
    assert check_missing_sections(per_section_draws, verbose=False).passed


def test_missing_sections_mistakes_get_their_hint():
    def labels_too(raw, labels, rng, probability):
        drop = rng.random(raw.shape[0]) < probability
        raw, labels = raw.copy(), labels.copy()
        raw[drop], labels[drop] = 0, 0
        return raw, labels

    def in_place(raw, labels, rng, probability):
        raw[rng.random(raw.shape[0]) < probability] = 0
        return raw, labels

    def other_draw(raw, labels, rng, probability):
        raw = raw.copy()
        raw[rng.random(raw.shape[0]) > 1 - probability] = 0
        return raw, labels

    def mean_value(raw, labels, rng, probability):
        raw = raw.copy()
        raw[rng.random(raw.shape[0]) < probability] = 128
        return raw, labels

    for fn, words in [(labels_too, "blanked the labels"), (in_place, "changed the arrays"),
                      (other_draw, "draw once"), (mean_value, "not another constant")]:
        result = check_missing_sections(fn, verbose=False)
        assert not result.passed and words in result.message, (fn.__name__, result.message)


def _scan(shape, block, context, *, crop=True, shift_read=False, order="C", shift_last=False):
    import itertools
    starts = [range(0, s, b) for s, b in zip(shape, block)]
    if shift_last:  # the last block moved back to keep its full size
        starts = [[min(a, max(s - b, 0)) for a in r] for r, s, b in zip(starts, shape, block)]
    combos = list(itertools.product(*starts))
    if order == "F":
        combos = sorted(combos, key=lambda t: t[::-1])
    out = []
    for start in combos:
        write = tuple(slice(a, min(a + b, s) if crop else a + b)
                      for a, b, s in zip(start, block, shape))
        read = tuple(slice(w.start - (c // 2 if shift_read else 0),
                           w.stop + c - (c // 2 if shift_read else 0))
                     for w, c in zip(write, context))
        out.append((read, write))
    return out


def test_scan_blocks_right_and_wrong():
    from mbl_seg.checks import check_scan_blocks
    assert check_scan_blocks(_scan, verbose=False).passed
    for kw, words in [(dict(crop=False), "writes past the end"),
                      (dict(shift_read=True), "don't subtract it"),
                      (dict(order="F"), "C order"),
                      (dict(shift_last=True), "not shifted back")]:
        result = check_scan_blocks(lambda *a, kw=kw: _scan(*a, **kw), verbose=False)
        assert not result.passed and words in result.message, (kw, result.message)
    assert "None" in check_scan_blocks(lambda *a: None, verbose=False).message
