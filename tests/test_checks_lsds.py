"""The notebook-06 self-checks: right answers pass, typical mistakes get their own hint."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from mbl_seg.checks import check_centre_offsets, check_mtlsd_loss
from mbl_seg.losses import LSD_WEIGHT, balanced_bce, batch_affinity_loss, batch_lsd_loss
from mbl_seg.models import center_crop


def student_offsets(labels, sigma, voxel_size, *, sign=1, in_voxels=False, nm_as_voxels=False,
                    background=0.0):
    """The way a student writes it: whole-image Gaussian filters per label."""
    sig = [sigma if nm_as_voxels else sigma / v for v in voxel_size]
    step = [1.0] * labels.ndim if in_voxels else voxel_size
    coords = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip(labels.shape, step)],
                                  indexing="ij"))
    out = np.full((labels.ndim,) + labels.shape, background)
    for label in np.unique(labels[labels != 0]):
        mask = (labels == label).astype(float)
        count = ndimage.gaussian_filter(mask, sig, mode="constant", truncate=3.0)
        for axis in range(labels.ndim):
            mean = ndimage.gaussian_filter(coords[axis] * mask, sig, mode="constant",
                                           truncate=3.0) / np.maximum(count, 1e-12)
            out[axis][mask > 0] = sign * (mean - coords[axis])[mask > 0]
    return out


def test_a_whole_image_filter_solution_passes():
    assert check_centre_offsets(student_offsets, verbose=False).passed


@pytest.mark.parametrize("mistake, words", [
    (dict(sign=-1), "from the voxel \\*to\\* the centre"),
    (dict(in_voxels=True), "in voxels"),
    (dict(nm_as_voxels=True), "sigma in voxels"),
    (dict(background=1.0), "background voxels"),
])
def test_offset_mistakes_get_their_hint(mistake, words):
    result = check_centre_offsets(lambda l, s, v: student_offsets(l, s, v, **mistake),
                                  verbose=False)
    assert not result.passed
    assert pytest.importorskip("re").search(words, result.message), result.message


def test_unfinished_and_shapeless_offsets_are_named():
    def todo(labels, sigma, voxel_size):
        raise NotImplementedError

    assert "not implemented" in check_centre_offsets(todo, verbose=False).message
    assert "shape" in check_centre_offsets(lambda l, s, v: np.zeros(l.shape),
                                           verbose=False).message


def test_mtlsd_loss_check_passes_the_sum_and_names_mistakes():
    def right(logits, batch):
        return (batch_affinity_loss(logits[:, :3], batch)
                + LSD_WEIGHT * batch_lsd_loss(logits[:, 3:], batch))

    assert check_mtlsd_loss(right, verbose=False).passed
    unweighted = check_mtlsd_loss(lambda lg, b: batch_affinity_loss(lg[:, :3], b)
                                  + batch_lsd_loss(lg[:, 3:], b), verbose=False)
    assert not unweighted.passed and "weigh the LSD term" in unweighted.message
    no_lsd = check_mtlsd_loss(lambda lg, b: batch_affinity_loss(lg[:, :3], b), verbose=False)
    assert "LSD term is missing" in no_lsd.message
    swapped = check_mtlsd_loss(lambda lg, b: batch_affinity_loss(lg[:, 10:], b)
                               + LSD_WEIGHT * batch_lsd_loss(lg[:, :10], b), verbose=False)
    assert "first 3 channels" in swapped.message
    assert "one number" in check_mtlsd_loss(lambda lg, b: 0.5, verbose=False).message


def test_offsets_in_reversed_axis_order_get_their_hint():
    result = check_centre_offsets(lambda l, s, v: student_offsets(l, s, v)[::-1], verbose=False)
    assert not result.passed and "order of the axes" in result.message, result.message


def _masked_parts(logits, batch, *, affs_mask=True, lsds_mask=True, sigmoid=True):
    """A student's multi-task loss built from balanced_bce and an MSE by hand."""
    shape = logits.shape[2:]
    affs, lsds = center_crop(batch["affs"], shape), center_crop(batch["lsds"], shape)
    mask_a = center_crop(batch["affs_mask"], shape) if affs_mask else None
    mask_l = (center_crop(batch["lsds_mask"], shape) if lsds_mask
              else torch.ones_like(lsds[:, :1]))
    predicted = torch.sigmoid(logits[:, 3:]) if sigmoid else logits[:, 3:]
    squared = (predicted - lsds) ** 2 * mask_l
    mse = squared.sum() / (mask_l.sum() * lsds.shape[1])
    return balanced_bce(logits[:, :3], affs, mask=mask_a) + LSD_WEIGHT * mse


@pytest.mark.parametrize("loss, words", [
    (lambda lg, b: _masked_parts(lg, b), None),  # built by hand, right: passes
    (lambda lg, b: batch_affinity_loss(lg[:, :3], b) + LSD_WEIGHT * batch_lsd_loss(lg[:, 2:12], b),
     "channels 3-12"),
    (lambda lg, b: batch_affinity_loss(lg[:, 1:4], b) + LSD_WEIGHT * batch_lsd_loss(lg[:, 3:], b),
     "channels 0-2"),
    (lambda lg, b: _masked_parts(lg, b, affs_mask=False, lsds_mask=False), "masks"),
    (lambda lg, b: _masked_parts(lg, b, lsds_mask=False), "lsds_mask"),
    (lambda lg, b: _masked_parts(lg, b, affs_mask=False), "affs_mask"),
    (lambda lg, b: _masked_parts(lg, b, sigmoid=False), "sigmoid"),
])
def test_mtlsd_loss_mistakes_get_their_own_hint(loss, words):
    result = check_mtlsd_loss(loss, verbose=False)
    if words is None:
        assert result.passed, result.message
    else:
        assert not result.passed and words in result.message, result.message
        assert "Hint: split the 13 channels" not in result.message  # not the generic one
