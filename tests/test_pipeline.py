from functools import partial

import numpy as np
import pytest

from mbl_seg.pipeline import augment, batch_maker, intensity_augment, normalize, random_crop
from mbl_seg.targets import boundaries

VS = (40.0, 4.0, 4.0)  # nm (z, y, x)


def _volume(rng, shape=(3, 20, 24)):
    labels = rng.integers(1, 4, size=shape).astype(np.uint64)
    raw = (labels * 60).astype(np.uint8)  # raw encodes the label: crops must stay aligned
    return raw, labels


def test_batches_are_aligned_shaped_and_reproducible_from_the_generator():
    raw, labels = _volume(np.random.default_rng(0))
    make = batch_maker(raw, labels, patch_shape=(8, 10), batch_size=3,
                       targets={"ids": lambda lab: lab.astype(np.float32),
                                "boundary": boundaries}, augment_intensity=False, voxel_size=VS)
    batch = make(np.random.default_rng([0, 5]))
    assert batch["raw"].shape == (3, 1, 8, 10) and batch["boundary"].shape == (3, 1, 8, 10)
    assert all(v.dtype == np.float32 for v in batch.values())
    with_labels = batch_maker(raw, labels, patch_shape=(8, 10), targets={"labels": lambda l: l},
                              voxel_size=VS)
    big = with_labels(np.random.default_rng(0))["labels"]
    assert big.dtype == np.uint64 and big.shape == (4, 1, 8, 10)
    np.testing.assert_allclose(batch["raw"] * 255, batch["ids"] * 60, atol=1e-3)
    again = make(np.random.default_rng([0, 5]))
    assert all(np.array_equal(batch[k], again[k]) for k in batch)
    other = make(np.random.default_rng([0, 6]))
    assert not np.array_equal(batch["raw"], other["raw"])


def test_3d_patches_and_multi_channel_targets():
    raw, labels = _volume(np.random.default_rng(1), (6, 12, 12))
    make = batch_maker(raw, labels, patch_shape=(4, 8, 8),
                       targets={"two": lambda lab: np.stack([lab > 0, lab > 1])}, voxel_size=VS)
    batch = make(np.random.default_rng(0))
    assert batch["raw"].shape == (4, 1, 4, 8, 8) and batch["two"].shape == (4, 2, 4, 8, 8)


def test_augment_applies_the_same_flip_and_transpose_to_every_array():
    a = np.arange(2 * 16).reshape(2, 4, 4)
    for seed in range(8):
        x, y = augment([a, a * 10], np.random.default_rng(seed), ndim=3)
        np.testing.assert_array_equal(x * 10, y)
        assert sorted(x.ravel()) == sorted(a.ravel())


def test_bad_inputs():
    raw, labels = _volume(np.random.default_rng(2))
    with pytest.raises(ValueError, match="does not fit"):
        batch_maker(raw, labels, patch_shape=(30, 30), targets={}, voxel_size=VS)
    with pytest.raises(ValueError, match="same shape"):
        batch_maker(raw, labels[:, 1:], patch_shape=(8, 8), targets={}, voxel_size=VS)
    with pytest.raises(TypeError, match="uint8"):
        normalize(np.zeros(3, np.int32))
    with pytest.raises(ValueError, match="does not fit"):
        random_crop((4, 4), (5, 1), np.random.default_rng(0))


def test_intensity_augment_changes_the_look_but_keeps_the_order_of_grey_values():
    raw = np.random.default_rng(0).integers(0, 256, size=(16, 16)).astype(np.uint8)
    looks = [intensity_augment(raw, np.random.default_rng(s), noise=(0, 0)) for s in range(5)]
    order = np.argsort(raw, axis=None, kind="stable")
    for look in looks:
        assert look.dtype == np.float32 and look.shape == raw.shape
        assert 0 <= look.min() and look.max() <= 1
        # a monotonic change: a brighter input pixel never comes out darker
        assert np.all(np.diff(look.ravel()[order]) >= -1e-6)
    assert len({round(float(look.mean()), 4) for look in looks}) == 5
    again = intensity_augment(raw, np.random.default_rng(3), noise=(0, 0))
    assert np.array_equal(again, looks[3])


def test_batches_get_a_different_look_per_crop_with_intensity_augmentation():
    raw, labels = _volume(np.random.default_rng(0))
    plain = batch_maker(raw, labels, patch_shape=(8, 10), targets={},
                        augment_intensity=False, voxel_size=VS)(np.random.default_rng(1))["raw"]
    varied = batch_maker(raw, labels, patch_shape=(8, 10), targets={}, voxel_size=VS)(
        np.random.default_rng(1))["raw"]
    assert varied.dtype == np.float32 and 0 <= varied.min() and varied.max() <= 1
    assert not np.allclose(plain, varied)


