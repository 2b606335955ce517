"""A shipped network on a volume of your own: checked, resampled, predicted, segmented.

:func:`segment_volume` is notebook 07's pipeline for any (z, y, x) volume with a
voxel size: the checks of :func:`mbl_seg.own_data.check_volume` (with what to do
when one fails), the volume resampled to the network's voxel size where it differs by
more than the tolerance, prediction block by block, fragments, agglomeration at the
threshold you give, and the segmentation brought back to your volume's grid.
:func:`score_volume` does the same on a labelled validation and test volume, with
the agglomeration's scoring and threshold chosen on validation (or given), and scores
the result on the test volume's own grid: how notebook 09 compares a network on a real
volume as it is and resampled to its voxel size; :func:`rescore` scores the same
prediction at another operating point without predicting again. :func:`network_voxel_size` and
:func:`training_grey_values` read what a shipped network was trained on.

Used in: notebooks/09_real_em, docs/instructors.md (the students' own data).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from . import own_data
from ._validate import as_voxel_size
from .io import checksum

__all__ = ["Segmented", "segment_volume", "network_voxel_size", "training_grey_values",
           "Scored", "score_volume", "rescore", "load_trained"]


def network_voxel_size(note: dict) -> tuple[float, float, float]:
    """The voxel size (nm, z y x) a network was trained at, from its ``.json`` note.

    Older notes do not store it; then it is the voxel size of the domain whose
    validation volume the note names (e.g. ``fly/validation``: 8 nm).
    """
    if not isinstance(note, dict):
        raise TypeError(f"note must be a network's .json note (a dict), got {type(note).__name__}")
    if note.get("voxel_size"):
        return tuple(float(v) for v in note["voxel_size"])
    dataset = (note.get("validation") or {}).get("dataset") or note.get("dataset")
    if not dataset:
        raise ValueError("the note says neither the training voxel size ('voxel_size') nor a "
                         "dataset to read it from")
    from .data.domains import get_domain

    return tuple(float(v) for v in get_domain(dataset.split("/")[0]).voxel_size)


def load_trained(path, *, voxel_size: Sequence[float], dataset: str = "fly/train"):
    """A network you trained in a notebook (its :func:`mbl_seg.train.train` checkpoint),
    rebuilt and ready to predict, with a note like a shipped network's.

    ``voxel_size`` and ``dataset``: what it was trained on (checkpoints do not say).
    Returns :class:`mbl_seg.checkpoints.Pretrained`; pass it as ``network`` to
    :func:`score_volume` or :func:`segment_volume`.
    """
    from pathlib import Path

    import torch

    from .checkpoints import Pretrained, load_checkpoint
    from .models import UNet

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train the network in its notebook first")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    settings = (saved.get("config") or {}).get("model_settings") if isinstance(saved, dict) else None
    if not settings:
        raise ValueError(f"{path} does not say how to build its network (no model settings): "
                         "it was not written by mbl_seg.train with a UNet")
    model = UNet(**settings)
    load_checkpoint(path, model)
    model.eval()
    note = {"voxel_size": [float(v) for v in voxel_size], "dataset": dataset,
            "iterations": int(saved.get("iteration", 0)), "checkpoint": str(path)}
    return Pretrained(model, note)


def _network(network):
    """A shipped network's name, or a Pretrained (e.g. :func:`load_trained`): (model, note)."""
    from .checkpoints import Pretrained, load_pretrained

    if isinstance(network, str):
        return load_pretrained(network)
    if isinstance(network, Pretrained):
        return network
    raise TypeError(f"network must be a shipped network's name (e.g. '05_affs3d_fly') or a "
                    f"Pretrained (load_trained), got {type(network).__name__}")


def training_grey_values(note: dict) -> own_data.GreyValues:
    """The grey-value summary of the training volume of a network (its domain's ``train``)."""
    from .data import load_dataset

    dataset = (note.get("validation") or {}).get("dataset") or note.get("dataset") or "fly/"
    return own_data.grey_values(load_dataset(dataset.split("/")[0] + "/train").raw)


class Segmented(NamedTuple):
    """The result of :func:`segment_volume`.

    ``segmentation``: (Z, Y, X) uint64 on your volume's grid; ``affinities``: the
    network's nearest-neighbour affinities (3, z, y, x) on *its* grid; ``factors``: how
    many network voxels one of yours became per axis (1.0: not resampled); ``report``:
    what the checks found.
    """

    segmentation: np.ndarray
    affinities: np.ndarray
    factors: tuple[float, float, float]
    report: str


