"""Benchmark: hierarchical agglomeration, ours (numpy + numba) against waterz (C++).

Run:  .venv/bin/python bench/bench_agglomerate.py [--rounds 3] [--affs PATH.npy --labels PATH.npy]

The job is the one of notebook 07: given affinities and fragments, agglomerate
to a list of thresholds and return one segmentation per threshold. By default
the affinities are the shipped ``05_affs3d_fly`` network's prediction on
``fly/train`` (64, 256, 256) at 8 nm, the fragments are
``mbl_seg.segment.fragments`` of them (both made once, not timed), and the
segmentations are scored against the volume's labels.

1. **Mean affinity scoring** (the default of both): wall time of
   ``mbl_seg.segment.agglomerate`` and ``waterz.agglomerate(affs, thresholds,
   fragments=...)`` on the same input, best of ``--rounds``, in one process,
   taking turns within each round (a change of the machine's load weighs on
   both alike); VOI split / merge of both at every threshold, and
   whether the two give the same segments. Target: ours at most waterz's time
   (ratio <= 1.0) at the same segments. waterz yields one buffer that it
   overwrites at the next threshold, so its segmentations are copied (as a user
   must, to keep them); ours yields a new array per threshold, copied by no one.
2. **Median scoring**: ours (the quantile over every contact of an edge, from
   256-bin histograms) next to waterz's ``HistogramQuantileAffinity`` twice: as
   waterz starts it by default (each initial edge keeps only its *highest*
   contact affinity, ``InitWithMax``) and with that switched off, which is the
   definition we use. Target: ours at most 1.3x waterz's time (every contact).
   Quantile scores are bin centres, so many edges tie, and the two break ties
   in different orders: the segments differ a little (printed). Needs a C++
   compiler for waterz to build those scoring functions on first use.

waterz is a benchmark oracle only (``pip install waterz==0.10.1``); the library
does not use it. Without it, only our times and scores are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np

from mbl_seg import evaluate
from mbl_seg.segment import agglomerate, fragments

THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
TARGET = 1.0  # ours / waterz wall time, mean scoring
QUANTILE_TARGET = 1.3  # the same, median scoring (every contact)
QUANTILE_SCORING = "OneMinus<HistogramQuantileAffinity<RegionGraphType, 50, ScoreValue, 256{}>>"


@contextlib.contextmanager
def quiet_stdout():
    """Silence what C++ code prints to file descriptor 1 (waterz reports every merge step)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def best_times(fns, rounds: int) -> list[tuple[float, object]]:
    """The best of ``rounds`` wall times of each function, with its last result.

    The functions take turns within each round, so that a change of the machine's
    load during the benchmark weighs on all of them alike.
    """
    times = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - start)
    return [(min(t), out) for t, out in zip(times, outs)]


def course_affinities():
    """The shipped 3D network's affinities on fly/train, and its labels and voxel size."""
    import torch

    from mbl_seg.checkpoints import load_pretrained
    from mbl_seg.data import load_dataset
    from mbl_seg.predict import predict_blocks

    torch.set_num_threads(os.cpu_count() or 1)
    volume = load_dataset("fly/train")
    net = load_pretrained("05_affs3d_fly").model
    affs = predict_blocks(net, volume.raw, device="cpu", progress=False)[:3]
    return np.ascontiguousarray(affs, np.float32), volume.labels, volume.voxel_size


def same_partition(a, b) -> bool:
    """The same segments, whatever their ids (waterz numbers them its own way)."""
    return evaluate.voi(a, b).total < 1e-12 and np.array_equal(a == 0, b == 0)


