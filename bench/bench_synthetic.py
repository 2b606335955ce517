"""Benchmark: time to generate one synthetic volume on one CPU core.

Target (issue 2): a (64, 256, 256) volume in at most 10 s on one core.

    python bench/bench_synthetic.py [--shape 64 256 256] [--repeat 3]
"""

import os

# one core: no BLAS/OpenMP threads (set before numpy is imported)
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from mbl_seg.data import synthetic_volume  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 256, 256))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    shape = tuple(args.shape)
    print(f"synthetic_volume{shape}, one core, best of {args.repeat}")
    for domain in ("fly", "zebrafish"):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            vol = synthetic_volume(shape, domain, seed=0)
            times.append(time.perf_counter() - start)
        same = synthetic_volume(shape, domain, seed=0)
        identical = (same.raw.tobytes() == vol.raw.tobytes()
                     and same.labels.tobytes() == vol.labels.tobytes())
        other = synthetic_volume(shape, domain, seed=1)
        differs = not np.array_equal(other.raw, vol.raw)
        n_obj = len(np.unique(vol.labels)) - 1
        print(f"  {domain:9s}: best {min(times):5.2f} s, median {np.median(times):5.2f} s "
              f"| {n_obj} objects | seed 0 twice byte-identical: {identical}, seed 1 differs: "
              f"{differs} "
              f"| target <= 10 s: {'met' if min(times) <= 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
