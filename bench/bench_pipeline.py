"""Benchmark: the 3D training data pipeline of notebook 05, and one 3D U-Net training step.

Run:  .venv/bin/python bench/bench_pipeline.py [--batches 100] [--rounds 2] [--workers 2]

Batches of one (32, 128, 128) patch of the fly domain (``fly/train``): raw,
labels and nearest-neighbour affinities (3 offsets) with their masks, with
elastic deformation, mirror/transpose and intensity augmentation, made by 2
DataLoader workers (`mbl_seg.pipeline.BatchSource`). Prints batches/s per
round (after a warm-up that starts the workers), the load average of the
machine (other processes share its cores), and the mean worker time per
stage. Then the time of one training step (forward, backward, Adam) of the
notebook's 3D U-Net on one batch, on CPU, and on a GPU if there is one.

Target (acceptance): at least 16 batches/s on a 2-core machine (the field's
usual tool measured 8.5/s there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from mbl_seg.data import load_dataset
from mbl_seg.models import UNet, center_crop
from mbl_seg.pipeline import (
    Affinities, BatchSource, Elastic, Intensity, MirrorTranspose, Pipeline, Source,
)

TARGET = 16.0  # batches/s
PATCH = (32, 128, 128)


def pipeline(source: Source, patch_shape) -> Pipeline:
    return Pipeline(source, patch_shape=patch_shape,
                    augment=[Elastic(), MirrorTranspose(), Intensity()],
                    targets=Affinities())  # the 3 nearest-neighbour offsets


def batches_per_second(source: BatchSource, count: int, warmup: int = 8) -> float:
    stream = source.batches(0, 0, warmup + count)
    for _ in range(warmup):  # the workers start and fill their queues
        next(stream)
    start = time.perf_counter()
    for _ in range(count):
        next(stream)
    rate = count / (time.perf_counter() - start)
    stream.close()
    return rate


def affinity_loss(logits, batch):
    shape = logits.shape[2:]
    target = center_crop(batch["affs"], shape)
    mask = center_crop(batch["affs_mask"], shape)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target,
                                                                reduction="none")
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def step_seconds(batch: dict, device: str, *, amp: bool = False, steps: int = 3) -> float:
    """Median time of one forward + backward + Adam step of a fresh network."""
    net = UNet(dims=3, depth=3, base_features=12, downsample=((1, 2, 2), (2, 2, 2)),
               kernel_size=3, padding="valid", out_channels=3, seed=0).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device, enabled=amp)
    batch = {k: v.to(device) for k, v in batch.items()}
    times = []
    for _ in range(steps + 1):  # the first one warms up (allocator, cuDNN)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, enabled=amp):
            loss = affinity_loss(net(batch["raw"]), batch)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    fly = Source.from_dataset(load_dataset("fly/train"))
    source = BatchSource(pipeline(fly, PATCH), batch_size=1, num_workers=args.workers)
    print(f"pipeline: {source.pipeline}")
    print(f"batches of 1 x {PATCH} (raw, labels, mask, 3 affinities + mask), "
          f"{args.workers} workers, {os.cpu_count()} CPU cores")
    rates = []
    for round_ in range(args.rounds):
        rates.append(batches_per_second(source, args.batches))
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"round {round_ + 1}: {rates[-1]:.1f} batches/s   (load average {load})")
    verdict = "met" if max(rates) >= TARGET else "NOT met"
    print(f"best {max(rates):.1f} batches/s; target {TARGET:g}/s {verdict}")
    print("mean worker time per stage (last round):")
    print(source.profile.table())

    net = UNet(dims=3, depth=3, base_features=12, downsample=((1, 2, 2), (2, 2, 2)),
               kernel_size=3, padding="valid", out_channels=3)
    shape = net.valid_input_shape(near=PATCH)
    batch = next(BatchSource(pipeline(fly, shape), num_workers=0).batches(0, 0, 1))
    batch = {k: v for k, v in batch.items() if v.dtype.is_floating_point}
    with torch.no_grad():
        out = tuple(net(torch.zeros(1, 1, *shape)).shape[2:])
    print(f"3D U-Net training step, input {shape} -> output {out}:")
    print(f"  CPU ({torch.get_num_threads()} threads): "
          f"{step_seconds(batch, 'cpu'):.2f} s per step")
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        print(f"  GPU ({name}): {1e3 * step_seconds(batch, 'cuda', steps=10):.1f} ms per step, "
              f"{1e3 * step_seconds(batch, 'cuda', amp=True, steps=10):.1f} ms with AMP")
    else:
        print("  GPU: none here")


if __name__ == "__main__":
    main()
