"""Benchmark: the block-wise pipeline on a zarr volume that is never loaded whole.

Run:  .venv/bin/python bench/bench_blockwise_large.py [--tiles 2 3 3] [--tile 64 384 384]
                                                       [--block 32 128 128] [--workers 1 2]
                                                       [--keep DIR]

The volume is made tile by tile into a zarr array on disk: each tile is
``synthetic_volume(tile, "fly", seed=100 + k)``, generated, written and
dropped before the next (the seams between tiles are artefacts of this
benchmark, not of the pipeline). With the defaults it is 2 x 3 x 3 tiles of
64 x 384 x 384: 128 x 1152 x 1152 = 170 million voxels, 18 times notebook
08's volume. ``blockwise.run`` gets the lazy zarr array (read in place, block
by block) and runs all five steps with 1 and then 2 worker processes.

Each run is a child process of this script, so that its memory is its own:

- **main**: the peak resident memory of the process that calls
  ``blockwise.run`` (daisy's scheduler, the raw checksum read slab by slab,
  the agglomeration of the whole graph), its own (``VmHWM``; the volume is made
  in another process, so that the runs start from a small one);
- **worker**: the largest peak of any one of its daisy worker processes
  (``RUSAGE_CHILDREN``: the kernel keeps the largest, not the sum);
- **bound**: main + workers x worker, an upper bound of the run's peak.

and it is compared with what the volume would take whole in memory: its raw
(uint8) and its affinities (3 x float32). Mvoxels/s is the volume over the
wall time of the whole call.

What to look for: the bound does not grow with the volume (compare a run with
``--tiles 1 1 1`` against the default): a worker holds torch, the network and
its blocks in flight, the main process daisy, whatever the volume's size, as
long as the agglomeration runs per block (``--agglomeration blocks``, the
default; with ``graph`` one worker holds the whole graph, which grows with
it). The default volume's raw alone is 170 MB and its affinities 2 GB.

Measured (2026-12-07, 2 cores, quiet, per-block agglomeration). With ``steady_memory``
(the default here; glibc's mmap threshold pinned in the workers), the largest worker's peak
per step, in MB, and the whole runs:

    volume         predict fragments edges scores segments relabel | workers  seconds  Mvox/s  main  worker
    9 Mvoxels          633       426   240    358       75      93 |       1       87    0.11   257     633
    38 Mvoxels         637       421   241    382       78      94 |       1      312    0.12   257     637
    170 Mvoxels        639       473   243    461       93      96 |       1     1351    0.13   309     639
                       637       472   243    451       93      96 |       2     1104    0.15   302     637

The steps that hold blocks stay where their blocks put them: the 170-Mvoxel volume is 4
blocks deep, so most of its blocks read their full context on every side (the others are 2
deep: every block touches a face and reads less), which is the 50-80 MB of fragments and
scores. The global step (segments) holds the fragment table and the edges below the
threshold, pooled by SQLite: 18 MB more for 18 times the volume. The main process grows by
45-52 MB (daisy's scheduler and the run's record, per block; not traced further). The same
31062 segments with 1 and 2 workers; the volume's affinities alone would take 1944 MB.

Without ``steady_memory`` (``--plain-heap``), glibc's heap creeps up block after block:
the largest worker (prediction) 712 MB on 9 Mvoxels, 907 MB on 38, 983-996 MB on 170
(fragments 590 -> 680, scores 608 -> 682 from 9 to 38), in 9 Mvoxels 69 s, 38 Mvoxels
268 s, 170 Mvoxels 1254 s with 1 worker and 1125 s with 2: the steady heap costs 7-26 %
with one worker and nothing measurable with two. (Before two
fixes, 2026-12-06: the main process counted the 782 MB of the process that made the
volume, and the agglomeration was the whole graph's: 791 s and 659 s, largest worker 996
and 960 MB.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
import zarr
from mbl_seg import blockwise
from mbl_seg.blockwise._stages import peak_rss
args = json.loads(sys.argv[1])
raw = zarr.open_array(args["volume"], mode="r")
started = time.perf_counter()
run = blockwise.run(raw, args["run"], voxel_size=(8.0, 8.0, 8.0), block_shape=args["block"],
                    workers=args["workers"], progress=False, device="cpu",
                    agglomeration=args["agglomeration"], steady_memory=args["steady"])
seconds = time.perf_counter() - started
# VmHWM: the peak of this process's own memory since it started (ru_maxrss would also count
# the process it was forked from); as the block records measure their workers
main_mb = (peak_rss() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
print(json.dumps({
    "seconds": seconds,
    "main_mb": main_mb,
    "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "segments": int(run.log.read_lookup(run.segmentation_name[len("segmentation_"):])[1].max()),
    "steps": {row.task.split("_")[0]: row.rss / 2**20 for row in blockwise.throughput(run.blocks())},
}))
"""