def segment_volume(raw, voxel_size: Sequence[float], *, threshold: float,
                   network="05_affs3d_fly", scoring: str = "mean",
                   resample=True, min_size: int = 100, device: str | None = None,
                   progress: bool = False) -> Segmented:
    """Segment ``raw`` with a shipped 3D affinity network (05, 06 MTLSD or ACRLSD).

    Parameters
    ----------
    raw : (Z, Y, X) ndarray
        uint8 grey values (or float in [0, 1]), membranes dark.
    voxel_size : sequence of 3 float
        nm per voxel (z, y, x) of ``raw``, required.
    threshold : float
        Agglomeration threshold in [0, 1]. Choose it on a few labelled sections of your
        own if you have them; else the network's choice on ``fly/validation``
        (:func:`mbl_seg.leaderboard.chosen_agglomeration`).
    network : str or Pretrained
        A shipped network (:func:`mbl_seg.data.list_pretrained`), or one of yours
        (:func:`load_trained`).
    scoring : {"mean", "median", "75th percentile"}
        Notebook 07's edge scorings (:data:`mbl_seg.operating_point.SCORINGS`).
    resample : bool or callable
        Resample to the network's voxel size where yours differs by more than
        :data:`mbl_seg.own_data.TOLERANCE` (with :func:`mbl_seg.own_data.to_network_grid`,
        or a function ``resample(raw, voxel_size, network_voxel_size)`` of your own);
        False refuses such a volume instead.

    Returns
    -------
    Segmented
    """
    from .operating_point import SCORINGS
    from .segment import agglomerate, fragments

    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {list(SCORINGS)}, got {scoring!r}")
    if not 0 <= float(threshold) <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    net, note = _network(network)
    if note.get("model") in ("lsd", "boundaries2d", "affs2d", "malis2d"):
        raise ValueError(f"{network} predicts no 3D affinities (it is a {note['model']} "
                         "network): use 05_affs3d_fly, 06_mtlsd_fly or 06_acrlsd_fly")
    theirs = network_voxel_size(note)
    ours = as_voxel_size(voxel_size, 3)
    factors = own_data.grid_factors(ours, theirs)
    on_grid, grid_size = raw, ours
    if resample and any(abs(f - 1) > own_data.TOLERANCE for f in factors):
        # everything but the voxel size, before resampling what may not be a volume at all
        own_data.check_volume(raw, ours, network_voxel_size=theirs, resample=True)
        to_grid = resample if callable(resample) else own_data.to_network_grid
        on_grid, grid_size = np.asarray(to_grid(np.asarray(raw), ours, theirs)), theirs
    else:
        factors = (1.0, 1.0, 1.0)
    report = own_data.check_volume(on_grid, grid_size, network_voxel_size=theirs,
                                   network_grey_values=training_grey_values(note))
    affs = _predict(net, on_grid, device, progress)
    frags = fragments(affs, voxel_size=grid_size, min_size=min_size)
    seg = next(agglomerate(affs, frags, thresholds=[float(threshold)], **SCORINGS[scoring]))
    return Segmented(own_data.to_volume_grid(seg, np.shape(raw)), affs, factors, report)


def _predict(net, raw: np.ndarray, device: str | None, progress: bool) -> np.ndarray:
    """The nearest-neighbour affinities (3, Z, Y, X) of a 3D network (ACRLSD: two passes)."""
    from .autocontext import AutoContext, predict_two_pass
    from .env import select_device
    from .predict import predict_blocks

    device = select_device(device)
    if getattr(net, "dims", 3) != 3 and not isinstance(net, AutoContext):
        raise ValueError("segment_volume needs a 3D affinity network (05_affs3d_fly, "
                         "06_mtlsd_fly, 06_acrlsd_fly); 2D networks segment section by section "
                         "(notebook 02)")
    if isinstance(net, AutoContext):
        return predict_two_pass(net, raw, device=device)[:3]
    return predict_blocks(net, raw, device=device, progress=progress)[:3]


class Scored(NamedTuple):
    """The result of :func:`score_volume`.

    ``scoring``, ``threshold``: the operating point (chosen on validation, or given);
    ``scores``: the test volume's, on its own grid; ``validation``, ``test``: the sweeps
    of that scoring over every threshold, on the network's grid (None where not made);
    ``segmentation``: the test segmentation on the test volume's grid; ``affinities``:
    the test volume's on the network's grid; ``factors``: as in :class:`Segmented`;
    ``fragments``: the test volume's on the network's grid; ``raw_checksum``: of the test
    volume's grey values (:func:`rescore` checks it).
    """

    scoring: str
    threshold: float
    scores: object
    validation: object
    test: object
    segmentation: np.ndarray
    affinities: np.ndarray
    factors: tuple[float, float, float]
    fragments: np.ndarray
    raw_checksum: str


