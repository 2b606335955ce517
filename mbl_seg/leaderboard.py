"""The course's final table: every method of the course on the same held-out volume.

One row per method and way of segmenting, all scored on ``fly/test`` (a 3D
volume of 8 nm voxels that no network or classifier was trained on):

* classical boundaries (notebook 01's pixel classifier, trained as there on
  ``fly/train2d``) and the 2D U-Nets of notebooks 02 (boundaries), 03
  (affinities) and 04 (affinities fine-tuned with MALIS): seeded watershed,
  section by section;
* the 3D U-Net of notebook 05 and the affinity channels of notebook 06's
  MTLSD network: 3D watershed, and fragments
  (:func:`mbl_seg.segment.fragments`, pieces under :data:`MIN_SIZE` voxels
  absorbed, as in notebook 07) + hierarchical
  agglomeration (:func:`mbl_seg.segment.agglomerate`, with the edge scoring
  of notebook 07 chosen on validation: mean, median or 75th percentile).

A second table (:data:`TABLES`) scores the fly networks on ``zebrafish/test``
(other tissue, 36 x 12 x 12 nm voxels), as they are and fine-tuned on 16
zebrafish sections, each scoring and threshold chosen on ``zebrafish/validation``: the
domain shift of notebook 06.

The networks are the shipped ones (``mbl_seg/data/models/``, see
:func:`mbl_seg.checkpoints.load_pretrained`).

Settings, the same for every row: the watershed's seed height is
``h = 16 nm``, the value notebooks 01-03, 05 and 06 use (notebook 04 finds
32 nm slightly better for its two networks on ``fly/validation2d``; here no
row gets a watershed tuned for it). The agglomeration's scoring and threshold
are the pair with the lowest VOI total on ``fly/validation`` (a sweep over
:data:`THRESHOLDS` for each of :data:`mbl_seg.operating_point.SCORINGS`), then
applied once on the test volume. The 2D methods
segment every section on its own, so each neurite is cut at every section:
their VOI split is what 3D context buys.

The run time of a row is the wall time of its prediction and segmentation of
the test volume on this machine; what is learnt beforehand (training the
classifier of notebook 01, choosing the scoring and threshold on the validation volume)
is not counted. Two rows that share a prediction both count it.

Used in: notebooks/07_agglomeration, ``mbl-seg leaderboard`` (README's table).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from . import data, evaluate
from ._leaderboard_text import (END, HEADER, START, TABLE_NAMES, Row, largest_difference,
                                machine_note, markdown, markers, read_table, readme_rows,
                                replace_block, update_readme)
from .operating_point import H, MIN_SIZE, SCORINGS, THRESHOLDS, choose, sweeps
from .segment import per_section, seeded_watershed, watershed_from_affinities

__all__ = ["Row", "HEADER", "METHODS", "TABLES", "TABLE_NAMES", "markers", "THRESHOLDS",
           "chosen_agglomeration", "MIN_SIZE", "final_table", "markdown", "machine_note",
           "replace_block", "read_table", "update_readme", "readme_rows", "largest_difference",
           "START", "END"]

SIGMAS = (8.0, 16.0, 32.0, 64.0)  # nm: notebook 01's filter bank
CLASSIFIER_DATA = "fly/train2d"  # notebook 01 trains its classifier on section 0 of it


class _Method(NamedTuple):
    label: str
    network: str | None  # a shipped checkpoint; None: notebook 01's pixel classifier
    output: str  # "boundaries2d", "affs2d" or "affs3d": how it is predicted and segmented
    agglomerate: bool
    resample: bool = False  # segment on the network's voxel grid (notebook 09), score on ours


METHODS = {
    "classical": _Method("classical boundaries (01)", None, "boundaries2d", False),
    "boundaries2d": _Method("2D U-Net boundaries (02)", "02_boundaries2d_fly", "boundaries2d",
                            False),
    "affs2d": _Method("2D U-Net affinities (03)", "03_affs2d_fly", "affs2d", False),
    "malis2d": _Method("2D U-Net affinities, MALIS (04)", "04_malis2d_fly", "affs2d", False),
    "affs3d": _Method("3D U-Net affinities (05)", "05_affs3d_fly", "affs3d", True),
    "mtlsd": _Method("3D MTLSD, its affinities (06)", "06_mtlsd_fly", "affs3d", True),
    "acrlsd": _Method("3D auto-context ACRLSD (06)", "06_acrlsd_fly", "affs3d", True),
    "affs3d_zebrafish": _Method("3D U-Net affinities (05), + 16 zebrafish sections",
                                "05_affs3d_fly_tuned_zebrafish", "affs3d", True),
    "mtlsd_zebrafish": _Method("3D MTLSD, its affinities (06), + 16 zebrafish sections",
                               "06_mtlsd_fly_tuned_zebrafish", "affs3d", True),
    "acrlsd_zebrafish": _Method("3D auto-context ACRLSD (06), + 16 zebrafish sections",
                                "06_acrlsd_fly_tuned_zebrafish", "affs3d", True),
    "affs3d_grid": _Method("3D U-Net affinities (05), on its voxel size", "05_affs3d_fly",
                           "affs3d", True, True),
    "mtlsd_grid": _Method("3D MTLSD, its affinities (06), on its voxel size", "06_mtlsd_fly",
                          "affs3d", True, True),
}


class _Table(NamedTuple):
    volume: str  # the held-out volume
    validation: str  # where each agglomeration threshold is chosen
    methods: tuple[str, ...]  # keys of METHODS, in the table's order


#: README's tables: the course's final table on fly, and the fly networks on zebrafish, as they
#: are and fine-tuned on 16 zebrafish sections (notebook 06's domain shift)
TABLES = {
    "fly": _Table("fly/test", "fly/validation",
                  ("classical", "boundaries2d", "affs2d", "malis2d", "affs3d", "mtlsd",
                   "acrlsd")),
    "zebrafish": _Table("zebrafish/test", "zebrafish/validation",
                        ("affs3d", "affs3d_zebrafish", "mtlsd", "mtlsd_zebrafish", "acrlsd",
                         "acrlsd_zebrafish")),
    "fibsem": _Table("fibsem/test", "fibsem/train",
                     ("classical", "boundaries2d", "affs2d", "malis2d", "affs3d", "affs3d_grid",
                      "mtlsd", "mtlsd_grid")),
}


def final_table(volume="fly/test", *, validation="fly/validation",
                methods: Sequence[str] | None = None, crop: tuple | None = None,
                h: float = H, thresholds: Sequence[float] = THRESHOLDS,
                device: str | None = None, verbose: bool = False) -> list[Row]:
    """Segment ``volume`` with every method of the course and score each segmentation.

    Parameters
    ----------
    volume : str or dataset
        The held-out volume: a course dataset name or a loaded dataset with
        ``raw`` (Z, Y, X) uint8, ``labels`` (Z, Y, X) uint64 and ``voxel_size``.
    validation : str or dataset
        Where the agglomeration threshold is chosen (only loaded if needed).
    methods : sequence of str, optional
        Keys of :data:`METHODS`, in the order wanted; default the fly table's
        (:data:`TABLES`).
    crop : tuple of slice, optional
        The same (z, y, x) crop of both volumes, e.g. ``np.s_[:8, :64, :64]``
        for a quick look.
    h : float
        Seed height of every watershed in nm.
    thresholds : sequence of float
        Increasing agglomeration thresholds to sweep on ``validation``.
    device : str, optional
        Torch device; default :func:`mbl_seg.env.select_device`.
    verbose : bool
        Print each row to stderr as it is done.

    Returns
    -------
    list of Row
        Per method: its watershed row, then (3D methods) its agglomeration row.

    Examples
    --------
    >>> rows = final_table(methods=["classical"], crop=np.s_[:2, :64, :64], device="cpu")
    >>> rows[0].method, rows[0].segmentation
    ('classical boundaries (01)', 'watershed, per section')
    """
    from .env import select_device

    keys = _method_keys(methods)
    h = float(h)
    if not h > 0:
        raise ValueError(f"h must be a positive height in nm, got {h}")
    thresholds = _check_thresholds(thresholds)
    test = _dataset(volume, crop, "volume")
    device = select_device(device)
    held_out = None
    rows = []
    for key in keys:
        method = METHODS[key]
        run = _predictor(method, device)  # loads or trains; not timed
        grid = _on_grid(method, test)
        started = time.perf_counter()
        out = run(grid.raw, grid.voxel_size)
        predicted = time.perf_counter() - started
        seg = _back(_watershed(method.output, out, grid.voxel_size, h), test)
        seconds = time.perf_counter() - started
        where = "watershed" if method.output == "affs3d" else "watershed, per section"
        rows.append(_score(method.label, where, test.labels, seg, seconds, verbose))
        if method.agglomerate:
            if held_out is None:
                held_out = _dataset(validation, crop, "validation")
            on_grid = _on_grid(method, held_out)
            scoring, threshold = _choose(run(on_grid.raw, on_grid.voxel_size), on_grid,
                                         thresholds)
            started = time.perf_counter()
            seg = _back(_agglomerate(out, grid.voxel_size, scoring, threshold), test)
            seconds = predicted + time.perf_counter() - started
            rows.append(_score(method.label, f"agglomeration, {scoring}, t = {threshold:.2f}",
                               test.labels, seg, seconds, verbose))
    return rows


def _on_grid(method: _Method, volume: _Volume) -> _Volume:
    """``volume`` resampled to the network's voxel size (labels by nearest voxel), if the
    method asks for it (notebook 09); else ``volume`` itself."""
    if not method.resample:
        return volume
    import json

    from . import own_data
    from .apply import network_voxel_size
    from .data import pretrained

    # the network's note says its voxel size; its weights are loaded once, by _predictor
    theirs = network_voxel_size(json.loads(pretrained(method.network).with_suffix(".json")
                                           .read_text()))
    raw = own_data.to_network_grid(volume.raw, volume.voxel_size, theirs)
    return _Volume(raw, own_data.to_volume_grid(volume.labels, raw.shape), theirs)


def _back(seg: np.ndarray, volume: _Volume) -> np.ndarray:
    """A segmentation brought back to ``volume``'s grid (nearest voxel), where it is not."""
    if seg.shape == volume.labels.shape:
        return seg
    from .own_data import to_volume_grid

    return to_volume_grid(seg, volume.labels.shape)


