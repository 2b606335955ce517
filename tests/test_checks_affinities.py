import re

import numpy as np

from mbl_seg.checks import check_affinities


def _student(labels, offsets, *, flip=False, background=False, roll=False, invert=False,
             channels_last=False):
    out = []
    for offset in offsets:
        offset = tuple(-o for o in offset) if flip else offset
        if roll:
            partner = np.roll(labels, [-o for o in offset], axis=(0, 1))
            valid = np.ones(labels.shape, bool)
        else:
            partner = np.zeros_like(labels)
            valid = np.zeros(labels.shape, bool)
            ys, xs = np.indices(labels.shape)
            py, px = ys + offset[0], xs + offset[1]
            inside = (py >= 0) & (py < labels.shape[0]) & (px >= 0) & (px < labels.shape[1])
            partner[inside] = labels[py[inside], px[inside]]
            valid = inside
        same = (labels == partner) & valid
        if not background:
            same &= labels != 0
        out.append(same.astype(np.float32))
    affs = np.stack(out)
    affs = 1 - affs if invert else affs
    return np.moveaxis(affs, 0, -1) if channels_last else affs


def test_right_answer_passes():
    assert check_affinities(_student, verbose=False)


def test_each_mistake_gets_its_hint():
    cases = {"shifted along": dict(flip=True), "not .the same object.": dict(background=True),
             "wraps around": dict(roll=True), "returned boundaries": dict(invert=True),
             "channel first": dict(channels_last=True)}
    for hint, kwargs in cases.items():
        result = check_affinities(lambda l, o, kw=kwargs: _student(l, o, **kw), verbose=False)
        assert not result.passed and re.search(hint, result.message), (hint, result.message)


def test_shift_hint_names_the_axis():
    result = check_affinities(lambda l, o: _student(l, o, flip=True), verbose=False)
    assert "shifted along y" in result.message


def test_unfinished():
    def todo(labels, offsets):
        raise NotImplementedError

    assert "not implemented" in check_affinities(todo, verbose=False).message
    assert "return" in check_affinities(lambda l, o: None, verbose=False).message
