"""Benchmark: VOI + ARAND on a 10^8-voxel uint64 volume, and scikit-image for comparison.

    .venv/bin/python bench/bench_evaluate.py              # (100, 1000, 1000) voxels
    .venv/bin/python bench/bench_evaluate.py --size 1e6   # quick run on ~10^6 voxels

Labels are blocky, neuron-like stand-ins: random 40-bit ids on a coarse grid,
upsampled with np.repeat, background planes in gt; the segmentation is the
ground truth shifted by a few voxels, with some objects merged and every object
split at one z plane.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import skimage
from skimage.metrics import adapted_rand_error, variation_of_information

from mbl_seg.evaluate import evaluate

CELL = (4, 40, 40)  # size of one "object" in voxels (z, y, x)


def shape_for(size: float) -> tuple[int, int, int]:
    """A (z, y, x) shape of about ``size`` voxels with the proportions of (100, 1000, 1000)."""
    scale = (size / 1e8) ** (1 / 3)
    return tuple(max(int(round(n * scale)), 2) for n in (100, 1000, 1000))


def blocky_pair(rng: np.random.Generator, shape) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth and a perturbed segmentation, both uint64 with ids up to 2**40."""
    coarse = rng.integers(1, 2**40, [-(-s // c) for s, c in zip(shape, CELL)], dtype=np.uint64)
    merged = coarse.copy()
    merge = rng.random(coarse.shape) < 0.1  # 10% of objects take their x-neighbour's id
    merged[merge] = np.roll(coarse, 1, axis=2)[merge]
    gt, seg = coarse, merged
    for axis, c in enumerate(CELL):
        gt, seg = np.repeat(gt, c, axis=axis), np.repeat(seg, c, axis=axis)
    crop = tuple(slice(0, s) for s in shape)
    gt = np.ascontiguousarray(gt[crop])
    seg = np.roll(seg[crop], (1, 3, -2), axis=(0, 1, 2))  # boundaries off by a few voxels
    seg[shape[0] // 2:] ^= np.uint64(0x5A5A5A)  # split every object at the middle z plane
    gt[:, ::50] = 0  # background planes
    return gt, seg


def timed(fn, *args, repeat: int = 1):
    """Best wall time of ``repeat`` calls, and the last result."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def skimage_scores(gt, seg):
    split, merge = variation_of_information(gt, seg, ignore_labels=[0])
    return split, merge, adapted_rand_error(gt, seg, ignore_labels=(0,))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=float, default=1e8, help="voxels (default 1e8)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    shape = shape_for(args.size)
    gt, seg = blocky_pair(rng, shape)
    took, scores = timed(evaluate, gt, seg, repeat=3)
    print(f"mbl_seg.evaluate (VOI + ARAND) on {shape} = {gt.size / 1e6:.1f} M voxels, "
          f"uint64 ids < 2**40: {took:.3f} s (best of 3)")
    print(f"  {scores}")
    tracemalloc.start()
    evaluate(gt, seg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  peak memory allocated inside evaluate: {peak / 2**30:.2f} GiB "
          f"(the two inputs: {(gt.nbytes + seg.nbytes) / 2**30:.2f} GiB)")

    noise = rng.integers(1, 2**40, gt.size // 10, dtype=np.uint64)
    noise_seg = rng.integers(0, 2**40, gt.size // 10, dtype=np.uint64)
    t_noise, _ = timed(evaluate, noise.reshape(1, 1, -1), noise_seg.reshape(1, 1, -1))
    print(f"worst case, i.i.d. random ids on {noise.size / 1e6:.1f} M voxels (no runs to "
          f"exploit): {t_noise:.3f} s")

    small_shape = shape_for(args.size / 16)
    g, s = blocky_pair(rng, small_shape)
    # scikit-image allocates a table as large as the largest id: give it small ids
    g = np.unique(g, return_inverse=True)[1].reshape(g.shape)  # 0 stays 0 (smallest)
    s = np.unique(s, return_inverse=True)[1].reshape(s.shape)
    t_ours, ours = timed(evaluate, g, s, repeat=3)
    t_sk, theirs = timed(skimage_scores, g, s, repeat=3)
    diff = np.abs(np.subtract(ours[:2] + (ours.arand,), theirs)).max()
    print(f"scikit-image {skimage.__version__} on {small_shape} = {g.size / 1e6:.1f} M voxels "
          f"(ids compacted, best of 3): {t_sk:.3f} s, mbl_seg {t_ours:.3f} s "
          f"-> {t_sk / t_ours:.0f}x; max |difference| {diff:.1e}")
    print(f"  scikit-image extrapolated to {gt.size / 1e6:.0f} M voxels: "
          f"~{t_sk * gt.size / g.size:.2f} s (mbl_seg measured {took:.3f} s)")


if __name__ == "__main__":
    main()