def chosen_agglomeration(method: str = "affs3d", *, validation="fly/validation",
                         crop: tuple | None = None, thresholds: Sequence[float] = THRESHOLDS,
                         device: str | None = None) -> tuple[str, float]:
    """The scoring and threshold a 3D method's final-table row uses, chosen on ``validation``.

    The pair with the lowest VOI total there, as in notebook 07 and
    :func:`final_table`: e.g. ``("median", 0.6)``; pass the scoring on as
    ``**mbl_seg.operating_point.SCORINGS[scoring]``.
    """
    from .env import select_device

    (key,) = _method_keys([method])
    if not METHODS[key].agglomerate:
        raise ValueError(f"{method!r} is not agglomerated in the final table; 3D methods are: "
                         f"{[k for k, m in METHODS.items() if m.agglomerate]}")
    volume = _dataset(validation, crop, "validation")
    affs = _predictor(METHODS[key], select_device(device))(volume.raw, volume.voxel_size)
    return _choose(affs, volume, _check_thresholds(thresholds))


def _check_thresholds(thresholds) -> list[float]:
    if np.ndim(thresholds) != 1 or len(thresholds) == 0:
        raise TypeError(f"thresholds must be a sequence of numbers, e.g. [0.1, 0.2, 0.3], got "
                        f"{thresholds!r}")
    values = [float(t) for t in thresholds]
    if any(not 0 <= t <= 1 for t in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"thresholds must increase within [0, 1], got {values}")
    return values


