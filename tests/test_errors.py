import numpy as np
import pytest

from mbl_seg.errors import (contact, maximin_affinities, merge_errors, pairs_touching_in,
                            split_errors)
from mbl_seg.segment import components_from_affinities
from mbl_seg.targets import affinities


def test_perfect_segmentation_has_no_errors_under_any_relabelling():
    rng = np.random.default_rng(0)
    gt = rng.integers(1, 6, size=(12, 12)).astype(np.uint64)
    relabelled = (gt * 7 + 3).astype(np.uint64)
    assert merge_errors(gt, relabelled, min_voxels=1) == []
    assert split_errors(gt, relabelled, min_voxels=1) == {}


def test_merges_and_splits_are_found_and_small_overlaps_ignored():
    gt = np.zeros((4, 12), np.uint64)
    gt[:, :4], gt[:, 4:8], gt[:, 8:] = 1, 2, 3
    seg = gt.copy()
    seg[gt == 2] = 1  # merge 1 and 2
    seg[:2, 8:] = 9  # split 3
    seg[0, 0] = 3  # one stray voxel: noise, not a merge of 1 into segment 3
    merges = merge_errors(gt, seg, min_voxels=2)
    assert [(m.segment, m.a, m.b) for m in merges] == [(1, 1, 2)]
    assert split_errors(gt, seg, min_voxels=2) == {3: [3, 9]}
    assert (1, 1, 3) not in merge_errors(gt, seg, min_voxels=2)


def test_contact_is_symmetric_and_only_between_the_two_objects():
    labels = np.array([[1, 1, 2, 2], [1, 3, 3, 2]], np.uint64)
    c = contact(labels, 1, 2)
    np.testing.assert_array_equal(c, contact(labels, 2, 1))
    assert c.tolist() == [[False, True, True, False], [False, False, False, False]]


def test_bad_arguments():
    gt = np.ones((3, 3), np.uint64)
    with pytest.raises(ValueError, match="same shape"):
        merge_errors(gt, gt[:2])
    with pytest.raises(ValueError, match="min_voxels"):
        split_errors(gt, gt, min_voxels=0)


def test_pairs_touching_in_agrees_with_contact():
    rng = np.random.default_rng(1)
    labels = np.kron(rng.integers(0, 5, size=(5, 6)), np.ones((2, 2), int)).astype(np.uint64)
    where = rng.random(labels.shape) < 0.2
    found = pairs_touching_in(labels, where)
    ids = [int(i) for i in np.unique(labels) if i]
    brute = {(a, b) for a in ids for b in ids if a < b and (contact(labels, a, b) & where).any()}
    assert found == brute
    assert pairs_touching_in(labels, np.zeros_like(where)) == set()


def test_contact_of_an_object_with_itself_is_an_error():
    with pytest.raises(ValueError, match="two different objects"):
        contact(np.array([[1, 1, 2]], np.uint64), 1, 1)


def _maximin_by_thresholds(affs, labels):
    """Brute force: the highest threshold at which a and b still share a component."""
    found = {}
    for t in np.unique(affs)[::-1]:
        comps = components_from_affinities((affs >= t).astype(np.float32), threshold=0.5)
        for c in np.unique(comps):
            ids = sorted(int(i) for i in np.unique(labels[comps == c]) if i)
            for i, a in enumerate(ids):
                for b in ids[i + 1:]:
                    found.setdefault((a, b), float(t))
    return found


@pytest.mark.parametrize("shape", [(6, 7), (3, 4, 5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_maximin_affinities_equals_a_threshold_sweep(shape, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=shape).astype(np.uint64)
    affs = rng.choice(np.arange(1, 100) / 100, size=(len(shape), *shape)).astype(np.float32)
    assert maximin_affinities(affs, labels) == pytest.approx(_maximin_by_thresholds(affs, labels))


def test_maximin_of_perfect_affinities_is_zero_and_one_leak_shows():
    labels = np.repeat(np.array([[1, 1, 2, 2, 3, 3]], np.uint64), 4, axis=0)
    affs = affinities(labels)
    assert set(maximin_affinities(affs, labels).values()) == {0.0}
    affs[1, 2, 2] = 0.75  # one leaky edge between objects 1 and 2
    assert maximin_affinities(affs, labels) == {(1, 2): 0.75, (1, 3): 0.0, (2, 3): 0.0}


def test_maximin_affinities_refuses_logits_and_channel_last():
    labels = np.ones((4, 5), np.uint64)
    with pytest.raises(ValueError, match="sigmoid"):
        maximin_affinities(np.full((2, 4, 5), 3.0, np.float32), labels)
    with pytest.raises(ValueError, match="channels"):
        maximin_affinities(np.zeros((4, 5, 2), np.float32), labels)
    with pytest.raises(TypeError, match="float"):
        maximin_affinities(np.zeros((2, 4, 5), np.uint8), labels)
