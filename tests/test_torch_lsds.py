"""lsds_torch, the torch twin of mbl_seg.lsd.lsds, against the numpy original."""

import re

import numpy as np
import pytest
import torch
from scipy import ndimage

from mbl_seg.lsd import lsds
from mbl_seg.torch_targets import lsds_torch


def _blobs(rng, shape, n=4):
    return ndimage.median_filter(rng.integers(0, n, size=shape), 3).astype(np.uint64)


def _numpy_batch(batch, **kwargs):
    return np.stack([lsds(item, **kwargs) for item in batch])


def _check(batch, chunk=16, **kwargs):
    got = lsds_torch(torch.from_numpy(batch.astype(np.int64)), chunk=chunk, **kwargs)
    expected = _numpy_batch(batch, **kwargs)
    assert got.dtype == torch.float32 and tuple(got.shape) == expected.shape
    assert np.abs(got.numpy() - expected).max() <= 1e-4


CASES = [  # shape, voxel size, sigma (nm), downsample, chunk
    ((6, 9, 10), (8, 8, 8), 12, 1, 16),
    ((6, 9, 10), (20, 6, 6), (30, 10, 10), 1, 2),  # anisotropic; chunk < number of labels
    ((7, 9, 11), (8, 8, 8), 12, 2, 16),  # downsampled, shape not a multiple of 2
    ((5, 9, 8), (30, 8, 8), 20, 2, 1),
    ((12, 14), (5, 4), 9, 1, 16),
    ((13, 15), (5, 4), (12, 9), 2, 2),
    ((13, 14), (5, 4), 9, 3, 16),
]


@pytest.mark.parametrize("shape, voxel_size, sigma, downsample, chunk", CASES)
def test_lsds_torch_equals_numpy_lsds_per_batch_item(shape, voxel_size, sigma, downsample, chunk):
    rng = np.random.default_rng(sum(shape))
    batch = np.stack([_blobs(rng, shape, n=6), _blobs(rng, shape, n=3) * 5])  # different labels
    _check(batch, sigma=sigma, voxel_size=voxel_size, downsample=downsample, chunk=chunk)


def test_big_ids_and_uint64_tensors():
    labels = _blobs(np.random.default_rng(2), (5, 10, 11))
    big = np.array([0, 2 ** 40, 3, 2 ** 40 + 1], np.uint64)[labels]
    _check(big[None], sigma=12, voxel_size=(8, 8, 8), downsample=2, chunk=2)
    # ids above 2**63 in a torch.uint64 tensor: the same as the small ids they replace
    huge = np.array([0, 2 ** 63 + 5, 3, 2 ** 64 - 1], np.uint64)[labels]
    got = lsds_torch(torch.from_numpy(huge)[None], sigma=12, voxel_size=(8, 8, 8))
    assert np.abs(got[0].numpy() - lsds(labels, sigma=12, voxel_size=(8, 8, 8))).max() <= 1e-4


@pytest.mark.parametrize("downsample", [1, 2])
def test_small_objects_far_from_the_edges_filtered_on_their_own_box(downsample):
    # window reach (3 voxels) < the distance to the edges: the crop of each chunk lies
    # inside the volume, and the moments come from that crop alone
    labels = np.zeros((2, 9, 30, 31), np.uint64)
    labels[0, 3:6, 4:9, 5:8] = 3
    labels[0, 2:7, 18:25, 20:27] = 8
    labels[0, 4, 12:16, 14:18] = 5
    labels[1, 1:8, 10:20, 3:29] = _blobs(np.random.default_rng(9), (7, 10, 26), n=4)
    _check(labels, sigma=8, voxel_size=(8, 8, 8), downsample=downsample, chunk=1)


def test_objects_off_the_downsampled_grid_get_neutral_values():
    labels = np.zeros((1, 7, 9), np.uint64)
    labels[0, 1, 1:6:2] = 4  # only on odd positions: no grid point of d = 2 sees it
    labels[0, 2:6, 2:8] = 9
    _check(labels, sigma=10, voxel_size=(4, 4), downsample=2)
    got = lsds_torch(torch.from_numpy(labels.astype(np.int64)), sigma=10, voxel_size=(4, 4),
                     downsample=2)
    assert got[0, 0, 1, 1] == 0.5 and got[0, 5, 1, 1] == 0  # offset 0.5, size 0


def test_background_only_and_bool_labels():
    empty = torch.zeros((2, 4, 5), dtype=torch.int32)
    assert not lsds_torch(empty, sigma=8, voxel_size=(4, 4)).any()
    mask = _blobs(np.random.default_rng(5), (9, 10), n=2).astype(bool)
    _check(mask[None], sigma=8, voxel_size=(4, 4))


@pytest.mark.parametrize("call, error, words", [
    (lambda: lsds_torch(np.ones((1, 4, 4), np.int64), sigma=8, voxel_size=(4, 4)),
     TypeError, "torch.Tensor"),
    (lambda: lsds_torch(torch.ones(1, 4, 4), sigma=8, voxel_size=(4, 4)), TypeError, "integer"),
    (lambda: lsds_torch(torch.ones(4, 4, dtype=torch.int64), sigma=8, voxel_size=(4, 4)),
     ValueError, "(b, y, x)"),
    (lambda: lsds_torch(-torch.ones(1, 4, 4, dtype=torch.int64), sigma=8, voxel_size=(4, 4)),
     ValueError, "non-negative"),
    (lambda: lsds_torch(torch.ones(1, 4, 4, dtype=torch.int64), sigma=8, voxel_size=None),
     TypeError, "voxel_size is required"),
    (lambda: lsds_torch(torch.ones(1, 4, 4, dtype=torch.int64), sigma=8, voxel_size=(4, 4, 4)),
     ValueError, "one entry per axis"),
    (lambda: lsds_torch(torch.ones(1, 4, 4, dtype=torch.int64), sigma=None, voxel_size=(4, 4)),
     TypeError, "sigma is required"),
    (lambda: lsds_torch(torch.ones(1, 4, 4, dtype=torch.int64), sigma=8, voxel_size=(4, 4),
                        downsample=0), ValueError, "downsample"),
    (lambda: lsds_torch(torch.ones(1, 4, 4, dtype=torch.int64), sigma=8, voxel_size=(4, 4),
                        chunk=0), ValueError, "chunk"),
])
def test_bad_input_is_refused_with_a_message(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_lsds_torch_on_cuda_equals_numpy():
    rng = np.random.default_rng(7)
    batch = np.stack([_blobs(rng, (7, 9, 11), n=6), _blobs(rng, (7, 9, 11), n=3)])
    kwargs = dict(sigma=(30, 12, 12), voxel_size=(20, 8, 8), downsample=2)
    got = lsds_torch(torch.from_numpy(batch.astype(np.int64)).cuda(), chunk=3, **kwargs)
    assert got.device.type == "cuda" and got.dtype == torch.float32
    assert np.abs(got.cpu().numpy() - _numpy_batch(batch, **kwargs)).max() <= 1e-4
