"""Benchmark: does training wait for its batches? Notebooks 02 and 04, full-mode settings.

Run:  .venv/bin/python bench/bench_train.py [--iterations 20] [--device cpu]

For the full-mode training of notebook 02 (2D U-Net, balanced BCE on boundaries,
batches of 8 patches of 256 x 256) and of notebook 04 (the same U-Net with two
affinity channels, balanced BCE + constrained MALIS, its fine-tuning loss),
prints the time to make one batch (alone, on this thread), the time of a
training step per batch, and the fraction of the wall time the training loop
waited for data: with batches made ahead on a background thread (prefetch=2,
the default) and made in line (prefetch=0), for comparison, the two taking
turns in two rounds. Each run starts from a fresh network, after a short
warm-up run (numba, allocator, threads).

Target (acceptance): data wait below 10 % for notebook 02's setting, prefetching,
on CPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mbl_seg import data
from mbl_seg.env import select_device
from mbl_seg.losses import balanced_bce, malis_loss
from mbl_seg.models import UNet
from mbl_seg.pipeline import batch_maker
from mbl_seg.targets import affinities, affinity_mask, boundaries
from mbl_seg.train import train

TARGET = 0.10  # data wait, as a fraction of the wall time, notebook 02 with prefetching
BATCH_SIZE, PATCH = 8, (256, 256)  # cfg.pick(4, 8), cfg.pick((128, 128), (256, 256))


def boundary_loss(logits, batch):  # notebook 02's loss_fn
    return balanced_bce(logits, batch["target"])


def affinity_bce(logits, batch):  # notebook 04's bce_loss
    return balanced_bce(logits, batch["affs"], mask=batch["mask"])


def affinity_bce_malis(logits, batch):  # notebook 04's bce_malis_loss
    labels = batch["labels"][:, 0]
    return affinity_bce(logits, batch) + malis_loss(torch.sigmoid(logits), labels,
                                                    constrained=True)


def edge_mask(labels):
    return affinity_mask(labels.shape)


def identity(labels):
    return labels


def settings(train_data) -> dict:
    """name -> (make_batch, network factory, loss), as the notebooks build them in full mode."""
    common = {"batch_size": BATCH_SIZE, "patch_shape": PATCH,
              "voxel_size": train_data.voxel_size}
    unet = {"dims": 2, "depth": 3, "base_features": 16, "padding": "same", "seed": 0}
    return {
        "notebook 02 (boundaries, balanced BCE)": (
            batch_maker(train_data.raw, train_data.labels, targets={"target": boundaries},
                        **common),
            lambda: UNet(**unet), boundary_loss),
        "notebook 04 (affinities, BCE + constrained MALIS)": (
            batch_maker(train_data.raw, train_data.labels, **common,
                        targets={"affs": affinities, "mask": edge_mask, "labels": identity}),
            lambda: UNet(out_channels=2, **unet), affinity_bce_malis),
    }


def batch_seconds(make_batch, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        make_batch(np.random.default_rng([0, i]))
    return (time.perf_counter() - start) / count


def run(make_batch, network, loss, *, iterations: int, device: str, prefetch: int):
    return train(network(), make_batch, loss, iterations=iterations, device=device, seed=0,
                 optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
                 prefetch=prefetch, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20,
                        help="per setting and prefetch mode (default 20, at least 2)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best)")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error(f"--iterations must be at least 2, got {args.iterations}")
    device = select_device(args.device)
    train_data = data.load_dataset("fly/train2d")
    print(f"device {device}, torch threads {torch.get_num_threads()}, batches of {BATCH_SIZE} x "
          f"{PATCH[0]} x {PATCH[1]}, {args.iterations} iterations per setting and prefetch mode")
    verdict = None
    for name, (make_batch, network, loss) in settings(train_data).items():
        run(make_batch, network, loss, iterations=2, device=device, prefetch=2)  # warm-up
        made = batch_seconds(make_batch, min(args.iterations, 10))
        print(f"{name}: make one batch {made:.3f} s")
        # Two rounds, the modes taking turns: a shared machine's load drifts.
        totals = {prefetch: np.zeros(2) for prefetch in (2, 0)}  # seconds, waiting
        for iterations in (args.iterations // 2, args.iterations - args.iterations // 2):
            for prefetch, total in totals.items():
                result = run(make_batch, network, loss, iterations=iterations, device=device,
                             prefetch=prefetch)
                total += (result.seconds, result.data_wait)
        for prefetch, (seconds, waiting) in totals.items():
            step = (seconds - waiting) / args.iterations
            print(f"  prefetch={prefetch}: step {step:.3f} s per batch, waiting for data "
                  f"{100 * waiting / seconds:.1f} % of {seconds:.1f} s")
            if verdict is None and prefetch:
                verdict = waiting / seconds
    print(f"target: data wait < {100 * TARGET:.0f} % for notebook 02 with prefetching "
          f"({100 * verdict:.1f} %): {'met' if verdict < TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