def make_volume(path: Path, tiles, tile) -> tuple[int, ...]:
    """The tiled volume, written tile by tile into a zarr array at ``path``."""
    import zarr

    from mbl_seg.data.synthetic import synthetic_volume

    shape = tuple(n * t for n, t in zip(tiles, tile))
    raw = zarr.create_array(path, shape=shape, dtype="uint8", chunks=tuple(tile),
                            overwrite=True)
    k = 0
    for i in range(tiles[0]):
        for j in range(tiles[1]):
            for m in range(tiles[2]):
                volume = synthetic_volume(tuple(tile), "fly", seed=100 + k)
                raw[i * tile[0]:(i + 1) * tile[0], j * tile[1]:(j + 1) * tile[1],
                    m * tile[2]:(m + 1) * tile[2]] = volume.raw
                k += 1
                del volume
    return shape


def run_child(volume: Path, directory: Path, block, workers: int, agglomeration: str,
              steady: bool) -> dict:
    args = json.dumps({"volume": str(volume), "run": str(directory), "block": list(block),
                       "workers": workers, "agglomeration": agglomeration, "steady": steady})
    done = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"the run with {workers} worker(s) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=int, nargs=3, default=[2, 3, 3])
    parser.add_argument("--tile", type=int, nargs=3, default=[64, 384, 384])
    parser.add_argument("--block", type=int, nargs=3, default=[32, 128, 128])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="make the volume and runs here, and keep them")
    parser.add_argument("--agglomeration", choices=("blocks", "graph"), default="blocks",
                        help="blocks (default): per block, then a global threshold; graph: the "
                             "whole graph in one worker, whose memory grows with the volume")
    parser.add_argument("--plain-heap", action="store_true",
                        help="run without steady_memory: glibc's heap then creeps up")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="mbl_seg_large_"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # in a process of its own: this one stays small, so the runs it starts inherit little
    made_by = subprocess.run(
        [sys.executable, "-c", "import json, sys; sys.path.insert(0, sys.argv[1]); "
         "from bench_blockwise_large import make_volume; "
         "print(json.dumps(make_volume(sys.argv[2], json.loads(sys.argv[3]), "
         "json.loads(sys.argv[4]))))", str(Path(__file__).parent),
         str(folder / "volume.zarr"), json.dumps(args.tiles), json.dumps(args.tile)],
        capture_output=True, text=True, check=False)
    if made_by.returncode:
        raise SystemExit(f"making the volume failed:\n{made_by.stderr[-3000:]}")
    shape = tuple(json.loads(made_by.stdout.strip().splitlines()[-1]))
    voxels = math.prod(shape)
    made = time.perf_counter() - started
    print(f"volume {shape} = {voxels / 1e6:.0f} Mvoxels ({voxels / (64 * 384 * 384):.1f} x "
          f"notebook 08's), made tile by tile in {made:.0f} s; whole in memory it would take "
          f"{voxels / 2**20:.0f} MB (raw) + {12 * voxels / 2**20:.0f} MB (affinities)")
    print(f"blocks of {tuple(args.block)}, agglomeration {args.agglomeration!r}, steady_memory="
          f"{not args.plain_heap}; "
          f"{os.cpu_count()} CPU cores; load average "
          f"{os.getloadavg()[0]:.1f} before the runs; this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB peak so far")
    print(f"{'workers':>8} {'seconds':>8} {'Mvoxels/s':>10} {'main MB':>8} {'worker MB':>10} "
          f"{'bound MB':>9} {'segments':>9}")
    for workers in args.workers:
        figures = run_child(folder / "volume.zarr", folder / f"run_{workers}", args.block,
                            workers, args.agglomeration, not args.plain_heap)
        bound = figures["main_mb"] + workers * figures["worker_mb"]
        print(f"{workers:>8} {figures['seconds']:8.0f} {voxels / figures['seconds'] / 1e6:10.2f} "
              f"{figures['main_mb']:8.0f} {figures['worker_mb']:10.0f} {bound:9.0f} "
              f"{figures['segments']:9d}")
        print("         largest worker by step (MB): " + ", ".join(
            f"{step} {mb:.0f}" for step, mb in figures["steps"].items()))
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
