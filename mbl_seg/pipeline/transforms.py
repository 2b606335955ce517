"""Augmentations of a 3D sample: mirror and transpose, intensity, missing and shifted sections.

Each augmentation is a small picklable object, ``augmentation(sample, rng) ->
sample`` (see :class:`mbl_seg.pipeline.Sample`), that draws everything it
does from ``rng``: the pipeline seeds ``rng`` per sample, so a sample is the
same in every run and in every DataLoader worker. Spatial ones move raw,
labels and the known-mask together, so they stay aligned; padding they bring
in is marked unknown.

Used in: notebooks/05_3d_unet.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from .._validate import as_number
from ._batches import intensity_augment
from .sources import Sample

__all__ = ["MirrorTranspose", "Intensity", "MissingSections", "ShiftedSections"]


@dataclasses.dataclass(frozen=True)
class MirrorTranspose:
    """Mirror each axis with probability 1/2 and exchange axes that look alike.

    Two axes are only exchanged when their voxels have the same size in nm
    (an isotropic fly volume: z, y and x; serial sections: y and x only) and
    the sample is as long along both (an exchange must not change its shape).
    Neither changes what a label means, so targets computed afterwards are right.

    Examples
    --------
    >>> s = Sample(np.arange(8, dtype=np.float32).reshape(2, 2, 2), np.ones((2, 2, 2), np.uint64),
    ...            np.ones((2, 2, 2), bool), (40.0, 4.0, 4.0))
    >>> out = MirrorTranspose()(s, np.random.default_rng(1))
    >>> out.shape, sorted(out.raw.ravel().tolist()) == list(range(8))
    ((2, 2, 2), True)
    """

    mirror: bool = True
    transpose: bool = True
    stage: ClassVar[str] = "mirror/transpose"

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        flips = tuple(int(a) for a in np.flatnonzero(rng.random(3) < 0.5)) if self.mirror else ()
        order = list(range(3))
        if self.transpose:
            for group in _alike_axes(sample.shape, sample.voxel_size):
                for axis, new in zip(group, rng.permutation(group)):
                    order[axis] = int(new)

        def move(array: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.transpose(np.flip(array, flips), order))

        return sample.replace(raw=move(sample.raw), labels=move(sample.labels),
                              known=move(sample.known),
                              voxel_size=tuple(sample.voxel_size[a] for a in order))


@dataclasses.dataclass(frozen=True)
class Intensity:
    """A random contrast, brightness, gamma and noise per sample (`intensity_augment`).

    Each factor is drawn uniformly from its ``(low, high)`` range.
    """

    contrast: tuple[float, float] = (0.75, 1.3)
    brightness: tuple[float, float] = (-0.12, 0.12)
    gamma: tuple[float, float] = (0.7, 1.45)
    noise: tuple[float, float] = (0.0, 0.05)
    stage: ClassVar[str] = "intensity"

    def __post_init__(self) -> None:
        for field in ("contrast", "brightness", "gamma", "noise"):
            object.__setattr__(self, field, _range(getattr(self, field), field))

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        return sample.replace(raw=intensity_augment(
            sample.raw, rng, contrast=self.contrast, brightness=self.brightness,
            gamma=self.gamma, noise=self.noise))


@dataclasses.dataclass(frozen=True)
class MissingSections:
    """Blank whole sections: each z section becomes ``value`` with ``probability``.

    Serial-section EM loses sections (folds, dirt, a failed cut); the ground
    truth is still known there, so the network learns to go on through a gap.
    """

    probability: float = 0.05
    value: float = 0.0
    stage: ClassVar[str] = "artefacts"

    def __post_init__(self) -> None:
        _probability(self.probability)
        if not 0 <= as_number(self.value, "value") <= 1:
            raise ValueError(f"value is a grey value in [0, 1], got {self.value!r}")

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        blank = rng.random(sample.shape[0]) < self.probability
        if not blank.any():
            return sample
        raw = sample.raw.copy()
        raw[blank] = self.value
        return sample.replace(raw=raw)


@dataclasses.dataclass(frozen=True)
class ShiftedSections:
    """Shift whole sections in y/x: each z section moves with ``probability``.

    A misaligned section moves by up to ``max_shift`` nm along y and x; its
    raw and labels move together (the ground truth was drawn on the shifted
    image), and the strip uncovered at the edge is unknown.

    Examples
    --------
    >>> s = Sample(np.ones((3, 8, 8), np.float32), np.ones((3, 8, 8), np.uint64),
    ...            np.ones((3, 8, 8), bool), (40.0, 4.0, 4.0))
    >>> out = ShiftedSections(probability=1.0, max_shift=8)(s, np.random.default_rng(0))
    >>> bool(out.known.all()), bool(out.known[0].any())
    (False, True)
    """

    probability: float = 0.05
    max_shift: float = 48.0
    stage: ClassVar[str] = "artefacts"

    def __post_init__(self) -> None:
        _probability(self.probability)
        as_number(self.max_shift, "max_shift", positive=True, unit="nm")

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        moved = np.flatnonzero(rng.random(sample.shape[0]) < self.probability)
        if moved.size == 0:
            return sample
        limits = [int(self.max_shift // v) for v in sample.voxel_size[1:]]
        shifts = [[int(rng.integers(-n, n + 1)) for n in limits] for _ in moved]
        raw, labels, known = sample.raw.copy(), sample.labels.copy(), sample.known.copy()
        for z, shift in zip(moved, shifts):
            for array in (raw, labels, known):
                array[z] = _shifted(array[z], shift)
        return sample.replace(raw=raw, labels=labels, known=known)


def _alike_axes(shape: tuple[int, ...], voxel_size: tuple[float, ...]) -> list[list[int]]:
    """Groups of axes with the same voxel size and length (exchanging them keeps the shape)."""
    groups: dict[tuple, list[int]] = {}
    for axis, key in enumerate(zip(shape, voxel_size)):
        groups.setdefault(key, []).append(axis)
    return [group for group in groups.values() if len(group) > 1]


def _shifted(section: np.ndarray, shift: list[int]) -> np.ndarray:
    """``section`` moved by ``shift`` voxels (y, x), zeros (False) where nothing came in."""
    out = np.zeros_like(section)
    src, dst = [], []
    for s, n in zip(shift, section.shape):
        s = max(-n, min(n, s))
        src.append(slice(max(0, -s), n - max(0, s)))
        dst.append(slice(max(0, s), n - max(0, -s)))
    out[tuple(dst)] = section[tuple(src)]
    return out


def _probability(p) -> float:
    p = as_number(p, "probability")
    if not 0 <= p <= 1:
        raise ValueError(f"probability must be in [0, 1], got {p}")
    return p


def _range(value, name: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (low, high) range, got {value!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{name} must be a finite (low, high) range with low <= high, "
                         f"got {value!r}")
    return low, high
