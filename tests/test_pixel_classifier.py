"""Scribbles and the pixel classifier: right classes, determinism, separation, input checks."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.stats import rankdata

from mbl_seg.data import synthetic_volume
from mbl_seg.features import filter_bank
from mbl_seg.pixel_classifier import BOUNDARY, INSIDE, PixelClassifier, scribbles


def boundaries_from_labels(labels):
    """Boundary where a pixel's label differs from an in-plane 4-neighbour, or is 0."""
    out = labels == 0
    for axis in (-2, -1):
        differs = np.diff(labels, axis=axis) != 0
        lower = [slice(None)] * labels.ndim
        upper = [slice(None)] * labels.ndim
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        out[tuple(lower)] |= differs
        out[tuple(upper)] |= differs
    return out


def roc_auc(score, positive):
    """Probability that a random positive scores above a random negative (ties count 1/2)."""
    ranks = rankdata(score)  # ties get their average rank
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@pytest.fixture(scope="module")
def toy():
    volume = synthetic_volume((4, 128, 128), "fly", seed=0)
    raw, labels = volume.raw[1], volume.labels[1]
    px = (1.0, 1.0)  # sigmas in pixels
    return (raw, boundaries_from_labels(labels),
            filter_bank(raw, sigmas=(1.0, 2.0, 4.0), voxel_size=px))


def test_roc_auc_helper_matches_brute_force_pairs():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 30).astype(float)
    positive = rng.random(30) < 0.4
    pairs = [(p > n) + 0.5 * (p == n) for p in score[positive] for n in score[~positive]]
    assert roc_auc(score, positive) == pytest.approx(np.mean(pairs))


# --- scribbles ------------------------------------------------------------------------------


def test_scribbles_mark_only_the_right_class(toy):
    _, boundaries, _ = toy
    marks = scribbles(boundaries, n_strokes=15, length=50, margin=3, seed=1)
    assert marks.dtype == np.uint8 and marks.shape == boundaries.shape
    assert set(np.unique(marks)) == {0, BOUNDARY, INSIDE}
    assert boundaries[marks == BOUNDARY].all()
    distance = ndi.distance_transform_edt(~boundaries)
    assert (distance[marks == INSIDE] >= 3).all()
    # sparse, stroke-like: a few hundred pixels per class, at most one piece per stroke
    for value in (BOUNDARY, INSIDE):
        count = (marks == value).sum()
        assert 50 <= count <= 15 * 50
        assert ndi.label(marks == value, structure=np.ones((3, 3)))[1] <= 15


def test_scribbles_are_deterministic_from_the_seed(toy):
    _, boundaries, _ = toy
    first = scribbles(boundaries, seed=3)
    assert np.array_equal(first, scribbles(boundaries, seed=3))
    assert not np.array_equal(first, scribbles(boundaries, seed=4))
    # a float32 target gives the same strokes as the bool mask it thresholds to
    assert np.array_equal(first, scribbles(boundaries.astype(np.float32), seed=3))


def test_scribbles_in_3d_stay_in_their_sections():
    labels = synthetic_volume((5, 96, 96), "fly", seed=2).labels
    boundaries = boundaries_from_labels(labels)
    marks = scribbles(boundaries, n_strokes=6, length=30, seed=0)
    assert marks.shape == boundaries.shape
    assert boundaries[marks == BOUNDARY].all() and not boundaries[marks == INSIDE].any()
    # each stroke is drawn within one section: at most one in-plane piece per stroke
    flat_pieces = sum(ndi.label(section == BOUNDARY, structure=np.ones((3, 3)))[1]
                      for section in marks)
    assert flat_pieces <= 6


@pytest.mark.parametrize("boundaries, kwargs, error, words", [
    (np.zeros((16, 16), bool), {}, ValueError, "both boundary"),
    (np.ones((16, 16)), {}, ValueError, "both boundary"),
    (np.eye(16, dtype=bool), {"margin": 20}, ValueError, "lower margin"),
    (np.eye(16, dtype=bool), {"n_strokes": 0}, ValueError, "n_strokes must be"),
    (np.eye(16, dtype=bool), {"length": 2.5}, ValueError, "length must be"),
    (np.eye(16, dtype=bool), {"margin": -1}, ValueError, "margin must be"),
    (np.eye(16, dtype=complex), {}, TypeError, "real"),
    (np.zeros((2, 2, 8, 8)), {}, ValueError, "dimensions"),
    ([[0, 1], [1, 0]], {}, TypeError, "numpy array"),
])
def test_scribbles_bad_inputs(boundaries, kwargs, error, words):
    with pytest.raises(error, match=words):
        scribbles(boundaries, **kwargs)


# --- the classifier -------------------------------------------------------------------------


def test_classifier_separates_boundary_from_inside_on_held_out_pixels(toy):
    _, boundaries, features = toy
    marks = scribbles(boundaries, seed=0)
    probability = PixelClassifier(hidden=16, seed=0).fit(features, marks).predict(features)
    assert probability.shape == boundaries.shape and probability.dtype == np.float32
    assert 0 <= probability.min() and probability.max() <= 1
    held_out = marks == 0
    auc = roc_auc(probability[held_out], boundaries[held_out])
    assert auc > 0.9, auc
    # logistic regression (hidden=0) is a weaker, still useful, baseline
    linear = PixelClassifier(hidden=0).fit(features, marks).predict(features)
    assert roc_auc(linear[held_out], boundaries[held_out]) > 0.85


