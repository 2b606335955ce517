import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from mbl_seg.checks import check_seeded_watershed


def _student(boundary, threshold, *, invert=False, fixed=None, markers=True, mask=False,
             connect=True, as_float=False, boolean_seeds=False, flood="boundary"):
    t = threshold if fixed is None else fixed
    inside = boundary > t if invert else boundary < t
    distance = ndimage.distance_transform_edt(inside)
    peaks = (ndimage.maximum_filter(distance, size=3) == distance) & (distance > 0)
    seeds = ndimage.label(peaks)[0] if connect else np.where(peaks, np.arange(peaks.size)
                                                              .reshape(peaks.shape) + 1, 0)
    if boolean_seeds:  # the mask of maxima itself: every seed has label 1
        seeds = peaks
    if as_float:
        return distance
    if not markers:
        return watershed(boundary)
    landscape = {"boundary": boundary, "distance": distance, "-distance": -distance}[flood]
    return watershed(landscape, markers=seeds, mask=inside if mask else None)


def test_a_right_implementation_passes():
    assert check_seeded_watershed(_student, verbose=False)
    # flooding the inverted distance from its maxima is a right answer too
    assert check_seeded_watershed(lambda b, t: _student(b, t, flood="-distance"), verbose=False)


def test_each_mistake_gets_its_hint():
    cases = {
        "boundary < threshold": dict(invert=True),
        "not a fixed 0.5": dict(fixed=0.5),
        "unlabelled": dict(mask=True),
        "ndimage.label": dict(connect=False),
        "integer labels": dict(as_float=True),
        # all seeds with one label flood one segment: name the missing numbering
        "one label for all your seeds": dict(boolean_seeds=True),
        # the seeds on the distance's maxima flood downhill over the walls
        "you flooded the distance transform": dict(flood="distance"),
    }
    for hint, kwargs in cases.items():
        result = check_seeded_watershed(lambda b, t, kw=kwargs: _student(b, t, **kw),
                                        verbose=False)
        assert not result.passed and hint in result.message, (hint, result.message)


def test_unfinished_and_forgotten_return():
    def todo(boundary, threshold):
        raise NotImplementedError

    assert "not implemented" in check_seeded_watershed(todo, verbose=False).message
    assert "return" in check_seeded_watershed(lambda b, t: None, verbose=False).message


def test_flooding_the_distance_hint_only_for_that_mistake():
    """Seeds outside the cells merge cells too, but they did not flood the distance."""
    result = check_seeded_watershed(lambda b, t: _student(b, t, invert=True), verbose=False)
    assert "are the seeds inside the cells?" in result.message
    assert "distance transform:" not in result.message
    for size in (3, 7):  # other maximum filters than the notebook's 5: the same mistake
        def flooded(boundary, threshold, size=size):
            distance = ndimage.distance_transform_edt(boundary < threshold)
            maxima = (ndimage.maximum_filter(distance, size=size) == distance) & (distance > 0)
            return watershed(distance, markers=ndimage.label(maxima)[0])
        result = check_seeded_watershed(flooded, verbose=False)
        assert "you flooded the distance transform" in result.message, result.message
