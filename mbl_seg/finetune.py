"""What a few annotated sections of a new volume buy: fine-tuning against training from scratch.

Notebook 09's curve: notebook 02's boundary U-Net (trained only on synthetic
``fly``) fine-tuned on 1, 2, 5, 10 labelled sections of a real volume, against the
same U-Net trained on those sections from scratch, with the same number of
iterations, batch and crops, over several seeds, both scored on held-out sections
of the real volume by notebook 02's pipeline (seeded watershed per section, each
section's objects as 2D components), each network with the watershed's seed height
chosen on validation sections of its own (:data:`HEIGHTS`). Zero sections is the
shipped network as it is.

Used in: notebooks/09_real_em.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .evaluate import Scores, evaluate

__all__ = ["CurvePoint", "pick_sections", "section_labels", "train_on_sections",
           "score_sections", "section_curve", "curve_table", "NETWORK", "LEARNING_RATES",
           "HEIGHTS"]

NETWORK = "02_boundaries2d_fly"
LEARNING_RATES = {"fine-tuned": 1e-4, "from scratch": 1e-3}  # notebook 02 trains at 1e-3
HEIGHTS = (8.0, 16.0, 32.0, 64.0)  # nm: the seed heights each network chooses from
PATCH = (96, 96)
BATCH = 4


class CurvePoint(NamedTuple):
    """One network of the curve: ``sections`` used, how it started, its seed, the seed
    height ``h`` (nm) chosen on validation and the test scores there."""

    sections: int
    start: str  # "shipped", "fine-tuned" or "from scratch"
    seed: int
    h: float
    scores: Scores
    seconds: float


def pick_sections(count: int, available: Sequence[int]) -> list[int]:
    """``count`` sections spread evenly over ``available`` (first and last included).

    >>> pick_sections(1, range(30)), pick_sections(3, range(30))
    ([0], [0, 14, 29])
    """
    available = list(available)
    if not 1 <= count <= len(available):
        raise ValueError(f"count must be 1 to {len(available)} (the sections available), "
                         f"got {count}")
    if count == 1:
        return [available[0]]
    return [available[int(round(i * (len(available) - 1) / (count - 1)))] for i in range(count)]


def section_labels(labels: np.ndarray) -> np.ndarray:
    """Each section's objects as 4-connected 2D components, ids unique over the stack; 0 stays."""
    from skimage.measure import label as connected_components

    from .segment import per_section

    return per_section(connected_components, np.asarray(labels), connectivity=1).astype(np.uint64)


def train_on_sections(raw: np.ndarray, labels: np.ndarray, *, voxel_size, start: str,
                      iterations: int, seed: int, device: str | None = None):
    """Notebook 02's U-Net, shipped (``"fine-tuned"``) or new (``"from scratch"``), trained on
    the (Z, Y, X) sections given; returns the network."""
    import torch

    from .checkpoints import load_pretrained
    from .losses import balanced_bce
    from .models import UNet
    from .pipeline import batch_maker
    from .targets import boundaries
    from .train import train

    if start not in LEARNING_RATES:
        raise ValueError(f"start must be one of {list(LEARNING_RATES)}, got {start!r}")
    if start == "fine-tuned":
        net = load_pretrained(NETWORK).model
    else:
        net = UNet(dims=2, depth=3, base_features=16, padding="same", seed=seed)
    make_batch = batch_maker(raw, labels, voxel_size=voxel_size, batch_size=BATCH,
                             patch_shape=PATCH, targets={"target": boundaries})
    rate = LEARNING_RATES[start]
    result = train(net, make_batch, lambda logits, batch: balanced_bce(logits, batch["target"]),
                   iterations=iterations, seed=seed, device=device, checkpoint=None,
                   optimizer=lambda params: torch.optim.Adam(params, lr=rate), progress=False)
    return result.model


