"""Where the time of a batch goes: milliseconds per pipeline stage, measured in the workers.

Every sample records how long each stage took (:data:`STAGES`); the loader
hands those times back with the batch and :class:`StageTimes` adds them up. A
stage that takes most of the time is the one to make faster (or to give more
workers).

Used in: notebooks/05_3d_unet.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["STAGES", "StageTimes"]

# The stages of Pipeline.sample, in order; an augmentation names its own with `.stage`.
STAGES = ("sampling", "elastic", "mirror/transpose", "intensity", "artefacts", "targets",
          "other")


class StageTimes:
    """Milliseconds per stage, summed over the batches given to :meth:`add`.

    Examples
    --------
    >>> times = StageTimes()
    >>> times.add(np.array([[2.0, 10, 1, 3, 0, 4, 0], [4.0, 12, 1, 3, 0, 6, 0]]))
    >>> times.mean_ms()["elastic"], times.batches
    (22.0, 1)
    """

    def __init__(self, stages: tuple[str, ...] = STAGES):
        self.stages = tuple(stages)
        self.total_ms = np.zeros(len(self.stages))
        self.batches = 0
        self.samples = 0

    def add(self, stage_ms) -> None:
        """Add one batch: ``(b, stages)`` milliseconds (one row per sample), or ``(stages,)``."""
        ms = np.asarray(stage_ms, dtype=np.float64)
        ms = ms.reshape(-1, len(self.stages)) if ms.size else ms.reshape(0, len(self.stages))
        self.total_ms += ms.sum(axis=0)
        self.batches += 1
        self.samples += ms.shape[0]

    def mean_ms(self) -> dict[str, float]:
        """Mean milliseconds per batch for each stage (worker time, not wall time)."""
        per_batch = self.total_ms / max(self.batches, 1)
        return {stage: float(ms) for stage, ms in zip(self.stages, per_batch)}

    def table(self) -> str:
        """The mean times as a small table, the slowest stage marked."""
        means = {s: ms for s, ms in self.mean_ms().items() if ms > 0 or s != "other"}
        total = sum(means.values())
        slowest = max(means, key=means.get) if total else None
        lines = [f"{'stage':<18}{'ms/batch':>10}{'share':>8}"]
        for stage, ms in means.items():
            mark = "  <- slowest" if stage == slowest else ""
            lines.append(f"{stage:<18}{ms:>10.1f}{ms / total if total else 0:>8.0%}{mark}")
        lines.append(f"{'total':<18}{total:>10.1f}   ({self.batches} batches of "
                     f"{self.samples // max(self.batches, 1)} in the workers)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"StageTimes({self.batches} batches)"


class _Clock:
    """Adds the time since the last call to a stage: ``clock.stop("elastic")``."""

    def __init__(self, times: np.ndarray | None):
        self.times = times
        self.last = time.perf_counter()

    def stop(self, stage: str) -> None:
        if self.times is None:
            return
        now = time.perf_counter()
        index = STAGES.index(stage) if stage in STAGES else len(STAGES) - 1
        self.times[index] += 1e3 * (now - self.last)
        self.last = now
