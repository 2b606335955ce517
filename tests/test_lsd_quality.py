"""LSD quality: the relative MSE and the offset correlations against plain definitions."""

import numpy as np
import pytest

from mbl_seg.lsd import lsds
from mbl_seg.lsd_quality import LSDQuality, channel_means, interior, lsd_quality


def _random(shape=(10, 12, 14, 16), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_against_a_brute_force_definition():
    truth, predicted = _random(seed=1), _random(seed=2)
    means = _random((10,), seed=3).astype(np.float64)
    q = lsd_quality(predicted, truth, means=means, margin=(2, 3, 4))
    t, p = truth[:, 2:10, 3:11, 4:12], predicted[:, 2:10, 3:11, 4:12]
    assert q.mse == pytest.approx(float(np.mean((p.astype(float) - t) ** 2)))
    constant = np.broadcast_to(means[:, None, None, None], t.shape)
    assert q.baseline_mse == pytest.approx(float(np.mean((constant - t) ** 2)))
    for axis in range(3):
        r = np.corrcoef(p[axis].ravel(), t[axis].ravel())[0, 1]
        assert q.offset_r[axis] == pytest.approx(r, abs=1e-9)
    assert q.relative_mse == pytest.approx(q.mse / q.baseline_mse)
    assert len(q.channel_mse) == 10 and np.mean(q.channel_mse) == pytest.approx(q.mse)


def test_the_constant_guess_scores_one_and_no_correlation():
    labels = np.zeros((12, 24, 24), np.uint64)
    labels[:, 4:14, 3:20] = 1
    labels[:, 14:22, 5:9] = 2
    truth = lsds(labels, sigma=16, voxel_size=(8, 8, 8))
    means = channel_means(truth)
    constant = np.broadcast_to(means[:, None, None, None], truth.shape).astype(np.float32)
    q = lsd_quality(constant, truth, means=means, margin=(0, 0, 0))
    assert q.relative_mse == pytest.approx(1.0, rel=1e-5)
    assert q.offset_r == (0.0, 0.0, 0.0)  # a constant predicts nothing
    perfect = lsd_quality(truth, truth, means=means, margin=(0, 0, 0))
    assert perfect.mse == 0 and perfect.offset_r[1:] == pytest.approx((1.0, 1.0))
    assert "1.00 x constant" in str(q) and isinstance(q, LSDQuality)


def test_interior_and_means_by_hand():
    assert interior((48, 256, 256)) == (slice(16, 32), slice(24, 232), slice(24, 232))
    d = _random((2, 3, 4, 5))
    assert np.allclose(channel_means(d), [d[0].mean(), d[1].mean()])


@pytest.mark.parametrize("call, message", [
    (lambda: interior((10, 10, 10), (5, 1, 1)), "leaves nothing"),
    (lambda: interior((10, 10), (1, 1, 1)), "one entry per axis"),
    (lambda: channel_means(np.zeros((4, 4, 4))), "(c, z, y, x)"),
    (lambda: channel_means(np.zeros((1, 4, 4, 4), np.uint8)), "float array"),
    (lambda: lsd_quality(_random(), _random((10, 12, 14, 15)), means=np.zeros(10)),
     "one shape"),
    (lambda: lsd_quality(_random(), _random(), means=np.zeros(3)), "one value per channel"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
