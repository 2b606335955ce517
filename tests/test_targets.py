import itertools

import numpy as np
import pytest
import torch

from mbl_seg.targets import (
    affinities,
    affinity_mask,
    boundaries,
    distance_transform,
    nearest_offsets,
)
from mbl_seg.torch_targets import affinities_torch


def _px(array):
    """1 nm voxels: distances in voxels, as these tests think of them."""
    return (1.0,) * np.ndim(array)


def _random_labels(rng, shape, n=4):
    # blocky labels so that equal neighbours are common, with some background
    coarse = rng.integers(0, n, size=tuple((s + 1) // 2 for s in shape))
    labels = coarse
    for axis, s in enumerate(shape):
        labels = np.repeat(labels, 2, axis=axis).take(range(s), axis=axis)
    return labels.astype(np.uint64)


def _brute_affinities(labels, offsets):
    out = np.zeros((len(offsets), *labels.shape), np.float32)
    for k, off in enumerate(offsets):
        for idx in itertools.product(*(range(s) for s in labels.shape)):
            other = tuple(i + o for i, o in zip(idx, off))
            if all(0 <= j < s for j, s in zip(other, labels.shape)):
                out[(k, *idx)] = float(labels[idx] == labels[other] and labels[idx] != 0)
    return out


def _random_offsets(rng, ndim, k=4):
    offsets = []
    while len(offsets) < k:
        off = tuple(int(v) for v in rng.integers(-3, 4, size=ndim))
        if any(off):
            offsets.append(off)
    return offsets


@pytest.mark.parametrize("shape", [(7, 9), (4, 5, 6)])
def test_affinities_match_brute_force_for_random_labels_and_offsets(shape):
    rng = np.random.default_rng(len(shape))
    for _ in range(5):
        labels = _random_labels(rng, shape)
        offsets = _random_offsets(rng, len(shape))
        np.testing.assert_array_equal(affinities(labels, offsets),
                                      _brute_affinities(labels, offsets))


def test_one_label_gives_affinity_one_wherever_the_partner_is_inside():
    labels = np.full((4, 5, 6), 7, np.uint64)
    offsets = [(-1, 0, 0), (0, -2, 0), (0, 0, 3), (1, 1, -1)]
    affs = affinities(labels, offsets)
    np.testing.assert_array_equal(affs, affinity_mask(labels.shape, offsets))
    assert affs[0, 1:].min() == 1 and affs[0, 0].max() == 0  # (-1,0,0): z links z-1


def test_negative_offset_stores_the_edge_at_the_later_voxel():
    labels = np.zeros((3, 1, 1), np.uint64)
    labels[1:] = 5
    affs = affinities(labels, [(-1, 0, 0)])
    assert affs[0, :, 0, 0].tolist() == [0, 0, 1]  # z=2 links z=2 and z=1 (both 5)


def test_background_is_never_affine_and_affinities_are_symmetric_under_offset_flip():
    rng = np.random.default_rng(3)
    labels = _random_labels(rng, (6, 8, 8))
    fwd, back = affinities(labels, [(0, 0, 1)])[0], affinities(labels, [(0, 0, -1)])[0]
    np.testing.assert_array_equal(fwd[..., :-1], back[..., 1:])
    assert affinities(np.zeros((3, 3), np.uint64)).max() == 0


def test_affinity_mask_respects_known_voxels():
    known = np.ones((3, 4), bool)
    known[1, 2] = False
    mask = affinity_mask((3, 4), [(0, -1)], known=known)
    assert mask[0, 1, 2] == 0 and mask[0, 1, 3] == 0 and mask[0, 1, 1] == 1
    assert mask[0, :, 0].max() == 0


def test_torch_affinities_equal_numpy_on_a_batch():
    rng = np.random.default_rng(4)
    batch = np.stack([_random_labels(rng, (5, 6, 7)) for _ in range(2)])
    offsets = _random_offsets(rng, 3)
    got = affinities_torch(torch.from_numpy(batch.astype(np.int64)), offsets).numpy()
    want = np.stack([affinities(b, offsets) for b in batch])
    np.testing.assert_array_equal(got, want)


def test_nearest_offsets_and_offset_errors():
    assert nearest_offsets(2) == [(-1, 0), (0, -1)]
    labels = np.ones((3, 3), np.uint64)
    with pytest.raises(ValueError, match="2 ints"):
        affinities(labels, [(0, 0, 1)])
    with pytest.raises(ValueError, match="itself"):
        affinities(labels, [(0, 0)])
    with pytest.raises(TypeError, match="integer label image"):
        affinities(labels.astype(np.float32))
    with pytest.raises(ValueError, match="integer tensor"):
        affinities_torch(torch.ones(1, 3, 3))


def test_boundaries_are_where_labels_change_or_background():
    labels = np.array([[1, 1, 2, 2, 0, 3]], np.uint64)
    assert boundaries(labels, voxel_size=_px(labels)).tolist() == [[0, 1, 1, 1, 1, 1]]
    one = np.full((4, 4, 4), 9, np.uint64)
    assert boundaries(one, voxel_size=_px(one)).max() == 0


def test_boundary_thickness_is_in_nm_and_anisotropy_aware():
    labels = np.zeros((5, 1, 9), np.uint64)
    labels[:, :, :4] = 1
    labels[:, :, 4:] = 2
    thin = boundaries(labels, voxel_size=(40, 4, 4))
    thick = boundaries(labels, voxel_size=(40, 4, 4), thickness=16)
    assert thin[0, 0].tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert thick[0, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0]
    # a contact across z is a boundary however thick the sections: every face
    # neighbour counts, the thickness only widens the band
    stacked = np.zeros((2, 3, 3), np.uint64)
    stacked[0], stacked[1] = 1, 2
    assert boundaries(stacked, voxel_size=(40, 4, 4), thickness=16).min() == 1
    assert boundaries(stacked, voxel_size=(40, 4, 4)).min() == 1
    assert boundaries(stacked, voxel_size=_px(stacked)).min() == 1


@pytest.mark.parametrize("voxel_size", [(36, 12, 12), (8, 8, 8), (50, 4, 4)])
def test_every_voxel_with_a_differing_face_neighbour_is_a_boundary(voxel_size):
    labels = np.random.default_rng(3).integers(1, 4, size=(5, 6, 7)).astype(np.uint64)
    got = boundaries(labels, voxel_size=voxel_size)
    expected = np.zeros(labels.shape, bool)
    for z, y, x in itertools.product(*(range(n) for n in labels.shape)):
        for axis in range(3):
            for step in (-1, 1):
                n = [z, y, x]
                n[axis] += step
                if 0 <= n[axis] < labels.shape[axis] and labels[tuple(n)] != labels[z, y, x]:
                    expected[z, y, x] = True
    # the default band is exactly the face neighbours (no wider in the finest plane)
    assert np.array_equal(got.astype(bool), expected)


def test_distance_transform_grows_inside_objects_in_nm():
    labels = np.zeros((1, 11), np.uint64)
    labels[0, 1:10] = 1
    dist = distance_transform(labels, voxel_size=(10, 5))
    assert dist[0].tolist() == [0, 0, 5, 10, 15, 20, 15, 10, 5, 0, 0]
    signed = distance_transform(labels, voxel_size=(10, 5), signed=True)
    assert signed[0, 0] == -10 and signed[0, 5] == 20
    with pytest.raises(ValueError, match="voxel_size"):
        distance_transform(labels, voxel_size=(10, 5, 5))


@pytest.mark.parametrize("make", [
    lambda offsets: affinities(np.ones((4, 6), np.uint64), offsets),
    lambda offsets: affinity_mask((4, 6), offsets),
    lambda offsets: affinities_torch(torch.ones((1, 4, 6), dtype=torch.int64), offsets),
])
def test_offsets_longer_than_the_volume_are_explained(make):
    with pytest.raises(ValueError, match=r"offset \(0, -7\) reaches 7 voxels along axis 1.*"
                                         r"only 6 voxels long"):
        make([(-1, 0), (0, -7)])
    assert make([(-4, 0), (0, -6)]).shape[-3:] == (2, 4, 6)  # as long as the volume: no edge


def test_thickness_may_be_a_0d_array():
    labels = np.array([[1, 1, 1, 2, 2, 2]], np.uint64)
    np.testing.assert_array_equal(
        boundaries(labels, thickness=np.array(4.0), voxel_size=_px(labels)),
        boundaries(labels, thickness=4.0, voxel_size=_px(labels)))
    with pytest.raises(ValueError, match="thickness must be a positive number of nm, got nan"):
        boundaries(labels, thickness=np.float32(np.nan), voxel_size=_px(labels))


def test_boundaries_and_distances_need_a_voxel_size():
    labels = np.array([[1, 1, 2, 2]], np.uint64)
    for fn in (boundaries, distance_transform):
        with pytest.raises(TypeError, match="voxel_size is required"):
            fn(labels)
