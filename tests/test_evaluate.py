import numpy as np
import pytest
from numpy.testing import assert_allclose
from skimage.metrics import adapted_rand_error, variation_of_information

from mbl_seg.evaluate import (
    arand,
    arand_from_table,
    contingency_table,
    cremi_score,
    evaluate,
    voi,
    voi_from_table,
)


def blocky(rng, shape, n, cell=4):
    """Random piecewise-constant labels (as coherent as real segmentations)."""
    coarse = rng.integers(0, n, [-(-s // cell) for s in shape])
    out = coarse
    for axis in range(len(shape)):
        out = np.repeat(out, cell, axis=axis)
    return out[tuple(slice(0, s) for s in shape)].astype(np.uint64)


@pytest.mark.parametrize("seed", range(24))
def test_equals_scikit_image(seed):
    rng = np.random.default_rng(seed)
    shape = [(9, 13, 11), (17, 23), (5, 8, 40)][seed % 3]
    gt = blocky(rng, shape, int(rng.integers(2, 9)), cell=int(rng.integers(1, 4)))
    seg = blocky(rng, shape, int(rng.integers(1, 9)), cell=int(rng.integers(1, 4)))
    if not gt.any():
        gt[0] = 1
    split, merge = variation_of_information(gt, seg, ignore_labels=[0])
    expected = adapted_rand_error(gt, seg, ignore_labels=(0,))[0]
    if seed % 4 == 0:  # huge ids must not matter (scikit-image can't take them)
        seg = seg + np.uint64(2**40)
    result = voi(gt, seg)
    assert_allclose([result.split, result.merge], [split, merge], atol=1e-6)
    assert arand(gt, seg) == pytest.approx(expected, abs=1e-6)


def test_identical_segmentations_score_zero():
    rng = np.random.default_rng(0)
    gt = blocky(rng, (8, 16, 16), 6)
    gt[gt == 0] = 1
    assert voi(gt, gt) == (0.0, 0.0)
    assert arand(gt, gt) == 0.0 and cremi_score(gt, gt) == 0.0


def test_relabelling_does_not_change_scores():
    rng = np.random.default_rng(1)
    gt, seg = blocky(rng, (6, 20, 20), 5), blocky(rng, (6, 20, 20), 7, cell=3)
    perm = rng.permutation(100)[:8].astype(np.uint64) + 1  # 7 ids -> new distinct ids
    assert evaluate(gt, perm[seg]) == pytest.approx(evaluate(gt, seg))


def test_split_raises_split_only_and_merge_raises_merge_only():
    gt = np.zeros((4, 8), np.uint64)
    gt[:, :4], gt[:, 4:] = 1, 2
    split = gt.copy()
    split[:2, :4] = 3  # cut object 1 in two
    merged = np.ones_like(gt)  # join 1 and 2
    assert voi(gt, split).split > 0 and voi(gt, split).merge == 0
    assert voi(gt, merged).merge > 0 and voi(gt, merged).split == 0
    assert arand(gt, split) > 0 and arand(gt, merged) > 0


def test_background_in_gt_is_ignored():
    gt = np.array([[1, 1, 0, 0, 2, 2]], np.uint64)
    seg = np.array([[1, 1, 7, 8, 2, 2]], np.uint64)
    assert voi(gt, seg) == (0.0, 0.0) and arand(gt, seg) == 0.0


def test_table_dense_and_from_table():
    gt = np.array([[1, 1, 2, 2, 2]])
    seg = np.array([[4, 5, 5, 5, 5]])
    table = contingency_table(gt, seg)
    np.testing.assert_array_equal(table.dense(), [[1, 1], [0, 3]])
    assert voi_from_table(table) == pytest.approx(voi_from_table(table.dense()))
    assert arand_from_table(table) == pytest.approx(arand_from_table(table.dense()))


def test_large_volume_is_counted_exactly():
    rng = np.random.default_rng(2)
    gt = blocky(rng, (32, 128, 128), 50, cell=8)
    seg = blocky(rng, (32, 128, 128), 50, cell=6)
    table = contingency_table(gt, seg)
    assert table.counts.sum() == np.count_nonzero(gt)
    # brute-force count of one pair
    g, s = table.gt_ids[0], table.seg_ids[0]
    assert table.counts[0] == np.count_nonzero((gt == g) & (seg == s))


@pytest.mark.parametrize(
    "gt, seg, error, match",
    [
        (np.ones((4, 4)), np.ones((4, 4), int), TypeError, "integer label image"),
        (np.ones((4, 4), int), np.ones((4, 5), int), ValueError, "same shape"),
        (-np.ones((4, 4), int), np.ones((4, 4), int), ValueError, "non-negative"),
        (np.zeros((4, 4), int), np.ones((4, 4), int), ValueError, "all background"),
        (np.ones(4, int), np.ones(4, int), ValueError, "dimensions"),
        ([[1, 2]], [[1, 2]], TypeError, "numpy array"),
    ],
)
def test_bad_input(gt, seg, error, match):
    with pytest.raises(error, match=match):
        voi(gt, seg)


def test_bad_tables():
    with pytest.raises(ValueError, match="2D"):
        voi_from_table(np.ones(3))
    with pytest.raises(ValueError, match="negative"):
        arand_from_table(-np.ones((2, 2)))
