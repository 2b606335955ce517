"""Benchmark: VOI + ARAND on a 10^8-voxel volume, and scikit-image for comparison.

    python bench/bench_evaluate.py [--shape 100 1000 1000]
"""

import argparse
import resource
import time

import numpy as np

from mbl_seg.evaluate import evaluate


def blocky(rng, shape, cell, n_ids):
    """Neuron-like piecewise-constant uint64 labels: random ids on a coarse grid, upsampled."""
    coarse = rng.integers(1, n_ids, [-(-s // c) for s, c in zip(shape, cell)]).astype(np.uint64)
    for axis, c in enumerate(cell):
        coarse = np.repeat(coarse, c, axis=axis)
    return np.ascontiguousarray(coarse[tuple(slice(0, s) for s in shape)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(100, 1000, 1000))
    parser.add_argument("--small", type=int, nargs=3, default=(50, 400, 400),
                        help="shape for the scikit-image comparison")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shape = tuple(args.shape)
    gt = blocky(rng, shape, (4, 40, 40), 2**40)
    seg = blocky(rng, shape, (5, 32, 32), 2**40)
    gt[:, ::50] = 0  # some background
    start = time.perf_counter()
    scores = evaluate(gt, seg)
    took = time.perf_counter() - start
    print(f"mbl_seg.evaluate on {shape} = {gt.size / 1e6:.0f} M voxels (uint64): {took:.1f} s")
    print(f"  {scores}")

    from skimage.metrics import adapted_rand_error, variation_of_information

    small = tuple(args.small)
    g = blocky(rng, small, (4, 40, 40), 5000)
    s = blocky(rng, small, (5, 32, 32), 5000)
    start = time.perf_counter()
    ours = evaluate(g, s)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    split, merge = variation_of_information(g, s, ignore_labels=[0])
    are = adapted_rand_error(g, s, ignore_labels=(0,))[0]
    t_sk = time.perf_counter() - start
    print(f"on {small} = {g.size / 1e6:.0f} M voxels: mbl_seg {t_ours:.2f} s, "
          f"scikit-image (VOI + ARAND) {t_sk:.2f} s -> {t_sk / t_ours:.0f}x")
    print(f"  max |difference|: VOI {max(abs(ours.voi_split - split), abs(ours.voi_merge - merge)):.1e}"
          f", ARAND {abs(ours.arand - are):.1e}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak memory of this process: {peak:.1f} GiB")


if __name__ == "__main__":
    main()
