"""Each method at the operating point chosen on validation: checked against its definition."""

import numpy as np
import pytest
from scipy import ndimage

from mbl_seg.agglomeration import agglomerate, sweep
from mbl_seg.evaluate import evaluate
from mbl_seg.operating_point import (MIN_SIZE, SCORINGS, THRESHOLDS, choose, operating_point,
                                     table)
from mbl_seg.segment import fragments, watershed_from_affinities
from mbl_seg.targets import nearest_offsets, offset_slices

VOXEL = (8.0, 8.0, 8.0)


def _volume(seed, shape=(6, 40, 40), cells=14, noise=0.25):
    """Voronoi cells and noisy nearest-neighbour affinities of them (1 inside a cell)."""
    rng = np.random.default_rng(seed)
    centres = rng.random((cells, 3)) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    labels = np.argmin(((grid[..., None, :] - centres) ** 2).sum(-1), -1).astype(np.uint64) + 1
    affs = np.zeros((3,) + shape, np.float32)
    for k, offset in enumerate(nearest_offsets(3)):
        a, b = offset_slices(shape, offset)
        affs[k][b] = labels[a] == labels[b]
    affs = ndimage.gaussian_filter(affs, (0, 0.7, 0.7, 0.7)) + noise * rng.random(affs.shape)
    return np.clip(affs, 0, 1).astype(np.float32), labels


@pytest.mark.parametrize("seeds", [(0, 1), (2, 3), (4, 5)])
def test_scoring_and_threshold_are_the_validation_best_and_are_scored_on_test(seeds):
    (val_affs, val_labels), (test_affs, test_labels) = (_volume(s) for s in seeds)
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    point = operating_point(val_affs, val_labels, test_affs, test_labels, voxel_size=VOXEL,
                            thresholds=thresholds, min_size=10)
    # every scoring's validation sweep, from the definition; the lowest VOI total of all wins
    frags = fragments(val_affs, voxel_size=VOXEL, min_size=10)
    totals = {(name, t): v for name, options in SCORINGS.items()
              for t, v in zip(thresholds, sweep(val_affs, frags, val_labels,
                                                thresholds=thresholds, **options).voi_total)}
    best = min(totals.values())
    assert totals[point.scoring, point.threshold] == best
    expected = sweep(val_affs, frags, val_labels, thresholds=thresholds, **SCORINGS[point.scoring])
    assert np.allclose(point.validation.voi_total, expected.voi_total)
    # the test volume's segmentation with that scoring and threshold, and its scores
    test_frags = fragments(test_affs, voxel_size=VOXEL, min_size=10)
    (seg,) = agglomerate(test_affs, test_frags, thresholds=[point.threshold],
                         **SCORINGS[point.scoring])
    assert np.array_equal(point.segmentation, seg)
    assert point.agglomerated == evaluate(test_labels, seg)
    k = thresholds.index(point.threshold)  # the test sweep agrees with it at that threshold
    assert np.isclose(point.test.voi_total[k], point.agglomerated.voi_total)
    assert np.isclose(point.test.arand[k], point.agglomerated.arand)
    ws = watershed_from_affinities(test_affs, voxel_size=VOXEL, h=16.0)
    assert point.watershed == evaluate(test_labels, ws)


def test_validation_alone_chooses_the_threshold():
    """Swapping the test volume for another leaves the threshold as it is."""
    val, test, other = _volume(6), _volume(7), _volume(8, noise=0.6)
    one = operating_point(*val, *test, voxel_size=VOXEL, thresholds=[0.2, 0.5, 0.8])
    two = operating_point(*val, *other, voxel_size=VOXEL, thresholds=[0.2, 0.5, 0.8])
    assert one.threshold == two.threshold
    assert one.agglomerated != two.agglomerated


def test_arand_as_the_criterion_minimises_arand_on_validation():
    val, test = _volume(9, noise=0.5), _volume(10)
    point = operating_point(*val, *test, voxel_size=VOXEL, thresholds=THRESHOLDS,
                            min_size=MIN_SIZE // 10, criterion="arand")
    assert point.threshold == THRESHOLDS[int(np.argmin(point.validation.arand))]


def test_one_scoring_can_be_imposed():
    val, test = _volume(13), _volume(14)
    for name in SCORINGS:
        point = operating_point(*val, *test, voxel_size=VOXEL, thresholds=[0.3, 0.6],
                                scorings=[name])
        assert point.scoring == name


def test_choose_prefers_the_first_scoring_and_the_lower_threshold_on_a_tie():
    from mbl_seg.agglomeration import Sweep

    flat = Sweep(np.array([0.2, 0.4]), np.ones(2), np.ones(2), np.zeros(2), np.ones(2))
    assert choose({"median": flat, "mean": flat}) == ("median", 0.2)
    with pytest.raises(ValueError, match="scorings must name some of"):
        choose({"max": flat})
    with pytest.raises(ValueError, match="scorings must name some of"):
        choose({})


def test_bad_inputs_are_named():
    affs, labels = _volume(0, shape=(4, 16, 16))
    with pytest.raises(ValueError, match="criterion must be one of"):
        operating_point(affs, labels, affs, labels, voxel_size=VOXEL, criterion="voi")
    with pytest.raises(ValueError, match=r"test: expected affinities \(3, Z, Y, X\)"):
        operating_point(affs, labels, affs[:, :2], labels, voxel_size=VOXEL)
    with pytest.raises(ValueError, match="voxel_size must be 3 numbers"):
        operating_point(affs, labels, affs, labels, voxel_size=(8, 8))
    with pytest.raises(ValueError, match="scorings must name some of"):
        operating_point(affs, labels, affs, labels, voxel_size=VOXEL, scorings="mean")


def test_the_table_has_one_row_per_method_and_refuses_other_input():
    val, test = _volume(11), _volume(12)
    point = operating_point(*val, *test, voxel_size=VOXEL, thresholds=[0.3, 0.6])
    lines = table({"a": point, "a much longer name": point}).splitlines()
    assert len(lines) == 4 and lines[3].startswith("a much longer name")
    assert f"{point.agglomerated.voi_total:.3f}" in lines[2]
    with pytest.raises(TypeError, match="points must be a dict"):
        table([point])


def test_without_the_watershed_the_table_has_only_the_agglomeration():
    val, test = _volume(15), _volume(16)
    alone = operating_point(*val, *test, voxel_size=VOXEL, thresholds=[0.3, 0.6], watershed=False)
    assert alone.watershed is None
    with_it = operating_point(*val, *test, voxel_size=VOXEL, thresholds=[0.3, 0.6])
    assert alone.agglomerated == with_it.agglomerated
    lines = table({"a": alone}).splitlines()
    assert "watershed" not in lines[0] and lines[1].split()[0] == "scoring"
    mixed = table({"a": alone, "b": with_it}).splitlines()
    assert "watershed, h = 16 nm" in mixed[0] and mixed[2].split()[1:5] == ["-"] * 4