def _method_keys(methods) -> list[str]:
    if methods is None:
        return list(TABLES["fly"].methods)
    if isinstance(methods, str) or not all(isinstance(m, str) for m in methods):
        raise TypeError(f"methods must be a list of names from {list(METHODS)}, got {methods!r}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be names from {list(METHODS)}, got {list(methods)}")
    return list(methods)


def _dataset(volume, crop, name: str):
    """A course dataset (loaded by name), cropped; (Z, Y, X) raw and labels checked."""
    if isinstance(volume, str):
        volume = data.load_dataset(volume)
    if not all(hasattr(volume, a) for a in ("raw", "labels", "voxel_size")):
        raise TypeError(f"{name} must be a dataset name like 'fly/test' or a dataset with raw, "
                        f"labels and voxel_size, got {type(volume).__name__}")
    raw, labels = np.asarray(volume.raw), np.asarray(volume.labels)
    if raw.ndim != 3 or raw.shape != labels.shape:
        raise ValueError(f"{name} must be a 3D volume (z, y, x) with labels of the same shape, "
                         f"got raw {raw.shape} and labels {labels.shape}")
    if crop is not None:
        crop = (crop,) if isinstance(crop, slice) else crop
        if not isinstance(crop, tuple) or not 0 < len(crop) <= 3 or not all(
                isinstance(c, slice) for c in crop):
            raise TypeError(f"crop must be a tuple of up to 3 slices, e.g. np.s_[:8, :64, :64], "
                            f"got {crop!r}")
        raw, labels = raw[crop], labels[crop]
        if raw.size == 0:
            raise ValueError(f"crop {crop!r} leaves nothing of {name} {volume.raw.shape}")
    return _Volume(raw, labels, tuple(float(v) for v in volume.voxel_size))