def test_classifier_is_deterministic_from_its_seed(toy):
    _, boundaries, features = toy
    marks = scribbles(boundaries, n_strokes=5, seed=0)
    runs = [PixelClassifier(hidden=8, seed=s).fit(features, marks, iterations=30).predict(
        features) for s in (5, 5, 6)]
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_loss_is_class_balanced():
    """Uninformative features: the balanced optimum is p = 0.5, not the labelled fraction."""
    features = np.zeros((3, 20, 20), dtype=np.float32)
    marks = np.full((20, 20), INSIDE, dtype=np.uint8)
    marks[:2] = BOUNDARY  # 10 % boundary pixels
    classifier = PixelClassifier(hidden=4, seed=0).fit(features, marks, iterations=300,
                                                        learning_rate=0.05)
    assert np.allclose(classifier.predict(features), 0.5, atol=0.02)
    assert classifier.losses[-1] <= classifier.losses[0] + 1e-6
    assert len(classifier.losses) == 300


def test_chunked_prediction_equals_one_pass_and_works_in_3d(capsys):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4, 3, 10, 12)).astype(np.float32)
    marks = np.zeros((3, 10, 12), dtype=np.uint8)
    marks[features[0] > 1] = BOUNDARY
    marks[features[0] < -1] = INSIDE
    classifier = PixelClassifier(hidden=8).fit(features, marks, iterations=102, verbose=True)
    assert capsys.readouterr().out.count("iteration") == 3  # steps 0, 100 and the last
    whole = classifier.predict(features)
    assert whole.shape == (3, 10, 12)
    assert np.allclose(classifier.predict(features, chunk_size=7), whole, atol=1e-6)
    assert (whole[marks == BOUNDARY] > 0.5).all() and (whole[marks == INSIDE] < 0.5).all()


@pytest.mark.parametrize("marks, error, words", [
    (np.zeros((9, 9), np.uint8), ValueError, "spatial shape"),
    (np.ones((8, 8), np.uint8), ValueError, "no inside"),
    (np.full((8, 8), 2, np.uint8), ValueError, "no boundary"),
    (np.full((8, 8), 3, np.uint8), ValueError, r"found \[3\]"),
    (np.ones((8, 8)) * 1.0, TypeError, "integers"),
    (np.ones((2, 2, 8, 8), np.uint8), ValueError, "dimensions"),
])
def test_fit_bad_annotations(marks, error, words):
    with pytest.raises(error, match=words):
        PixelClassifier().fit(np.zeros((3, 8, 8), np.float32), marks)


def test_classifier_misuse_raises_clear_errors():
    marks = np.zeros((8, 8), np.uint8)
    marks[0], marks[-1] = BOUNDARY, INSIDE
    with pytest.raises(RuntimeError, match="call fit"):
        PixelClassifier().predict(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="hidden must be"):
        PixelClassifier(hidden=-1)
    classifier = PixelClassifier(hidden=2).fit(np.zeros((3, 8, 8)), marks, iterations=2)
    with pytest.raises(ValueError, match="trained on 3 features, got 2"):
        classifier.predict(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="dimensions"):
        classifier.predict(np.zeros((8, 8)))
    with pytest.raises(TypeError, match="real"):
        classifier.predict(np.zeros((3, 8, 8), complex))


def _labelled_features():
    features = np.random.default_rng(0).normal(size=(3, 8, 8)).astype(np.float32)
    marks = np.zeros((8, 8), np.uint8)
    marks[0], marks[-1] = BOUNDARY, INSIDE
    return features, marks


@pytest.mark.parametrize("iterations, error", [(-5, ValueError), (0, ValueError),
                                               (2.5, ValueError), ("100", TypeError),
                                               (None, TypeError)])
def test_fit_iterations_must_be_a_positive_int(iterations, error):
    features, marks = _labelled_features()
    with pytest.raises(error, match="iterations must be an int >= 1"):
        PixelClassifier().fit(features, marks, iterations=iterations)


def test_fit_takes_numpy_numbers():
    features, marks = _labelled_features()
    classifier = PixelClassifier(hidden=np.int64(2), seed=np.int64(0)).fit(
        features, marks, iterations=np.int64(3), learning_rate=np.array(0.01))
    assert len(classifier.losses) == 3
    assert classifier.predict(features, chunk_size=np.array(7)).shape == (8, 8)


def test_nan_features_and_nan_annotations_are_explained():
    features, marks = _labelled_features()
    features[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"features contain nan or inf \(1 of 192 values\)"):
        PixelClassifier().fit(features, marks)
    clean, _ = _labelled_features()
    classifier = PixelClassifier(hidden=2).fit(clean, marks, iterations=2)
    with pytest.raises(ValueError, match="features contain nan"):
        classifier.predict(features)
    float_marks = marks.astype(np.float32)
    float_marks[3, 3] = np.nan
    with pytest.raises(TypeError, match="0 for unlabelled, not nan"):
        PixelClassifier().fit(clean, float_marks)
