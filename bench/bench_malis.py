"""Benchmark: MALIS loss + backward on one CPU core for a (3, 32, 128, 128) patch.

Run on one core:  taskset -c 0 .venv/bin/python bench/bench_malis.py

Prints the numba first-call time (compilation, or loading the on-disk cache),
median and best time of ``malis_loss(...)`` + ``backward()`` for constrained and
unconstrained MALIS, with random affinities (an untrained network: components
mix labels early, the hard case) and with noisy ground-truth affinities (a
trained network), and the time of the same algorithm run as plain Python (the
numba kernels' ``py_func``), on a smaller patch, extrapolated per edge.

Target (acceptance): loss + gradient <= 0.3 s per patch on one core.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

import numpy as np
import torch

import mbl_seg._malis_kernels as kernels
import mbl_seg.malis as malis
from mbl_seg.data import synthetic_volume
from mbl_seg.losses import malis_loss
from mbl_seg.targets import affinities as ground_truth_affinities

SHAPE = (32, 128, 128)
SMALL = (8, 32, 32)  # for the pure-Python run
TARGET_S = 0.3
KERNELS = ("_sorted_edges", "_radix_argsort", "_find", "_slot", "_new_entry", "_add",
           "_rebuild", "_new_hist", "_merge", "_room", "_kruskal")


def affinities(labels: np.ndarray, kind: str, seed: int = 0) -> torch.Tensor:
    """(1, 3, z, y, x) probabilities: 'random' (untrained) or 'trained' (noisy truth)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (1, 3, *labels.shape)
    if kind == "random":
        return torch.rand(shape, generator=gen)
    gt = torch.from_numpy(ground_truth_affinities(labels))[None]
    return torch.sigmoid(4 * (2 * gt - 1) + 1.5 * torch.randn(shape, generator=gen))


def time_loss(affs: torch.Tensor, labels: np.ndarray, constrained: bool,
              repeats: int = 7) -> list[float]:
    times = []
    for _ in range(repeats):
        a = affs.clone().requires_grad_(True)
        start = time.perf_counter()
        malis_loss(a, labels, constrained=constrained).backward()
        times.append(time.perf_counter() - start)
    return times


@contextmanager
def pure_python():
    """Swap every compiled kernel for its plain-Python body (the very same code)."""
    saved = {name: getattr(kernels, name) for name in KERNELS}
    try:
        for name, fn in saved.items():
            setattr(kernels, name, fn.py_func)
        yield
    finally:
        for name, fn in saved.items():
            setattr(kernels, name, fn)


def pure_python_time(labels: np.ndarray) -> float:
    affs = affinities(labels, "random")[0].numpy()
    with pure_python():
        start = time.perf_counter()
        malis.malis_weights(affs, labels, constrained=True)
        return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    labels = synthetic_volume(SHAPE, "fly", seed=0).labels
    batch = labels[None]
    n_edges = sum(np.prod(SHAPE) - np.prod(SHAPE) // s for s in SHAPE)
    print(f"patch: affinities (3, {', '.join(map(str, SHAPE))}), {n_edges} edges, "
          f"{len(np.unique(labels)) - 1} objects; torch threads: {torch.get_num_threads()}")

    start = time.perf_counter()
    malis_loss(affinities(labels, "random")[..., :4, :8, :8], batch[:, :4, :8, :8])
    first = time.perf_counter() - start
    hits = kernels._kruskal.stats.cache_hits
    source = "loaded from the numba cache" if sum(hits.values()) else "compiled"
    print(f"numba first call: {first:.2f} s ({source})")

    worst = 0.0
    for kind in ("random", "trained"):
        affs = affinities(labels, kind)
        for constrained in (True, False):
            times = time_loss(affs, batch, constrained)
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"{'constrained' if constrained else 'original':>11} MALIS, {kind:>7} "
                  f"affinities: loss + backward median {median:.3f} s, best {min(times):.3f} s")

    small_labels = labels[:SMALL[0], :SMALL[1], :SMALL[2]]
    small_edges = sum(np.prod(SMALL) - np.prod(SMALL) // s for s in SMALL)
    slow = pure_python_time(small_labels)
    estimate = slow * n_edges / small_edges
    print(f"pure Python (same kernels, py_func), constrained counts on (3, "
          f"{', '.join(map(str, SMALL))}): {slow:.2f} s, per edge -> {estimate:.0f} s "
          "for the patch")
    if estimate < 60:
        print(f"pure Python on the patch itself: {pure_python_time(labels):.1f} s")
    verdict = "met" if worst <= TARGET_S else "MISSED"
    print(f"target <= {TARGET_S} s (worst median {worst:.3f} s): {verdict}")


if __name__ == "__main__":
    main()
