import numpy as np
import pytest

from mbl_seg.errors import (CAUSES, contact, maximin_affinities, merge_errors, merges_by_cause,
                            pairs_touching_in, split_errors, thin_objects)
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


def _brute_force_touching(gt, where):
    """Pairs of labels that are face neighbours somewhere one of the two voxels is in ``where``."""
    pairs = set()
    for v in np.ndindex(gt.shape):
        for axis in range(gt.ndim):
            w = list(v)
            w[axis] += 1
            if w[axis] >= gt.shape[axis]:
                continue
            w = tuple(w)
            a, b = int(gt[v]), int(gt[w])
            if a and b and a != b and (where[v] or where[w]):
                pairs.add((min(a, b), max(a, b)))
    return pairs


@pytest.mark.parametrize("seed", range(6))
def test_merges_by_cause_sorts_every_merge_once_as_the_definition_says(seed):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 7, size=(3, 6, 7)).astype(np.uint64)
    seg = rng.integers(1, 4, size=7)[gt.astype(int)].astype(np.uint64)  # merge ids at random
    gaps = rng.random(gt.shape) < 0.1
    thin = {int(t) for t in rng.choice(np.arange(1, 7), 2, replace=False)}
    found = merges_by_cause(gt, seg, gaps=gaps, thin=thin, min_voxels=1)
    assert list(found) == list(CAUSES)
    assert sorted(m for v in found.values() for m in v) == merge_errors(gt, seg, min_voxels=1)
    at_gap, touching = _brute_force_touching(gt, gaps), _brute_force_touching(gt, gt >= 0)
    for cause, merges in found.items():
        for m in merges:
            pair = (m.a, m.b)
            expected = (CAUSES[0] if pair in at_gap else CAUSES[3] if pair not in touching
                        else CAUSES[1] if {m.a, m.b} & thin else CAUSES[2])
            assert cause == expected


def test_a_thin_neurite_joined_to_a_neuron_it_does_not_touch_is_not_touching():
    gt = np.array([[[1, 1, 0, 2, 2, 3, 3]]], np.uint64)  # 1 and 2 apart, 2 and 3 touch
    found = merges_by_cause(gt, np.ones_like(gt), gaps=np.zeros(gt.shape, bool), thin={1, 3},
                            min_voxels=1)
    assert [(m.a, m.b) for m in found["not touching"]] == [(1, 2), (1, 3)]
    assert [(m.a, m.b) for m in found["along a thin neurite"]] == [(2, 3)]


def test_thin_objects_by_their_median_distance_to_the_boundary():
    labels = np.zeros((4, 30, 30), np.uint64)
    labels[:, :, :13], labels[:, :, 17:] = 2, 3  # 13 voxels wide: most deep inside
    labels[:, :, 13:17] = 1  # 4 voxels wide, between them: 0 0 0 0 nm from a boundary voxel
    assert thin_objects(labels, voxel_size=(8, 8, 8), radius_nm=8) == {1}
    assert thin_objects(labels, voxel_size=(8, 8, 8), radius_nm=1000) == {1, 2, 3}
    assert thin_objects(np.zeros((2, 3, 3), np.uint64), voxel_size=(8, 8, 8), radius_nm=8) == set()


def test_merges_by_cause_needs_gaps_of_the_labels_shape():
    gt = np.ones((2, 3, 3), np.uint64)
    with pytest.raises(ValueError, match="gaps"):
        merges_by_cause(gt, gt, gaps=np.zeros((2, 3), bool))


def test_a_boundary_off_by_one_voxel_on_a_3d_contact_is_not_a_merge_with_min_fraction():
    # two 20^3 neurons side by side; the segmentation puts the contact one voxel over: 400
    # voxels of neuron 2 in segment 1, far above any min_voxels for 2D, 5 % of the neuron
    gt = np.zeros((20, 20, 40), np.uint64)
    gt[..., :20], gt[..., 20:] = 1, 2
    seg = gt.copy()
    seg[..., 20] = 1
    assert [(m.a, m.b) for m in merge_errors(gt, seg, min_voxels=20)] == [(1, 2)]
    assert merge_errors(gt, seg, min_voxels=20, min_fraction=0.1) == []
    assert merges_by_cause(gt, seg, gaps=np.zeros(gt.shape, bool), min_fraction=0.1) == {
        cause: [] for cause in CAUSES}
    seg[..., 20:30] = 1  # half of neuron 2 in segment 1: a real merge
    assert [(m.a, m.b) for m in merge_errors(gt, seg, min_fraction=0.1)] == [(1, 2)]
    with pytest.raises(ValueError, match="min_fraction"):
        merge_errors(gt, seg, min_fraction=1.5)
