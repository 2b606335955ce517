"""Benchmark: throughput of the block-wise pipeline (mbl_seg.blockwise) per stage, 1 vs 2 workers.

Run:  .venv/bin/python bench/bench_blockwise.py [--shape 64 384 384] [--block 32 128 128]
                                                 [--workers 1 2] [--device auto] [--keep DIR]

The volume is ``synthetic_volume(shape, "fly", seed=4)`` (8 nm voxels), made
once and not timed. For each worker count the five stages (predict,
fragments, edges, agglomerate, relabel) run one at a time, each with its own
``blockwise.run(..., stages=[stage], workers=n)`` call, into one fresh run
directory per worker count (later stages read what the earlier ones wrote).
Two figures per stage:

- **call**: ``time.perf_counter()`` around the whole call, so it includes the
  call's setup (raw checksum, zarr arrays, SQLite) and daisy's start-up of
  the scheduler and its worker processes (each loads the network for
  predict): real cost of running a stage, and the reason small stages scale
  badly;
- **blocks**: from the workers' own block log (``blockwise.throughput``):
  voxels over the wall time from the first block's start to the last block's
  end, and per worker, voxels over the seconds it spent inside its blocks.

Then, per stage, the scaling ratio (throughput with n workers over the one
with the first worker count, from the call times; the block-log ratio in
brackets), the end-to-end time per worker count, whether the final
segmentations are identical (they must be: the pipeline is deterministic
whatever the number of workers) and their VOI against the volume's labels.

Worth knowing when reading the figures:

- agglomerate is one block (the whole region graph, in one process): it does
  not scale with workers, by design; its block log counts fragments, so its
  Mvoxel/s figures use the volume's voxels;
- on a CPU, predict with 1 worker already uses every core (the run gives
  each worker ``cpu_count // workers`` torch threads), so 2 workers gain
  little there; fragments, edges and relabel are single-threaded numpy / scipy
  and can gain up to the number of cores, less start-up;
- other processes on the machine share its cores: the load average is printed.

Expected on a 2-core CPU with the defaults (18 blocks, 9.4 Mvoxels; measured
twice on one): about 90 s end to end with 1 worker and 60-65 s with 2 (ratio
1.3-1.4), mostly predict and fragments at ~0.25 Mvoxels/s each with 1 worker;
ratios 2 vs 1 worker of ~1.2 for predict, 1.6-1.9 for fragments, ~1.2 for
edges, ~1 for agglomerate and relabel (their ~1 s of start-up is most of
their time); the whole benchmark in about 3 minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from mbl_seg import blockwise, evaluate
from mbl_seg.data.synthetic import synthetic_volume
from mbl_seg.env import select_device

NETWORK = "05_affs3d_fly"
SEED = 4


class StageFigures(NamedTuple):
    """One stage of one run: the call's time and what the block log says."""

    stage: str
    workers: int
    call_s: float
    blocks: int
    blocks_wall_s: float
    voxels: int  # the volume's voxels (every stage covers the whole volume)
    worker_rates: list  # voxels per busy second, one per worker that did blocks

    @property
    def call_rate(self) -> float:
        return self.voxels / self.call_s

    @property
    def blocks_rate(self) -> float:
        return self.voxels / self.blocks_wall_s if self.blocks_wall_s > 0 else float("nan")


def run_stages(raw, voxel_size, directory: Path, *, block, workers: int,
               device: str | None) -> tuple[list[StageFigures], blockwise.Run]:
    """The five stages one call each, into ``directory``; their figures and the last run."""
    figures, run = [], None
    for stage in blockwise.STAGES:
        start = time.perf_counter()
        run = blockwise.run(raw, directory, voxel_size=voxel_size, network=NETWORK,
                            block_shape=block, workers=workers, stages=[stage], device=device,
                            progress=False)
        call_s = time.perf_counter() - start
        (row,) = blockwise.throughput(run.blocks())
        voxels = raw.size
        if stage == "agglomerate":  # its one block logs the number of fragments
            rates = [voxels / busy for _, busy, _ in row.per_worker.values()]
        else:
            if row.voxels != voxels:
                raise RuntimeError(f"{stage}: the block log covers {row.voxels} voxels, "
                                   f"the volume has {voxels}")
            rates = [rate for _, _, rate in row.per_worker.values()]
        figures.append(StageFigures(stage, workers, call_s, row.blocks, row.wall_s, voxels,
                                    rates))
        print(f"  {workers} worker(s): {stage} done in {call_s:.1f} s", flush=True)
    return figures, run


def mega(x: float) -> str:
    return f"{x / 1e6:.3f}"


