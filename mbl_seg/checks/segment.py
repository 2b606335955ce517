"""Self-checks for the segmentation exercises: the seeded watershed.

Used in: notebooks/01_classical_boundaries
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from ..evaluate import voi
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_seeded_watershed"]


def _rectangles() -> tuple[np.ndarray, np.ndarray, float]:
    """Three cells in a row, walls of value 1 three pixels wide, interiors 0.1."""
    labels = np.zeros((40, 70), np.uint64)
    labels[3:37, 3:20], labels[3:37, 23:45], labels[3:37, 48:67] = 1, 2, 3
    boundary = np.where(labels > 0, 0.1, 1.0).astype(np.float32)
    return boundary, labels, 0.5


def _faint_wall() -> tuple[np.ndarray, np.ndarray, float]:
    """Two cells whose shared wall is faint (0.4): only a threshold below 0.4 splits them."""
    labels = np.zeros((40, 64), np.uint64)
    labels[3:37, 3:30], labels[3:37, 33:61] = 1, 2
    boundary = np.where(labels > 0, 0.05, 1.0).astype(np.float32)
    boundary[3:37, 30:33] = 0.4
    return boundary, labels, 0.3


def _as_segmentation(value, shape) -> np.ndarray:
    if value is None:
        raise _Fail("your function returned None: did you forget the `return` line?")
    seg = np.asarray(value)
    if seg.shape != shape:
        raise _Fail(f"your segmentation has shape {seg.shape}, the boundary map {shape}: "
                    "return one label per pixel")
    if not (np.issubdtype(seg.dtype, np.integer) or seg.dtype == bool):
        raise _Fail(f"your segmentation has dtype {seg.dtype}: return integer labels (the "
                    "watershed's output), not the distance or the boundary map")
    return seg


def _interior_errors(seg: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """VOI split and merge on the cells' pixels (the walls may go either way)."""
    inside = labels > 0
    return voi(labels[inside][None].astype(np.uint64), seg[inside][None].astype(np.uint64))


def _flooded_distance(seg: np.ndarray, boundary: np.ndarray, threshold: float) -> bool:
    """Whether ``seg`` is what flooding the distance map (not the boundary map) gives.

    The seeds sit on the maxima of the distance, so the first seed to flood runs
    downhill over the walls (distance 0) into every other cell.
    """
    distance = ndimage.distance_transform_edt(boundary < threshold)
    for size in (3, 5, 7):  # the notebook suggests size=5; students try others
        maxima = (ndimage.maximum_filter(distance, size=size) == distance) & (distance > 0)
        flooded = watershed(distance, markers=ndimage.label(maxima)[0])
        if sum(voi(flooded[None].astype(np.uint64), seg[None].astype(np.uint64))) < 0.05:
            return True
    return False


def _merge_hint(name: str, seg: np.ndarray, boundary: np.ndarray, threshold: float) -> str:
    """The hint for different cells sharing a segment on the example ``name``."""
    if _flooded_distance(seg, boundary, threshold):
        return ("you flooded the distance transform: its maxima are the seeds, so the water "
                "runs downhill from one seed over the walls (distance 0) into the other "
                "cells. The distance only gives the seeds; flood the boundary map, "
                "`watershed(boundary, markers=seeds)`")
    if name.startswith("two"):
        return ("threshold at the `threshold` argument, not a fixed 0.5: the wall between "
                "the two cells is 0.4")
    return ("are the seeds inside the cells? Threshold with `boundary < threshold` "
            "(inside = low boundary) and take the distance transform of *that*")


def _body(fn: Callable) -> str:
    for make, name in ((_rectangles, "three cells"), (_faint_wall, "two cells, faint wall")):
        boundary, labels, threshold = make()
        seg = _as_segmentation(_call(fn, boundary, threshold), boundary.shape)
        if (seg == 0).any():
            raise _Fail(f"on the {name} example some pixels are 0 (unlabelled): "
                        "every pixel should get the label of the seed that floods it — pass "
                        "the seeds as `markers` and flood the whole boundary map")
        split, merge = _interior_errors(seg, labels)
        if merge > 1e-9 and len(np.unique(seg)) == 1 and name == "three cells":
            raise _Fail(f"on the {name} example the whole image is one segment: one label "
                        "for all your seeds. Hint: number the seeds with "
                        "`ndimage.label(seeds)` before passing them as `markers` (a mask of "
                        "maxima gives every seed the label 1)")
        if merge > 1e-9:
            raise _Fail(f"on the {name} example different cells share a segment "
                        f"(VOI merge {merge:.2f} bits). "
                        f"Hint: {_merge_hint(name, seg, boundary, threshold)}")
        if split > 1e-9:
            raise _Fail(f"on the {name} example a cell is split into several segments "
                        f"(VOI split {split:.2f} bits). Hint: one seed per cell — take the "
                        "maxima of the distance transform (a maximum filter, then "
                        "`ndimage.label` so that touching maxima form one seed), and pass "
                        "them to the watershed as markers")
    return "every cell is one segment, the faint wall splits at the given threshold"


def check_seeded_watershed(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(boundary, threshold) -> labels``: a seeded watershed on a 2D boundary map.

    The function should threshold (``boundary < threshold`` is inside a
    cell), take the distance transform of the inside, put one seed on each
    maximum of the distance, and flood the boundary map from the seeds.
    The check runs it on small images whose cells are known and compares
    the segments inside the cells (pixels on the walls may go either way).

    Parameters
    ----------
    fn : callable
        Your function: ``(boundary (Y, X) float32, threshold float) -> (Y, X) int labels``.
    verbose : bool, optional
        Print the verdict (default True).

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from mbl_seg.segment import seeded_watershed
    >>> check_seeded_watershed(lambda b, t: seeded_watershed(b, threshold=t, voxel_size=(1, 1))).passed
    ✅ seeded_watershed: correct — every cell is one segment, the faint wall splits at the given threshold
    True

    Used in: notebooks/01_classical_boundaries
    """
    return _run("seeded_watershed", lambda: _body(fn), verbose)
