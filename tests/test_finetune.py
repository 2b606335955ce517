"""The fine-tuning curve of notebook 09 (mbl_seg.finetune)."""

import numpy as np
import pytest

from mbl_seg import data
from mbl_seg.finetune import (CurvePoint, curve_table, pick_sections, section_curve,
                              section_labels, train_on_sections)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 30])
def test_sections_are_spread_distinct_and_within_range(count):
    picked = pick_sections(count, range(30))
    assert len(set(picked)) == count and all(0 <= p < 30 for p in picked)
    assert picked == sorted(picked) and picked[0] == 0
    if count > 1:
        assert picked[-1] == 29


def test_too_many_sections_are_refused():
    with pytest.raises(ValueError, match="1 to 30"):
        pick_sections(31, range(30))


def test_section_labels_split_each_section_into_its_own_components():
    labels = np.zeros((2, 4, 7), np.uint64)
    labels[:, :, :3] = 5
    labels[:, :, 4:] = 5  # one id, two pieces in each section, a membrane of 0 between
    out = section_labels(labels)
    assert len(np.unique(out[out > 0])) == 4 and (out[:, :, 3] == 0).all()


def test_an_unknown_start_is_refused():
    with pytest.raises(ValueError, match="fine-tuned"):
        train_on_sections(np.zeros((1, 96, 96), np.uint8), np.ones((1, 96, 96), np.uint64),
                          voxel_size=(10, 10, 10), start="warm", iterations=1, seed=0)


def test_validation_sections_must_be_held_out():
    real = data.load_dataset("fibsem/train")
    with pytest.raises(ValueError, match="must not be among"):
        section_curve(real, real, available=range(10), validation_sections=[5, 20],
                      test_sections=[0], iterations=1)


def test_a_tiny_curve_has_every_point_and_a_table():
    train, test = data.load_dataset("fibsem/train"), data.load_dataset("fibsem/test")
    points = section_curve(train, test, counts=(1, 2), available=range(10),
                           validation_sections=[40], test_sections=[0, 25], iterations=2,
                           seeds=(0,), heights=(16.0,), device="cpu", progress=False)
    assert [(p.sections, p.start) for p in points] == [
        (0, "shipped"), (1, "fine-tuned"), (1, "from scratch"), (2, "fine-tuned"),
        (2, "from scratch")]
    assert all(isinstance(p, CurvePoint) and p.h == 16.0 for p in points)
    assert all(np.isfinite(p.scores.voi_total) for p in points)
    table = curve_table(points).splitlines()
    assert len(table) == 1 + 5 and "shipped" in table[1]