@pytest.mark.parametrize("targets", [None, ["boundaries"], {"target": "boundaries"}])
def test_batch_maker_targets_must_be_a_dict_of_functions(targets):
    raw, labels = _volume(np.random.default_rng(0))
    with pytest.raises(TypeError, match="targets must be a dict of name -> function"):
        batch_maker(raw, labels, patch_shape=(8, 8), targets=targets, voxel_size=VS)


def test_a_2d_section_is_refused_with_the_way_to_add_the_axis():
    raw, labels = _volume(np.random.default_rng(3))
    with pytest.raises(ValueError) as caught:
        batch_maker(raw[0], labels[0], patch_shape=(8, 8), targets={}, voxel_size=VS)
    message = str(caught.value)
    assert "batch_maker takes a (z, y, x) stack" in message and "shape (20, 24)" in message
    assert "patch_shape (y, x)" in message and "raw[None]" in message
    assert "(y, x))" not in message  # no longer "must have 3 dimensions ((z, y, x) or (y, x))"


@pytest.mark.parametrize("raw, words", [
    (np.full((2, 4, 4), np.nan, np.float32), "nan"),
    (np.full((2, 4, 4), 200.0, np.float32), "divide it by 255"),
    (np.zeros((0, 4, 4), np.uint8), "empty"),
])
def test_normalize_refuses_nan_unnormalised_and_empty_raw(raw, words):
    with pytest.raises(ValueError, match=words):
        normalize(raw)


def test_normalize_keeps_floats_in_the_unit_range():
    raw = np.linspace(-0.2, 1.2, 8, dtype=np.float32)  # a little outside, e.g. after noise
    np.testing.assert_array_equal(normalize(raw), raw)


def test_batch_maker_numbers_may_be_numpy_and_must_be_whole():
    raw, labels = _volume(np.random.default_rng(4))
    make = batch_maker(raw, labels, patch_shape=(np.int64(8), np.array(8)), targets={},
                       batch_size=np.array(2), voxel_size=VS)
    assert make(np.random.default_rng(0))["raw"].shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        batch_maker(raw, labels, patch_shape=(8, 8), targets={}, batch_size=0, voxel_size=VS)
    with pytest.raises(ValueError, match="patch_shape entries must be an int >= 1, got 8.5"):
        batch_maker(raw, labels, patch_shape=(8.5, 8), targets={}, voxel_size=VS)


def test_batch_maker_needs_a_voxel_size_and_hands_it_to_targets_in_nm():
    raw = np.zeros((4, 16, 16), np.uint8)
    labels = np.ones((4, 16, 16), np.uint64)
    labels[:, :, 8:] = 2
    with pytest.raises(TypeError, match="voxel_size"):
        batch_maker(raw, labels, patch_shape=(8, 8), targets={"t": boundaries})
    seen = []

    def target(crop, *, voxel_size):
        seen.append(voxel_size)
        return boundaries(crop, voxel_size=voxel_size)

    batch_maker(raw, labels, patch_shape=(8, 8), targets={"t": target},
                voxel_size=(40, 4, 4))(np.random.default_rng(0))
    assert set(seen) == {(4.0, 4.0)}  # 2D patches: the section's (y, x)
    # a 16 nm band at 4 nm pixels is 4 pixels wide; at 1 nm it would be 16 (the whole crop)
    batch = batch_maker(raw, labels, patch_shape=(1, 16, 16), voxel_size=(40, 4, 4),
                        targets={"t": partial(boundaries, thickness=16)},
                        augment_data=False)(np.random.default_rng(0))
    assert batch["t"][0, 0, 0, 0].tolist() == [0] * 6 + [1] * 4 + [0] * 6


def test_anisotropic_y_x_voxels_are_never_transposed():
    raw = np.zeros((2, 8, 8), np.uint8)
    labels = np.zeros((2, 8, 8), np.uint64)
    labels[:, :, :2] = 1  # a column: transposed, it would become a row
    make = batch_maker(raw, labels, patch_shape=(8, 8), voxel_size=(40, 4, 8),
                       targets={"l": lambda l: l}, augment_intensity=False)
    for seed in range(20):
        crops = make(np.random.default_rng(seed))["l"][:, 0]
        assert all((c == c[:1]).all() for c in crops)  # rows identical: still a column