def scores(labels, segmentations):
    return [evaluate.voi(labels, s) for s in segmentations]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--affs", help="a (3, z, y, x) float32 .npy of nearest-neighbour affinities")
    parser.add_argument("--labels", help="a (z, y, x) .npy of labels for --affs")
    parser.add_argument("--voxel-size", type=float, nargs=3, default=(8.0, 8.0, 8.0),
                        help="nm, (z, y, x), for --affs")
    args = parser.parse_args()
    if bool(args.affs) != bool(args.labels):
        parser.error("--affs and --labels go together")
    start = time.perf_counter()
    if args.affs:
        affs = np.load(args.affs).astype(np.float32)
        labels = np.load(args.labels).astype(np.uint64)
        voxel_size, source = tuple(args.voxel_size), args.affs
    else:
        affs, labels, voxel_size = course_affinities()
        source = "05_affs3d_fly on fly/train"
    frags = fragments(affs, voxel_size=voxel_size)
    print(f"affinities {affs.shape} ({source}), {int(frags.max())} fragments, "
          f"made in {time.perf_counter() - start:.1f} s (not timed below)")
    print(f"thresholds {THRESHOLDS}; best of {args.rounds} rounds\n")

    def ours(**options):
        return list(agglomerate(affs, frags, thresholds=THRESHOLDS, **options))  # new arrays

    try:
        import waterz
    except ImportError:
        waterz = None
        print("waterz is not installed (pip install waterz==0.10.1): our figures only\n")

    def theirs(scoring=None):
        options = {} if scoring is None else {"scoring_function": scoring}
        with quiet_stdout():
            return [s.copy() for s in waterz.agglomerate(affs, THRESHOLDS,
                                                         fragments=frags.copy(), **options)]

    print("1. mean affinity scoring")
    if waterz is not None:
        theirs()  # first call loads (or builds) the C++ module: not timed
        (ours_time, ours_segs), (their_time, their_segs) = best_times([ours, theirs],
                                                                      args.rounds)
    else:
        ((ours_time, ours_segs),) = best_times([ours], args.rounds)
    ours_voi = scores(labels, ours_segs)
    lines = [f"  {'ours (numpy + numba)':<34} {ours_time:6.2f} s"]
    if waterz is not None:
        their_voi = scores(labels, their_segs)
        ratio = ours_time / their_time
        lines.append(f"  {'waterz 0.10 (C++)':<34} {their_time:6.2f} s")
        lines.append(f"  ratio ours / waterz {ratio:.2f}  target <= {TARGET:.1f}: "
                     f"{'met' if ratio <= TARGET else 'MISSED'}")
    print("\n".join(lines))
    print("  threshold  segments  ours: split  merge  total" +
          ("  | waterz: split  merge  total  same segments" if waterz else ""))
    for k, t in enumerate(THRESHOLDS):
        line = (f"  {t:9.2f}  {len(np.unique(ours_segs[k])):8d}  {ours_voi[k].split:11.3f}"
                f"  {ours_voi[k].merge:5.3f}  {ours_voi[k].total:5.3f}")
        if waterz is not None:
            same = same_partition(ours_segs[k], their_segs[k])
            line += (f"  | {their_voi[k].split:13.3f}  {their_voi[k].merge:5.3f}  "
                     f"{their_voi[k].total:5.3f}  {'yes' if same else 'no'}")
        print(line)
    if waterz is not None:
        best_ours = min(v.total for v in ours_voi)
        best_theirs = min(v.total for v in their_voi)
        print(f"  best VOI total: ours {best_ours:.3f}, waterz {best_theirs:.3f}: "
              f"{'equal or better' if best_ours <= best_theirs + 1e-9 else 'WORSE'}")

    print("\n2. median scoring (quantile 0.5 of the contact affinities)")
    contenders = [("ours, every contact", lambda: ours(scoring="quantile", quantile=0.5))]
    if waterz is not None:
        for name, flag in (("waterz, InitWithMax (default)", ""),
                           ("waterz, every contact", ", false")):
            scoring = QUANTILE_SCORING.format(flag)
            try:
                theirs(scoring)  # builds the scoring function once: not timed
            except Exception as error:  # noqa: BLE001 - no compiler: say so, keep going
                print(f"  {name}: could not build ({type(error).__name__}: {error})")
                continue
            contenders.append((name, lambda s=scoring: theirs(s)))
    timed = best_times([fn for _, fn in contenders], args.rounds)
    q_time, q_segs = timed[0]
    rows = [(name, seconds, scores(labels, segs), segs)
            for (name, _), (seconds, segs) in zip(contenders, timed)]
    for name, seconds, vois, segs in rows:
        best = int(np.argmin([v.total for v in vois]))
        apart = max(evaluate.voi(a, b).total for a, b in zip(segs, q_segs))
        print(f"  {name:<32} {seconds:6.2f} s  best VOI total {vois[best].total:.3f} "
              f"(split {vois[best].split:.3f}, merge {vois[best].merge:.3f}) at "
              f"{THRESHOLDS[best]}; largest VOI to ours {apart:.3f}")
    print("  (quantile scores are bin centres, so many edges tie; waterz and we break ties in "
          "different orders)")
    every = [row for row in rows if row[0] == "waterz, every contact"]
    if every:
        ratio = q_time / every[0][1]
        print(f"  ratio ours / waterz (every contact) {ratio:.2f}  target <= "
              f"{QUANTILE_TARGET:.1f}: {'met' if ratio <= QUANTILE_TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
