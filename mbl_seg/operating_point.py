"""Comparing segmentation methods fairly: each at the operating point chosen on validation.

A method that segments affinities has settings (the watershed's seed height,
the agglomeration threshold) and a comparison is only fair if each method gets
its best setting chosen the same way, on data it is not scored on. This module
does that for the course's pipeline of notebook 07:

1. the 3D watershed of the affinities at one fixed seed height ``h`` (no
   setting chosen: the quick baseline);
2. fragments (:func:`mbl_seg.segment.fragments`, pieces under ``min_size``
   voxels absorbed) and agglomeration with each of notebook 07's edge scorings
   (:data:`SCORINGS`: the mean, median or 75th percentile of a face's
   affinities), swept over ``thresholds`` on the *validation* volume; the
   scoring and threshold with the lowest ``criterion`` there are applied once
   on the *test* volume.

The whole test sweep is kept too: its VOI split against VOI merge is the
method's split/merge curve, which shows whether one method is better at every
threshold or only at the one chosen.

Used in: notebooks/06_lsds, notebooks/07_agglomeration, :mod:`mbl_seg.leaderboard`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .agglomeration import Sweep, agglomerate, sweep
from .evaluate import Scores, evaluate
from .segment import fragments, watershed_from_affinities

__all__ = ["OperatingPoint", "operating_point", "sweeps", "choose", "table", "THRESHOLDS", "MIN_SIZE", "H",
           "CRITERIA", "SCORINGS"]

H = 16.0  # nm: the watershed's seed height in notebooks 01-06
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 ... 0.95
MIN_SIZE = 100  # voxels: fragments smaller than this are absorbed (notebook 07's value)
CRITERIA = ("voi_total", "arand")
# notebook 07's edge scorings: 1 - a statistic of the affinities on a contact face, by name
SCORINGS = {"mean": {"scoring": "mean"},
            "median": {"scoring": "quantile", "quantile": 0.5},
            "75th percentile": {"scoring": "quantile", "quantile": 0.75}}


class OperatingPoint(NamedTuple):
    """One method on a validation and a test volume; VOI in bits, ARAND in [0, 1].

    ``watershed``: the test volume's scores of the watershed at ``h`` (None if not asked for);
    ``scoring``: the edge scoring chosen on validation (a key of :data:`SCORINGS`);
    ``threshold``: the agglomeration threshold chosen on validation with it;
    ``agglomerated``: the test volume's scores at that threshold;
    ``validation``, ``test``: the sweeps of that scoring over every threshold (split/merge
    curves);
    ``segmentation``: the test volume's agglomeration at ``threshold``.
    """

    watershed: Scores | None
    scoring: str
    threshold: float
    agglomerated: Scores
    validation: Sweep
    test: Sweep
    segmentation: np.ndarray


def operating_point(validation_affs: np.ndarray, validation_labels: np.ndarray,
                    test_affs: np.ndarray, test_labels: np.ndarray, *, voxel_size,
                    thresholds: Sequence[float] = THRESHOLDS, h: float = H,
                    min_size: int = MIN_SIZE, criterion: str = "voi_total",
                    scorings: Sequence[str] = tuple(SCORINGS),
                    watershed: bool = True) -> OperatingPoint:
    """Choose scoring and threshold on validation, score them (and the watershed) on test.

    Parameters
    ----------
    validation_affs, test_affs : (3, Z, Y, X) ndarray of float
        Nearest-neighbour affinities (z, y, x) in [0, 1] of each volume, e.g.
        the first three channels of a network's prediction.
    validation_labels, test_labels : (Z, Y, X) ndarray of int
        Their ground truth, 0 = background (ignored by the scores).
    voxel_size : sequence of 3 float
        nm per voxel (z, y, x), the same for both volumes.
    thresholds : sequence of float
        Increasing agglomeration thresholds in [0, 1] to sweep.
    h : float
        Seed height of the watershed row in nm.
    watershed : bool
        Also score the watershed at ``h`` on test (the quick baseline; about as
        long as the rest on a CPU). False leaves ``watershed`` None.
    min_size : int
        Fragments under this many voxels are absorbed by their neighbours.
    criterion : {"voi_total", "arand"}
        What the validation sweep minimises.
    scorings : sequence of str
        Keys of :data:`SCORINGS` to choose from (default all three).

    Returns
    -------
    OperatingPoint

    Examples
    --------
    Two objects either side of a membrane at x = 6:

    >>> labels = np.zeros((4, 12, 12), np.uint64); labels[..., :6] = 1; labels[..., 7:] = 2
    >>> affs = np.ones((3, 4, 12, 12), np.float32); affs[..., 6] = 0.1; affs[2, ..., 7] = 0.1
    >>> point = operating_point(affs, labels, affs, labels, voxel_size=(8, 8, 8),
    ...                         thresholds=[0.05, 0.5, 0.95], min_size=0)
    >>> point.scoring, point.threshold, round(point.agglomerated.voi_total, 3)
    ('mean', 0.05, 0.0)
    """
    _check_choice(criterion, scorings)
    if len(voxel_size) != 3:
        raise ValueError(f"voxel_size must be 3 numbers in nm (z, y, x), got {voxel_size!r}")
    volumes = {"validation": (validation_affs, validation_labels), "test": (test_affs, test_labels)}
    for name, (affs, labels) in volumes.items():
        affs, labels = np.asarray(affs), np.asarray(labels)
        if affs.ndim != 4 or affs.shape[0] != 3 or affs.shape[1:] != labels.shape:
            raise ValueError(f"{name}: expected affinities (3, Z, Y, X) and labels (Z, Y, X) of "
                             f"the same volume, got {affs.shape} and {labels.shape}")
    frags = {name: fragments(affs, voxel_size=voxel_size, min_size=min_size)
             for name, (affs, _) in volumes.items()}
    on_validation = sweeps(validation_affs, frags["validation"], validation_labels,
                           thresholds=thresholds, scorings=scorings)
    scoring, threshold = choose(on_validation, criterion)
    options = SCORINGS[scoring]
    on_test = sweep(test_affs, frags["test"], test_labels, thresholds=thresholds, **options)
    segmentation = next(agglomerate(test_affs, frags["test"], thresholds=[threshold], **options))
    baseline = None
    if watershed:
        baseline = evaluate(test_labels,
                            watershed_from_affinities(test_affs, voxel_size=voxel_size, h=h))
    return OperatingPoint(baseline, scoring, threshold,
                          evaluate(test_labels, segmentation), on_validation[scoring], on_test,
                          segmentation)


def sweeps(affs: np.ndarray, fragments: np.ndarray, labels: np.ndarray, *,
           thresholds: Sequence[float] = THRESHOLDS,
           scorings: Sequence[str] = tuple(SCORINGS)) -> dict[str, Sweep]:
    """Each scoring's sweep of one volume's fragments, by name: what :func:`choose` reads."""
    return {name: sweep(affs, fragments, labels, thresholds=thresholds, **SCORINGS[name])
            for name in scorings}


def choose(sweeps: Mapping[str, Sweep], criterion: str = "voi_total") -> tuple[str, float]:
    """The scoring and threshold with the lowest ``criterion`` over validation sweeps.

    ``sweeps`` maps a scoring's name (a key of :data:`SCORINGS`) to its sweep
    on the validation volume; on a tie the first scoring and the lower
    threshold win.

    >>> from mbl_seg.agglomeration import Sweep
    >>> def made(totals):
    ...     return Sweep(np.array([0.3, 0.6]), np.array(totals), np.zeros(2), np.zeros(2), np.ones(2))
    >>> choose({"mean": made([1.5, 1.4]), "median": made([1.3, 1.6])})
    ('median', 0.3)
    """
    _check_choice(criterion, sweeps)
    if not sweeps:
        raise ValueError("sweeps is empty: give at least one scoring's validation sweep")
    best = None
    for name, result in sweeps.items():
        values = np.asarray(getattr(result, criterion), dtype=float)
        k = int(np.argmin(values))
        if best is None or values[k] < best[0]:
            best = (values[k], name, float(result.thresholds[k]))
    return best[1], best[2]


def _check_choice(criterion: str, scorings) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    unknown = [name for name in scorings if name not in SCORINGS]
    if isinstance(scorings, str) or unknown or not len(scorings):
        raise ValueError(f"scorings must name some of {tuple(SCORINGS)}, got {scorings!r}")


def table(points: Mapping[str, OperatingPoint], *, h: float = H) -> str:
    """The methods' test scores side by side: the watershed at ``h``, the chosen agglomeration.

    >>> from mbl_seg.agglomeration import Sweep
    >>> none = Sweep(*[np.zeros(1)] * 5)
    >>> point = OperatingPoint(Scores(1.0, 0.5, 1.5, 0.3, 0.6), "median", 0.4,
    ...                        Scores(0.6, 0.4, 1.0, 0.2, 0.5), none, none, np.zeros(1))
    >>> print(table({"affinities": point}))
    method      watershed, h = 16 nm                    agglomeration (scoring and threshold chosen on validation)
                VOI split  VOI merge  VOI total  ARAND  scoring           VOI split  VOI merge  VOI total  ARAND
    affinities      1.000      0.500      1.500  0.300  median, t = 0.40      0.600      0.400      1.000  0.200
    """
    if not isinstance(points, Mapping) or not all(isinstance(p, OperatingPoint)
                                                  for p in points.values()):
        raise TypeError("points must be a dict {method name: operating_point(...)}")
    width = max([len("method"), *map(len, points)]) + 2
    chosen = {name: f"{p.scoring}, t = {p.threshold:.2f}" for name, p in points.items()}
    column = max([len("scoring"), *map(len, chosen.values())]) + 2
    scores = "VOI split  VOI merge  VOI total  ARAND"
    with_watershed = any(p.watershed is not None for p in points.values())
    left = f"{f'watershed, h = {h:g} nm':<40}" if with_watershed else ""
    lines = [f"{'method':<{width}}{left}agglomeration (scoring and threshold chosen on "
             "validation)",
             f"{'':<{width}}{scores + '  ' if with_watershed else ''}{'scoring':<{column}}{scores}"]
    for name, p in points.items():
        cells = []
        if with_watershed:
            w = p.watershed
            cells = ([f"{w.voi_split:9.3f}", f"{w.voi_merge:9.3f}", f"{w.voi_total:9.3f}",
                      f"{w.arand:5.3f}"] if w is not None else
                     [f"{'-':>9}", f"{'-':>9}", f"{'-':>9}", f"{'-':>5}"])
        cells += [f"{chosen[name]:<{column}}{p.agglomerated.voi_split:9.3f}",
                  f"{p.agglomerated.voi_merge:9.3f}", f"{p.agglomerated.voi_total:9.3f}",
                  f"{p.agglomerated.arand:5.3f}"]
        lines.append(f"{name:<{width}}" + "  ".join(cells))
    return "\n".join(lines)
