"""Benchmark: reconstruction by dilation (the h-maxima of the seeded watershed), ours against scikit-image's.

Run:  .venv/bin/python bench/bench_reconstruct.py [--rounds 3]

The job is the one of ``segment.find_seeds(..., h=16)``: the distance map (nm) of
``fly/test``'s ground-truth boundaries, reconstructed from itself lowered by 16 nm.
Prints the best of ``--rounds`` wall times of ``mbl_seg._reconstruct.reconstruct`` and
``skimage.morphology.reconstruction(..., method="dilation")`` and whether the two
results are equal bit for bit (they must be: tests/test_reconstruct.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage
from skimage.morphology import reconstruction

from mbl_seg._reconstruct import reconstruct
from mbl_seg.data import load_dataset
from mbl_seg.targets import boundaries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    volume = load_dataset("fly/test")
    inside = boundaries(volume.labels, voxel_size=volume.voxel_size) == 0
    distance = ndimage.distance_transform_edt(inside, sampling=volume.voxel_size)
    seed = distance - 16.0
    reconstruct(seed, distance)  # compiles (or loads the cached compilation): not timed
    results = {}
    print(f"distance map of fly/test {distance.shape}, h = 16 nm; best of {args.rounds}")
    for name, run in (("ours (numba, Vincent's hybrid)", lambda: reconstruct(seed, distance)),
                      ("scikit-image", lambda: reconstruction(seed, distance,
                                                              method="dilation"))):
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            results[name] = run()
            times.append(time.perf_counter() - start)
        print(f"  {name:<32} {min(times):6.2f} s")
    a, b = results.values()
    print(f"  equal bit for bit: {'yes' if np.array_equal(a, b) else 'NO'}")


if __name__ == "__main__":
    main()
