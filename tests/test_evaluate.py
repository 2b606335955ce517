import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from skimage.metrics import adapted_rand_error, variation_of_information

from mbl_seg.evaluate import (
    VOI,
    Scores,
    Table,
    arand,
    arand_from_table,
    contingency_table,
    cremi_score,
    evaluate,
    voi,
    voi_from_table,
)


def blocky(rng, shape, n, cell=4):
    """Random piecewise-constant labels in 0..n-1 (as coherent as real segmentations)."""
    coarse = rng.integers(0, n, [-(-s // cell) for s in shape])
    out = coarse
    for axis in range(len(shape)):
        out = np.repeat(out, cell, axis=axis)
    return out[tuple(slice(0, s) for s in shape)].astype(np.uint64)


def two_objects():
    """gt with objects 1 (left half) and 2 (right half) and a background column."""
    gt = np.zeros((4, 9), np.uint64)
    gt[:, :4], gt[:, 4:8] = 1, 2
    return gt


# --- agreement with scikit-image and brute force --------------------------------------------


@pytest.mark.parametrize("seed", range(24))
def test_equals_scikit_image(seed):
    rng = np.random.default_rng(seed)
    shape = [(9, 13, 11), (17, 23), (5, 8, 40)][seed % 3]
    cell = [1, 2, 3, 4][seed % 4]  # cell 1: every voxel random, runs of length 1
    gt = blocky(rng, shape, int(rng.integers(2, 9)), cell=cell)
    seg = blocky(rng, shape, int(rng.integers(2, 9)), cell=int(rng.integers(1, 4)))
    gt.flat[0], seg.flat[1] = 1, 0  # gt never all background; seg 0 is a segment
    split, merge = variation_of_information(gt, seg, ignore_labels=[0])  # bits
    expected = adapted_rand_error(gt, seg, ignore_labels=(0,))[0]
    if seed % 2:  # huge ids must not matter (scikit-image would need a 2**40-row table)
        gt = np.where(gt > 0, gt + np.uint64(2**40), 0).astype(np.uint64)
        seg = seg * np.uint64(2**40 + 7)
    result = voi(gt, seg)
    assert_allclose([result.split, result.merge], [split, merge], atol=1e-6)
    assert arand(gt, seg) == pytest.approx(expected, abs=1e-6)
    scores = evaluate(gt, seg)
    assert scores.voi_total == pytest.approx(split + merge, abs=1e-6)
    assert scores.cremi_score == pytest.approx(np.sqrt((split + merge) * expected), abs=1e-6)


def test_scikit_image_returns_bits_split_first():
    gt = np.array([[1, 1, 2, 2]])
    assert_allclose(variation_of_information(gt, np.array([[1, 2, 3, 4]])), [1.0, 0.0])
    assert voi(gt, np.array([[1, 2, 3, 4]])) == VOI(1.0, 0.0)


def test_table_matches_brute_force_loop():
    rng = np.random.default_rng(2)
    gt = blocky(rng, (6, 20, 24), 6, cell=3)
    seg = blocky(rng, (6, 20, 24), 5, cell=2)
    table = contingency_table(gt, seg)
    for g, s, count in zip(*table):
        assert g != 0 and count == np.count_nonzero((gt == g) & (seg == s))
    assert table.counts.sum() == np.count_nonzero(gt)
    assert len(set(zip(table.gt_ids.tolist(), table.seg_ids.tolist()))) == len(table.counts)


def test_known_values():
    gt = two_objects()
    halves = gt.copy()
    halves[:2, :4] = 3  # object 1 cut into two equal halves
    assert voi(gt, halves).split == pytest.approx(0.5)  # half the voxels lose 1 bit
    assert voi(gt, np.where(gt > 0, 1, 0)) == VOI(0.0, 1.0)  # 1 and 2 merged, same size
    assert voi_from_table(np.array([[2, 2]])).total == 1.0


# --- properties -----------------------------------------------------------------------------


def test_identical_segmentations_score_exactly_zero():
    rng = np.random.default_rng(0)
    for shape in [(8, 16, 16), (33, 17)]:
        gt = blocky(rng, shape, 6)  # with background
        for seg in (gt, gt * np.uint64(3) + np.uint64(5)):
            scores = evaluate(gt, seg)
            assert scores == Scores(0.0, 0.0, 0.0, 0.0, 0.0)
            assert all(np.copysign(1.0, x) == 1.0 for x in scores)  # no -0.0
    assert cremi_score(gt, gt) == 0.0


def test_split_raises_split_only_and_merge_raises_merge_only():
    gt = two_objects()
    split = gt.copy()
    split[:2, :4] = 3  # cut object 1 in two
    merged = np.where(gt > 0, 1, 0)  # join 1 and 2
    assert voi(gt, split).split > 0 and voi(gt, split).merge == 0
    assert voi(gt, merged).merge > 0 and voi(gt, merged).split == 0
    assert arand(gt, split) > 0 and arand(gt, merged) > 0


def test_relabelling_does_not_change_scores():
    rng = np.random.default_rng(1)
    gt, seg = blocky(rng, (6, 20, 20), 5), blocky(rng, (6, 20, 20), 7, cell=3)
    new_seg_ids = rng.permutation(1000)[:7].astype(np.uint64)  # may include 0
    new_gt_ids = np.r_[0, rng.permutation(np.arange(1, 1000))[:4]].astype(np.uint64)
    assert evaluate(new_gt_ids[gt], new_seg_ids[seg]) == pytest.approx(evaluate(gt, seg))


def test_background_in_gt_is_ignored_and_seg_zero_is_a_segment():
    gt = np.array([[1, 1, 0, 0, 2, 2]], np.uint64)
    assert evaluate(gt, np.array([[1, 1, 7, 8, 2, 2]])) == (0.0,) * 5
    # seg 0 over both objects merges them
    assert voi(gt, np.array([[0, 0, 7, 8, 0, 0]])) == VOI(0.0, 1.0)


def test_ignore_gt():
    gt = np.array([[1, 1, 2, 2, 3, 3]])
    seg = np.array([[1, 1, 2, 2, 2, 9]])
    table = contingency_table(gt, seg, ignore_gt=(0, 3))
    assert_array_equal(table.dense(), [[2, 0], [0, 2]])
    assert contingency_table(gt, seg, ignore_gt=()).counts.sum() == 6
    with pytest.raises(ValueError, match="ignore_gt"):
        contingency_table(gt, seg, ignore_gt=(-1,))


def test_non_contiguous_and_small_dtypes():
    rng = np.random.default_rng(3)
    gt, seg = blocky(rng, (5, 12, 14), 4), blocky(rng, (5, 12, 14), 4, cell=3)
    expected = evaluate(gt, seg)
    assert evaluate(gt.transpose(2, 1, 0), seg.transpose(2, 1, 0)) == pytest.approx(expected)
    assert evaluate(gt.astype(np.uint8), seg.astype(np.int32)) == expected
    # booleans are labels too: a single gt object can be split but not merged
    assert evaluate(gt > 0, seg > 0).voi_merge == 0.0 < evaluate(gt > 0, seg > 0).voi_split


# --- tables ---------------------------------------------------------------------------------


def test_sparse_and_dense_tables_agree():
    gt = np.array([[1, 1, 2, 2, 2]])
    seg = np.array([[4, 5, 5, 5, 5]])
    table = contingency_table(gt, seg)
    assert isinstance(table, Table)
    assert_array_equal(table.dense(), [[1, 1], [0, 3]])
    assert voi_from_table(table) == pytest.approx(voi_from_table(table.dense()))
    assert arand_from_table(table) == pytest.approx(arand_from_table(table.dense()))
    # VOI does not care about normalisation; float counts are fine
    assert voi_from_table(table.dense() / 5) == pytest.approx(voi_from_table(table))
    assert arand_from_table(table.dense().astype(float)) == arand_from_table(table)


def test_bad_tables():
    with pytest.raises(ValueError, match="2D"):
        voi_from_table(np.ones(3))
    with pytest.raises(ValueError, match="negative"):
        arand_from_table(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        voi_from_table(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not probabilities"):
        arand_from_table(np.array([[0.25, 0.75]]))


# --- input validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "gt, seg, error, match",
    [
        (np.ones((4, 4)), np.ones((4, 4), int), TypeError, "gt must be an integer.*float64"),
        (np.ones((4, 4), int), np.ones((4, 4), np.float32), TypeError, "seg must be.*float32"),
        (np.ones((4, 4), int), np.ones((4, 5), int), ValueError, r"shape.*\(4, 4\).*\(4, 5\)"),
        (-np.ones((4, 4), int), np.ones((4, 4), int), ValueError, "non-negative.*-1"),
        (np.zeros((4, 4), int), np.ones((4, 4), int), ValueError, "truth is all background"),
        (np.ones(4, int), np.ones(4, int), ValueError, r"2 or 3 dimensions.*\(4,\)"),
        ([[1, 2]], np.ones((1, 2), int), TypeError, "numpy array, got list"),
    ],
)
def test_bad_input(gt, seg, error, match):
    for metric in (voi, arand, evaluate):
        with pytest.raises(error, match=match):
            metric(gt, seg)
