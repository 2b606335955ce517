"""Figures of a block-wise run: the block grid over a section, and who did what when."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

__all__ = ["plot_block_grid", "plot_timeline"]

_TASK_ORDER = ("predict", "fragments", "edges", "agglomerate", "relabel")


def _check_records(records) -> list:
    records = list(records)
    if not records:
        raise ValueError("no block records: pass run.blocks() of a run that did some blocks "
                         "(a run that found every block done has none)")
    fields = ("task", "block", "worker", "start", "stop")
    if not all(all(hasattr(r, f) for f in fields) for r in records):
        raise TypeError("records must be mbl_seg.blockwise.BlockRecord (from run.blocks())")
    return records


def _stage(task: str) -> str:
    """'relabel_mean_0.55' -> 'relabel'."""
    return task.split("_")[0]


def plot_block_grid(raw: np.ndarray, grid, records: Sequence, *, z: int | None = None,
                    tasks: Sequence[str] = ("predict", "fragments"),
                    figsize: tuple[float, float] | None = None) -> Figure:
    """One section of the volume with the block grid on it, each block tinted by its worker.

    Parameters
    ----------
    raw : (Z, Y, X) ndarray
        The volume (only section ``z`` is drawn).
    grid : mbl_seg.blockwise.BlockGrid
        How the volume was cut.
    records : sequence of BlockRecord
        ``run.blocks()``: which worker did which block.
    z : int, optional
        The section (default: the middle one). Blocks shown are those that contain it.
    tasks : sequence of str
        One panel per task.

    Returns
    -------
    matplotlib.figure.Figure
    """
    records = _check_records(records)
    if not isinstance(raw, np.ndarray) or raw.ndim != 3:
        raise ValueError(f"raw must be a (Z, Y, X) array, got {getattr(raw, 'shape', raw)}")
    if tuple(raw.shape) != tuple(grid.shape):
        raise ValueError(f"raw {raw.shape} and the grid's volume {grid.shape} differ")
    z = raw.shape[0] // 2 if z is None else int(z)
    if not 0 <= z < raw.shape[0]:
        raise ValueError(f"z must be a section in [0, {raw.shape[0]}), got {z}")
    workers = sorted({r.worker for r in records})
    colours = plt.get_cmap("tab10")
    figsize = figsize or (4.6 * len(tasks), 4.8)
    fig, axes = plt.subplots(1, len(tasks), figsize=figsize, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        ax.imshow(raw[z], cmap="gray", interpolation="nearest")
        done = {r.block: r for r in records if _stage(r.task) == task}
        mine = sorted({r.worker for r in done.values()})
        for b in range(len(grid)):
            zs, ys, xs = grid.slices(b)
            if not zs.start <= z < zs.stop:
                continue
            record = done.get(b)
            colour = colours(mine.index(record.worker) % 10) if record else (0.5, 0.5, 0.5)
            ax.add_patch(Rectangle((xs.start - 0.5, ys.start - 0.5), xs.stop - xs.start,
                                   ys.stop - ys.start, facecolor=(*colour[:3], 0.28),
                                   edgecolor="yellow", lw=1.2))
            ax.text((xs.start + xs.stop) / 2, (ys.start + ys.stop) / 2,
                    f"block {b}" + (f"\nworker {record.worker}" if record else "\nnot done"),
                    ha="center", va="center", fontsize=8, color="white",
                    bbox={"facecolor": "black", "alpha": 0.45, "pad": 1.5, "lw": 0})
        ax.set_title(f"{task}: {len(done)} blocks by {len(mine)} worker(s)", fontsize=10)
        ax.set_axis_off()
    fig.suptitle(f"section z = {z}: blocks of {grid.block} voxels (yellow), tinted by worker "
                 f"({len(workers)} worker processes in all)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_timeline(records: Sequence, *, figsize: tuple[float, float] = (11, 3.8)) -> Figure:
    """Every block as a bar from its start to its end, one row per worker process, by task.

    A worker's first block includes what it loads once (a prediction worker loads
    the network); the gaps between tasks are new worker processes starting up.
    """
    records = _check_records(records)
    t0 = min(r.start for r in records)
    tasks = sorted({_stage(r.task) for r in records},
                   key=lambda t: _TASK_ORDER.index(t) if t in _TASK_ORDER else 99)
    workers = sorted({(min(_TASK_ORDER.index(_stage(r.task)) if _stage(r.task) in _TASK_ORDER
                           else 99 for r in records if r.worker == w), w)
                      for w in {r.worker for r in records}})
    row = {w: i for i, (_, w) in enumerate(workers)}
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=figsize)
    for r in records:
        k = tasks.index(_stage(r.task))
        ax.barh(row[r.worker], r.stop - r.start, left=r.start - t0, height=0.7,
                color=colours(k % 10), edgecolor="black", lw=0.4)
    handles = [Patch(facecolor=colours(k % 10), edgecolor="black", lw=0.4, label=task)
               for k, task in enumerate(tasks)]
    ax.set_yticks(range(len(row)))
    ax.set_yticklabels([f"worker {w}" for _, w in workers], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first block started")
    ax.set_title("who did what, when: one bar per block", fontsize=10)
    ax.legend(handles=handles, fontsize=8, loc="lower right", ncol=len(tasks))
    fig.tight_layout()
    return fig
