"""Benchmark: scanning prediction of the fly test volume with notebook 05's 3D U-Net.

Run:  .venv/bin/python bench/bench_predict.py [--device cpu] [--blocks 32,128,128 16,64,64]

The fly test volume (48, 256, 256) at 8 nm, the 3D U-Net of notebook 05
(``UNet(dims=3, depth=3, base_features=12, out_channels=3, padding="valid")``
with the factors of ``anisotropic_factors((8, 8, 8), 3)``), random weights.
For each device (default: CPU, and CUDA if there is one) prints, in voxels
per second of output: one whole-volume pass (``predict``), then
``predict_blocks`` for each block shape (default: its own choice, then the
given ones) into numpy, and the default blocks from zarr into zarr; each with
the largest difference to the whole-volume pass. On CUDA with mixed precision
(the default there) and without. Every number is the best of ``--repeats`` runs
after one warm-up run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from mbl_seg import data
from mbl_seg.io import open_volume, write_volume
from mbl_seg.models import UNet, anisotropic_factors
from mbl_seg.predict import _block_shape, predict, predict_blocks


def fly_net(voxel_size) -> UNet:
    factors = anisotropic_factors(voxel_size, 3)
    return UNet(dims=3, depth=3, base_features=12, out_channels=3, padding="valid", seed=0,
                downsample=factors.downsample, kernel_size=factors.kernel_size)


def best_time(run, repeats: int):
    """(seconds of the fastest of ``repeats`` runs, its result), after one warm-up run."""
    result = run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_device(net, raw, volume, *, device: str, amp: bool | None, blocks, repeats: int,
                 batch_size: int) -> None:
    voxels = raw.size
    seconds, whole = best_time(lambda: predict(net, raw, device=device, amp=amp), repeats)
    label = f"{device}{' amp' if amp or (amp is None and device.startswith('cuda')) else ''}"
    print(f"{label:<10} {'predict (one pass)':<38} {seconds:7.2f} s {voxels / seconds:12,.0f} "
          f"voxels/s")
    default = _block_shape(net, None, raw.shape)
    for block in [None, *blocks]:
        def run(block=block):
            return predict_blocks(net, raw, block_shape=block, device=device, amp=amp,
                                  batch_size=batch_size, progress=False)
        seconds, out = best_time(run, repeats)
        name = f"blocks {tuple(block) if block else default}{'' if block else ' (default)'}"
        print(f"{label:<10} {name:<38} {seconds:7.2f} s {voxels / seconds:12,.0f} voxels/s"
              f"   max |diff| {np.abs(out - whole).max():.2g}")
    with tempfile.TemporaryDirectory() as folder:
        def to_zarr():
            return predict_blocks(net, volume, out=f"{folder}/pred.zarr", overwrite=True,
                                  device=device, amp=amp, batch_size=batch_size,
                                  progress=False)
        seconds, out = best_time(to_zarr, repeats)
        print(f"{label:<10} {'zarr -> zarr, default blocks':<38} {seconds:7.2f} s "
              f"{voxels / seconds:12,.0f} voxels/s   max |diff| "
              f"{np.abs(out[...] - whole).max():.2g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", help="cpu, cuda (default: cpu and cuda)")
    parser.add_argument("--blocks", nargs="*", default=["16,64,64"],
                        help="more block shapes z,y,x to time")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    blocks = [tuple(int(v) for v in b.split(",")) for b in args.blocks]
    fly = data.load_dataset("fly/test")
    raw = np.asarray(fly.raw)
    net = fly_net(fly.voxel_size)
    print(f"fly/test {raw.shape} at {fly.voxel_size} nm; net: context {net.context}, step "
          f"{net.valid_input_shapes().step}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    with tempfile.TemporaryDirectory() as folder:
        write_volume(f"{folder}/raw.zarr", "raw", raw, voxel_size=fly.voxel_size)
        volume = open_volume(f"{folder}/raw.zarr", "raw")
        for device in devices:
            for amp in ([None, False] if device.startswith("cuda") else [None]):
                bench_device(net, raw, volume, device=device, amp=amp, blocks=blocks,
                             repeats=args.repeats, batch_size=args.batch_size)


if __name__ == "__main__":
    main()