def score_sections(net, raw: np.ndarray, labels2d: np.ndarray, *, voxel_size,
                   heights: Sequence[float], device: str | None = None) -> dict[float, Scores]:
    """Notebook 02's pipeline on (Z, Y, X) sections: boundaries, then a seeded watershed
    at each seed height in ``heights`` (nm), scored; ``{h: Scores}``."""
    from .predict import predict
    from .segment import per_section, seeded_watershed

    probabilities = predict(net, raw, sections=True, device=device)[0]
    return {float(h): evaluate(labels2d, per_section(seeded_watershed, probabilities,
                                                     voxel_size=tuple(voxel_size)[1:], h=h))
            for h in heights}


def section_curve(train, test, *, counts: Sequence[int] = (1, 2, 5, 10),
                  available: Sequence[int], validation_sections: Sequence[int],
                  test_sections: Sequence[int], iterations: int, seeds: Sequence[int] = (0, 1),
                  heights: Sequence[float] = HEIGHTS, device: str | None = None,
                  progress: bool = True) -> list[CurvePoint]:
    """The fine-tuning curve: the shipped network, then per count, start and seed one network.

    ``train`` and ``test`` are datasets with ``raw``, ``labels`` and ``voxel_size``;
    the networks learn from ``count`` of the ``available`` sections of ``train``
    (:func:`pick_sections`), choose their seed height on its ``validation_sections``
    (which must not be among the ``available``) and are scored on ``test_sections`` of
    ``test``.
    """
    from .checkpoints import load_pretrained

    if set(available) & set(validation_sections):
        raise ValueError("validation_sections must not be among the available training "
                         f"sections, both hold {sorted(set(available) & set(validation_sections))}")
    volumes = {"validation": (train, validation_sections), "test": (test, test_sections)}
    held_out = {name: (np.asarray(v.raw)[list(idx)], section_labels(np.asarray(v.labels)[list(idx)]),
                       v.voxel_size) for name, (v, idx) in volumes.items()}

    def scored(net) -> tuple[float, Scores]:
        raw, labels, voxel_size = held_out["validation"]
        on_validation = score_sections(net, raw, labels, voxel_size=voxel_size,
                                       heights=heights, device=device)
        h = min(on_validation, key=lambda k: on_validation[k].voi_total)
        raw, labels, voxel_size = held_out["test"]
        return h, score_sections(net, raw, labels, voxel_size=voxel_size, heights=[h],
                                 device=device)[h]

    started = time.perf_counter()
    points = [CurvePoint(0, "shipped", 0, *scored(load_pretrained(NETWORK).model),
                         time.perf_counter() - started)]
    jobs = [(n, start, seed) for n in counts for start in ("fine-tuned", "from scratch")
            for seed in seeds]
    bar = _bar(len(jobs), progress)
    for n, start, seed in jobs:
        started = time.perf_counter()
        pick = pick_sections(n, available)
        net = train_on_sections(np.asarray(train.raw)[pick], np.asarray(train.labels)[pick],
                                voxel_size=train.voxel_size, start=start,
                                iterations=iterations, seed=seed, device=device)
        points.append(CurvePoint(n, start, seed, *scored(net), time.perf_counter() - started))
        bar.update(1)
    bar.close()
    return points


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="networks", disable=not progress)


def curve_table(points: Sequence[CurvePoint]) -> str:
    """Mean (min-max over seeds) VOI total and ARAND per sections and start, and the seed
    heights the networks chose."""
    lines = [f"{'real sections':>13}  {'start':<13}{'seeds':>6}  {'VOI total':<22}"
             f"{'ARAND':<22}{'h (nm)':<8}"]
    keys = list(dict.fromkeys((p.sections, p.start) for p in points))
    for n, start in keys:
        group = [p for p in points if (p.sections, p.start) == (n, start)]
        voi = np.array([p.scores.voi_total for p in group])
        arand = np.array([p.scores.arand for p in group])
        heights = "/".join(f"{p.h:g}" for p in group)
        lines.append(f"{n:>13}  {start:<13}{len(group):>6}  {_spread(voi):<22}"
                     f"{_spread(arand):<22}{heights:<8}")
    return "\n".join(lines)


def _spread(values: np.ndarray) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ({values.min():.3f}-{values.max():.3f})"
