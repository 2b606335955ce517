"""Which patch shape teaches the course's 3D U-Net the most per CPU second? (issue 24)

A valid-padded U-Net predicts only the middle of its input: the course network (depth 3,
12 base features, 8 nm voxels) loses 40 voxels per axis. A patch of 48 x 132 x 132 (the
shipped networks' first 1500 iterations) gives an output of 8 x 92 x 92; a cube of 96 gives
56 x 56 x 56, 2.6 times as many supervised voxels for less than twice the work, and only a
cube lets MirrorTranspose exchange z with y and x on isotropic data (z then learns as much
as y and x do).

For each patch shape, prints the time of one sample of the notebook-06 pipeline (elastic,
mirror/transpose, intensity, section augmentations, affinities + LSDs at every 2nd voxel),
of one training step (forward, backward, Adam) of the MTLSD network, and the supervised
output voxels per second of the two together (one process, ``--threads`` torch threads, the
sample made in line, as the training script does with ``--workers 0``). The median of
``--repeats`` steps after one warm-up. Measure on a quiet machine.

    python bench/patch_throughput.py [--threads 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mbl_seg import data
from mbl_seg.losses import batch_mtlsd_loss
from mbl_seg.models import unet3d
from mbl_seg.pipeline import (Affinities, Elastic, Intensity, LSDs, MirrorTranspose,
                              MissingSections, Pipeline, ShiftedSections, Source)
from mbl_seg.pipeline.dataset import collate

PATCHES = ((48, 132, 132), (64, 132, 132), (80, 100, 100), (96, 96, 96))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    volume = data.load_dataset("fly/train")
    net = unet3d(volume.voxel_size, depth=3, base_features=12, out_channels=13, seed=0)
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)
    print(f"fly/train, MTLSD network ({sum(p.numel() for p in net.parameters()):,} parameters), "
          f"{args.threads} torch thread(s), median of {args.repeats}")
    print(f"{'patch':<16}{'output':<16}{'sample (s)':>11}{'step (s)':>10}"
          f"{'output voxels/s':>17}")
    for near in PATCHES:
        patch = net.valid_input_shape(near=near)
        out = net.output_shape(patch)
        pad = (patch[0] - out[0]) // 2  # the faces mirrored, as scripts/train_course_models.py
        pipe = Pipeline(Source.from_dataset(volume).mirrored_z(pad), patch_shape=patch,
                        augment=[Elastic(), MirrorTranspose(), Intensity(), MissingSections(),
                                 ShiftedSections()],
                        targets=[Affinities(), LSDs(80.0, 2)])
        sample_s, step_s = [], []
        for i in range(args.repeats + 1):
            started = time.perf_counter()
            batch = collate([pipe.sample(i, seed=1)])
            made = time.perf_counter()
            loss = batch_mtlsd_loss(net(batch["raw"]), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i:  # the first is a warm-up
                sample_s.append(made - started)
                step_s.append(time.perf_counter() - made)
        sample, step = statistics.median(sample_s), statistics.median(step_s)
        voxels = out[0] * out[1] * out[2]
        print(f"{str(patch):<16}{str(out):<16}{sample:11.2f}{step:10.2f}"
              f"{voxels / (sample + step):17,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
