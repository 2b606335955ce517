"""What the workers did: throughput per step and per worker, from the block log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ._grid import STAGES
from ._log import BlockRecord


class Throughput(NamedTuple):
    """One task's figures: voxels per second of wall time, and per worker of its busy time.

    ``memory``: the most any one of its blocks held (bytes; measured for the agglomeration
    steps, see :class:`BlockRecord`). ``rss``: the highest peak resident memory of a
    worker process as one of its blocks ended (bytes; everything the process held).
    """

    task: str
    blocks: int
    voxels: int
    wall_s: float
    per_worker: dict  # worker -> (blocks, busy seconds, voxels per busy second)
    memory: int = 0
    rss: int = 0

    @property
    def voxels_per_s(self) -> float:
        return self.voxels / self.wall_s if self.wall_s > 0 else float("nan")


def throughput(records: Sequence[BlockRecord]) -> list[Throughput]:
    """Per task (in pipeline order): blocks, voxels, wall time and what each worker did.

    Wall time runs from a task's first block's start to its last block's end;
    a worker's busy time is the sum of its blocks' times.
    """
    rows = []
    steps = (*STAGES[:4], "scores", "segments", *STAGES[4:])  # agglomeration="blocks": 2 tasks
    order = {s: i for i, s in enumerate(steps)}
    tasks = sorted({r.task for r in records}, key=lambda t: (order.get(t, 99), t))
    for task in tasks:
        mine = [r for r in records if r.task == task]
        workers: dict = {}
        for r in mine:
            n, busy, vox = workers.get(r.worker, (0, 0.0, 0))
            workers[r.worker] = (n + 1, busy + r.stop - r.start, vox + r.voxels)
        per_worker = {w: (n, busy, vox / busy if busy > 0 else float("nan"))
                      for w, (n, busy, vox) in sorted(workers.items())}
        wall = max(r.stop for r in mine) - min(r.start for r in mine)
        rows.append(Throughput(task, len(mine), sum(r.voxels for r in mine), wall, per_worker,
                               max(r.memory for r in mine), max(r.rss for r in mine)))
    return rows