class _Volume(NamedTuple):
    raw: np.ndarray
    labels: np.ndarray
    voxel_size: tuple[float, float, float]


def _predictor(method: _Method, device: str) -> Callable[[np.ndarray, tuple], np.ndarray]:
    """``run(raw, voxel_size) -> output``: boundaries (Z, Y, X) or affinities (K, Z, Y, X)."""
    if method.network is None:
        return _classical_predictor()
    from .autocontext import AutoContext, predict_two_pass
    from .checkpoints import load_pretrained
    from .predict import predict, predict_blocks

    net = load_pretrained(method.network).model
    if isinstance(net, AutoContext):  # ACRLSD: the LSDs of the volume, then raw + LSDs
        return lambda raw, voxel_size: predict_two_pass(net, raw, device=device)[:3]
    if method.output == "affs3d":  # the nearest-neighbour channels come first
        return lambda raw, voxel_size: predict_blocks(net, raw, device=device,
                                                      progress=False)[:3]
    channels = slice(0, 1) if method.output == "boundaries2d" else slice(0, 2)
    return lambda raw, voxel_size: predict(net, raw, sections=True, device=device)[channels]


def _classical_predictor() -> Callable[[np.ndarray, tuple], np.ndarray]:
    """Notebook 01's pixel classifier, trained as there; it predicts section by section."""
    from .features import filter_bank
    from .pixel_classifier import PixelClassifier, scribbles
    from .targets import boundaries

    train = data.load_dataset(CLASSIFIER_DATA)
    pixel_size = train.voxel_size[1:]
    annotations = scribbles(boundaries(train.labels[0], voxel_size=pixel_size), n_strokes=20,
                            seed=0)
    features = filter_bank(train.raw[0], sigmas=SIGMAS, voxel_size=pixel_size)
    classifier = PixelClassifier(hidden=32, seed=0).fit(features, annotations)

    def run(raw, voxel_size):
        return np.stack([classifier.predict(filter_bank(s, sigmas=SIGMAS,
                                                        voxel_size=voxel_size[1:]))
                         for s in raw])[None]

    return run


def _watershed(output: str, out: np.ndarray, voxel_size, h: float) -> np.ndarray:
    if output == "boundaries2d":
        return per_section(seeded_watershed, out[0], voxel_size=voxel_size[1:], h=h)
    if output == "affs2d":
        return per_section(watershed_from_affinities, out, voxel_size=voxel_size[1:], h=h)
    return watershed_from_affinities(out, voxel_size=voxel_size, h=h)


def _agglomerate(affs: np.ndarray, voxel_size, scoring: str, threshold: float) -> np.ndarray:
    from .segment import agglomerate, fragments

    return next(agglomerate(affs, fragments(affs, voxel_size=voxel_size, min_size=MIN_SIZE),
                            thresholds=[threshold], **SCORINGS[scoring]))


def _choose(affs: np.ndarray, volume: _Volume, thresholds) -> tuple[str, float]:
    """The scoring and threshold with the lowest VOI total on ``volume`` (as notebook 07)."""
    from .segment import fragments

    frags = fragments(affs, voxel_size=volume.voxel_size, min_size=MIN_SIZE)
    return choose(sweeps(affs, frags, volume.labels, thresholds=thresholds))


def _score(method: str, segmentation: str, labels, seg, seconds: float, verbose: bool) -> Row:
    s = evaluate.evaluate(labels, seg)
    row = Row(method, segmentation, float(s.voi_split), float(s.voi_merge), float(s.arand),
              float(seconds))
    if verbose:
        print(f"{row.method} + {row.segmentation}: VOI {row.voi_split:.3f} split, "
              f"{row.voi_merge:.3f} merge, ARAND {row.arand:.3f}, {row.seconds:.1f} s",
              file=sys.stderr)
    return row