def print_table(figures: list[StageFigures]) -> None:
    head = (f"{'stage':<12} {'workers':>7} {'blocks':>6} {'call s':>7} {'blocks s':>8} "
            f"{'Mvox/s call':>11} {'Mvox/s blocks':>13}  per-worker Mvox/s")
    print(head)
    print("-" * len(head))
    for f in figures:
        per_worker = ", ".join(mega(r) for r in f.worker_rates)
        print(f"{f.stage:<12} {f.workers:>7} {f.blocks:>6} {f.call_s:>7.2f} "
              f"{f.blocks_wall_s:>8.2f} {mega(f.call_rate):>11} {mega(f.blocks_rate):>13}  "
              f"{per_worker}")


def print_scaling(by_workers: dict[int, list[StageFigures]]) -> None:
    counts = list(by_workers)
    base = counts[0]
    for n in counts[1:]:
        print(f"\nscaling {n} vs {base} worker(s): throughput ratio from the call times "
              f"(from the block log in brackets)")
        for one, many in zip(by_workers[base], by_workers[n], strict=True):
            note = ("  (one block: does not scale with workers, by design)"
                    if one.stage == "agglomerate" else "")
            print(f"  {one.stage:<12} {one.call_s / many.call_s:5.2f}  "
                  f"({one.blocks_wall_s / many.blocks_wall_s:5.2f}){note}")
    totals = {n: sum(f.call_s for f in figs) for n, figs in by_workers.items()}
    print("\nend to end (sum of the five calls):")
    for n, total in totals.items():
        ratio = f"   ratio {totals[base] / total:.2f} vs {base} worker(s)" if n != base else ""
        voxels = by_workers[n][0].voxels
        print(f"  {n} worker(s): {total:7.1f} s  {mega(voxels / total)} Mvox/s{ratio}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 384, 384),
                        metavar=("Z", "Y", "X"), help="volume, voxels (default 64 384 384)")
    parser.add_argument("--block", type=int, nargs=3, default=(32, 128, 128),
                        metavar=("Z", "Y", "X"),
                        help="block shape, voxels, multiples of 4 (default 32 128 128)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to compare; ratios are against the first "
                             "(default 1 2)")
    parser.add_argument("--device", default="auto",
                        help="for predict: auto (the best there is), cpu, cuda, ...")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the runs in DIR/workers_<n> (must not exist yet); "
                             "default: temporary directories, deleted at the end")
    args = parser.parse_args(argv)
    if any(b % 4 or b <= 0 for b in args.block):
        parser.error(f"--block {args.block}: every entry must be a positive multiple of 4")
    if any(n < 1 for n in args.workers) or len(set(args.workers)) != len(args.workers):
        parser.error(f"--workers {args.workers}: distinct positive counts")
    if args.keep:
        taken = [Path(args.keep) / f"workers_{n}" for n in args.workers
                 if (Path(args.keep) / f"workers_{n}").exists()]
        if taken:
            parser.error(f"{', '.join(map(str, taken))} exist: a run there would resume and "
                         "skip blocks; pass a new --keep directory")
    device = None if args.device == "auto" else args.device
    shape, block = tuple(args.shape), tuple(args.block)

    start = time.perf_counter()
    volume = synthetic_volume(shape, "fly", seed=SEED)
    from mbl_seg.checkpoints import load_pretrained

    load_pretrained(NETWORK)  # imports and the checkpoint file once, before any timing
    grid = blockwise.BlockGrid(shape, block)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads, device {select_device(device)}, "
          f"load average {load}")
    print(f"volume {shape} (synthetic fly, seed {SEED}, {mega(volume.raw.size)} Mvoxels, "
          f"made in {time.perf_counter() - start:.1f} s, not timed), blocks {block}: "
          f"{len(grid)} blocks {grid.counts}; network {NETWORK}; workers {args.workers}\n")

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_blockwise_"))
    by_workers, segmentations = {}, {}
    try:
        for n in args.workers:
            figures, last = run_stages(volume.raw, volume.voxel_size, root / f"workers_{n}",
                                       block=block, workers=n, device=device)
            by_workers[n] = figures
            segmentations[n] = last.segmentation()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print_table([f for n in args.workers for f in by_workers[n]])
    print_scaling(by_workers)

    base = args.workers[0]
    print()
    for n in args.workers[1:]:
        same = np.array_equal(segmentations[base], segmentations[n])
        print(f"segmentation with {n} worker(s) identical to {base} worker(s): "
              f"{'yes' if same else 'NO (the pipeline should be deterministic)'}")
    for n in args.workers:
        if n == base or not np.array_equal(segmentations[base], segmentations[n]):
            score = evaluate.voi(volume.labels, segmentations[n])
            count = len(np.unique(segmentations[n]))
            print(f"VOI against the labels ({n} worker(s)): split {score.split:.3f}, "
                  f"merge {score.merge:.3f}, total {score.total:.3f}; "
                  f"{count} segments")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end {load}; whole benchmark {time.perf_counter() - start:.0f} s"
          + (f"; runs kept in {root}" if args.keep else ""))


if __name__ == "__main__":
    main()
