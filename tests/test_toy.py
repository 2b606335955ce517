import numpy as np
import pytest

from mbl_seg.data import toy
from mbl_seg.evaluate import voi


@pytest.fixture
def gt():
    labels = np.zeros((20, 30), np.uint64)
    labels[:, :10], labels[:, 10:25], labels[:, 25:] = 1, 2, 3
    return labels


def test_split_is_pure_split(gt):
    seg = toy.split_object(gt, 2)
    assert len(np.unique(seg)) == 4
    assert voi(gt, seg).split > 0 and voi(gt, seg).merge == 0
    assert np.array_equal(gt, toy.merge_objects(seg, 2, seg.max()))


def test_merge_is_pure_merge(gt):
    seg = toy.merge_objects(gt, *toy.touching_pairs(gt)[0])
    assert voi(gt, seg).merge > 0 and voi(gt, seg).split == 0


def test_helpers(gt):
    assert list(toy.largest_objects(gt, 2)) == [2, 1]
    assert toy.touching_pairs(gt) == [(1, 2), (2, 3)]
    with pytest.raises(ValueError, match="not in the image"):
        toy.split_object(gt, 9)
