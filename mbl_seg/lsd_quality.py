"""How well predicted LSDs match the truth: error against a constant guess, offsets correlated.

A network that has not learnt its descriptors can still score a small mean
squared error: most LSD channels vary little, so predicting each channel's
mean everywhere is already close. Two numbers tell learning from that:

* the MSE **relative to the constant baseline** (each channel's mean over a
  training volume, predicted everywhere): 1 means no better than the
  constant, 0.5 half its error;
* the **Pearson correlation** of each predicted centre-of-mass offset
  channel (0-2: z, y, x) with the truth's: the channels exercise A of
  notebook 06 builds, and the ones a constant cannot predict at all (r = 0).

Both are measured away from the volume's faces (``margin`` voxels), where the
truth's window is cut by the volume and the prediction's context is mirrored.

Used in: notebooks/06_lsds, scripts/train_course_models.py, bench/lsd_quality.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ._validate import as_number

__all__ = ["LSDQuality", "MARGIN", "channel_means", "interior", "lsd_quality"]

MARGIN = (16, 24, 24)  # voxels off the faces of a course test volume (z, y, x)


class LSDQuality(NamedTuple):
    """Scores of predicted LSDs in a volume's interior (see :func:`lsd_quality`)."""

    mse: float  #: mean squared error of all channels
    baseline_mse: float  #: the same for each channel's constant mean
    offset_r: tuple[float, ...]  #: Pearson r of the offset channels (z, y, x), with the truth
    channel_mse: tuple[float, ...]  #: per channel

    @property
    def relative_mse(self) -> float:
        """``mse / baseline_mse``: 1 is no better than the constant guess."""
        return self.mse / self.baseline_mse

    def __str__(self) -> str:
        rs = " ".join(f"{r:.2f}" for r in self.offset_r)
        return (f"MSE {self.mse:.4f} = {self.relative_mse:.2f} x constant "
                f"({self.baseline_mse:.4f}), offsets r (z y x) {rs}")


def interior(shape: Sequence[int], margin: Sequence[int] = MARGIN) -> tuple[slice, ...]:
    """Slices of ``shape`` (spatial axes) without ``margin`` voxels at each face.

    >>> interior((48, 256, 256))
    (slice(16, 32, None), slice(24, 232, None), slice(24, 232, None))
    """
    if len(margin) != len(shape):
        raise ValueError(f"margin must have one entry per axis of {tuple(shape)}, got "
                         f"{tuple(margin)}")
    for n, m in zip(shape, margin):
        as_number(m, "margin", integer=True, nonnegative=True)
        if n <= 2 * m:
            raise ValueError(f"a margin of {tuple(margin)} voxels leaves nothing of a volume "
                             f"of {tuple(shape)}")
    return tuple(slice(m, n - m) for n, m in zip(shape, margin))


def channel_means(descriptors: np.ndarray) -> np.ndarray:
    """Each channel's mean over a volume's LSDs ``(c, z, y, x)``: the constant baseline."""
    descriptors = _channels_first(descriptors, "descriptors")
    return descriptors.reshape(len(descriptors), -1).mean(axis=1, dtype=np.float64)


def lsd_quality(predicted: np.ndarray, truth: np.ndarray, *, means: np.ndarray,
                margin: Sequence[int] = MARGIN) -> LSDQuality:
    """Score predicted LSDs against the truth's, in the interior of the volume.

    Parameters
    ----------
    predicted, truth : (c, z, y, x) arrays in [0, 1]
        The same channels (10 for 3D LSDs); the first ``ndim`` are the
        centre-of-mass offsets.
    means : (c,) array
        The constant baseline, e.g. ``channel_means`` of the training volume's LSDs.
    margin : voxels per axis left out at each face.

    >>> truth = np.random.default_rng(0).random((10, 8, 8, 8), dtype=np.float32)
    >>> q = lsd_quality(truth, truth, means=channel_means(truth), margin=(1, 1, 1))
    >>> q.relative_mse, q.offset_r
    (0.0, (1.0, 1.0, 1.0))
    """
    predicted = _channels_first(predicted, "predicted")
    truth = _channels_first(truth, "truth")
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted and truth must have one shape, got {predicted.shape} "
                         f"and {truth.shape}")
    means = np.asarray(means, np.float64)
    if means.shape != (len(truth),):
        raise ValueError(f"means must have one value per channel ({len(truth)}), got shape "
                         f"{means.shape}")
    inner = (slice(None), *interior(truth.shape[1:], margin))
    p = predicted[inner].astype(np.float64)
    t = truth[inner].astype(np.float64)
    channel_mse = ((p - t) ** 2).reshape(len(t), -1).mean(axis=1)
    baseline = ((t - means[:, None, None, None]) ** 2).mean()
    offset_r = tuple(_pearson(p[axis], t[axis]) for axis in range(truth.ndim - 1))
    return LSDQuality(float(channel_mse.mean()), float(baseline), offset_r,
                      tuple(float(c) for c in channel_mse))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two arrays; 0 where either is constant (a constant predicts nothing)."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def _channels_first(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 4 or array.dtype.kind != "f":
        raise ValueError(f"{name} must be a float array (c, z, y, x) of LSDs, got "
                         f"{array.dtype} {array.shape}")
    return array
