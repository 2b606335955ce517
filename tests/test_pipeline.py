import numpy as np
import pytest

from mbl_seg.pipeline import augment, batch_maker, intensity_augment, normalize, random_crop
from mbl_seg.targets import boundaries


def _volume(rng, shape=(3, 20, 24)):
    labels = rng.integers(1, 4, size=shape).astype(np.uint64)
    raw = (labels * 60).astype(np.uint8)  # raw encodes the label: crops must stay aligned
    return raw, labels


def test_batches_are_aligned_shaped_and_reproducible_from_the_generator():
    raw, labels = _volume(np.random.default_rng(0))
    make = batch_maker(raw, labels, patch_shape=(8, 10), batch_size=3,
                       targets={"ids": lambda lab: lab.astype(np.float32),
                                "boundary": boundaries}, augment_intensity=False)
    batch = make(np.random.default_rng([0, 5]))
    assert batch["raw"].shape == (3, 1, 8, 10) and batch["boundary"].shape == (3, 1, 8, 10)
    assert all(v.dtype == np.float32 for v in batch.values())
    with_labels = batch_maker(raw, labels, patch_shape=(8, 10), targets={"labels": lambda l: l})
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
                       targets={"two": lambda lab: np.stack([lab > 0, lab > 1])})
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
        batch_maker(raw, labels, patch_shape=(30, 30), targets={})
    with pytest.raises(ValueError, match="same shape"):
        batch_maker(raw, labels[:, 1:], patch_shape=(8, 8), targets={})
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
                        augment_intensity=False)(np.random.default_rng(1))["raw"]
    varied = batch_maker(raw, labels, patch_shape=(8, 10), targets={})(
        np.random.default_rng(1))["raw"]
    assert varied.dtype == np.float32 and 0 <= varied.min() and varied.max() <= 1
    assert not np.allclose(plain, varied)


@pytest.mark.parametrize("targets", [None, ["boundaries"], {"target": "boundaries"}])
def test_batch_maker_targets_must_be_a_dict_of_functions(targets):
    raw, labels = _volume(np.random.default_rng(0))
    with pytest.raises(TypeError, match="targets must be a dict of name -> function"):
        batch_maker(raw, labels, patch_shape=(8, 8), targets=targets)