def score_volume(network, test, validation=None, *, at: tuple[str, float] | None = None,
                 resample=True, thresholds: Sequence[float] | None = None,
                 min_size: int = 100, device: str | None = None) -> Scored:
    """A shipped 3D affinity network on a labelled ``test`` volume, at a fair operating point.

    ``test`` and ``validation`` are datasets (``raw``, ``labels``, ``voxel_size``) of the
    same voxel size. The scoring and threshold are ``at`` if given (e.g. the ones chosen
    on ``fly/validation``, for a volume without labels), else chosen on ``validation`` by
    VOI total as in notebook 07. With ``resample``, both volumes are brought to the
    network's voxel size first (:func:`mbl_seg.own_data.to_network_grid`, or the function
    ``resample(raw, voxel_size, network_voxel_size)`` given instead, e.g. your own); the
    test segmentation is brought back and scored on the test volume's own grid.
    """
    from .agglomeration import sweep
    from .operating_point import SCORINGS, THRESHOLDS, choose, sweeps
    from .segment import fragments

    if (at is None) == (validation is None):
        raise ValueError("give either validation (to choose the operating point on) or at="
                         "(scoring, threshold), not both and not neither")
    if at is not None:  # checked before anything is predicted
        scoring, threshold = _given_point(at)
    thresholds = THRESHOLDS if thresholds is None else thresholds
    net, note = _network(network)
    theirs = network_voxel_size(note)
    ours = tuple(float(v) for v in test.voxel_size)
    factors = own_data.grid_factors(ours, theirs) if resample else (1.0, 1.0, 1.0)
    to_grid = resample if callable(resample) else own_data.to_network_grid

    def on_grid(volume):
        raw, labels = np.asarray(volume.raw), np.asarray(volume.labels)
        if factors != (1.0, 1.0, 1.0):
            raw = np.asarray(to_grid(raw, ours, theirs))
            labels = own_data.to_volume_grid(labels, raw.shape)
        affs = _predict(net, raw, device, False)
        grid = theirs if factors != (1.0, 1.0, 1.0) else ours
        return affs, fragments(affs, voxel_size=grid, min_size=min_size), labels

    test_affs, test_frags, test_labels = on_grid(test)
    on_validation = None
    if at is None:
        if tuple(float(v) for v in validation.voxel_size) != ours:
            raise ValueError(f"validation and test must have the same voxel size, got "
                             f"{tuple(validation.voxel_size)} and {ours}")
        all_sweeps = sweeps(*on_grid(validation), thresholds=thresholds)
        scoring, threshold = choose(all_sweeps)
        on_validation = all_sweeps[scoring]
    on_test = sweep(test_affs, test_frags, test_labels, thresholds=thresholds,
                    **SCORINGS[scoring])
    seg, scores = _segmented_at(test_affs, test_frags, test, scoring, threshold)
    return Scored(scoring, threshold, scores, on_validation, on_test, seg, test_affs, factors,
                  test_frags, checksum(np.asarray(test.raw)))


def _given_point(at) -> tuple[str, float]:
    """``at`` = (scoring, threshold), checked."""
    from .operating_point import SCORINGS

    scoring, threshold = at[0], float(at[1])
    if scoring not in SCORINGS:
        raise ValueError(f"at: the scoring must be one of {list(SCORINGS)}, got {scoring!r}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"at: the threshold must be in [0, 1], got {threshold}")
    return scoring, threshold


def _segmented_at(affs, frags, test, scoring: str, threshold: float):
    """The agglomeration at one operating point, on ``test``'s grid, and its scores there."""
    from .evaluate import evaluate
    from .operating_point import SCORINGS
    from .segment import agglomerate

    seg = next(agglomerate(affs, frags, thresholds=[threshold], **SCORINGS[scoring]))
    seg = own_data.to_volume_grid(seg, np.shape(test.labels))
    return seg, evaluate(np.asarray(test.labels), seg)


def rescore(scored: Scored, test, *, at: tuple[str, float]) -> Scored:
    """The prediction of an earlier :func:`score_volume` on ``test``, at another operating point.

    ``at`` is (scoring, threshold), e.g. the choice made on ``fly/validation`` for a volume
    without labels. The affinities and fragments of ``scored`` are used again (nothing is
    predicted), so ``test`` must be the volume they were made of (its grey values are
    checked). The result's ``validation`` and ``test`` sweeps are None.
    """
    if not isinstance(scored, Scored):
        raise TypeError(f"scored must be a Scored (the result of score_volume), got "
                        f"{type(scored).__name__}")
    if checksum(np.asarray(test.raw)) != scored.raw_checksum:
        raise ValueError("test is not the volume scored was made of (its grey values differ): "
                         "rescore scores the same prediction again, on the same volume")
    scoring, threshold = _given_point(at)
    seg, scores = _segmented_at(scored.affinities, scored.fragments, test, scoring, threshold)
    return Scored(scoring, threshold, scores, None, None, seg, scored.affinities,
                  scored.factors, scored.fragments, scored.raw_checksum)
