"""Train the course's 3D affinity U-Nets and ship small checkpoints under data/models/.

    python scripts/train_course_models.py --domain fly --iterations 3000

trains notebook 05's network (``mbl_seg.models.unet3d`` for the domain's voxel size, the 3D
pipeline of ``mbl_seg.pipeline`` with elastic, mirror/transpose, intensity and section
augmentations, class-balanced BCE on nearest-neighbour affinities) on ``<domain>/train``,
checkpointing under ``runs/`` (resumable: run the same command again after an
interruption). At the end it scores the network on ``<domain>/validation`` (3D watershed,
VOI) and writes ``data/models/05_affs3d_<domain>.pt`` (weights and config only, no optimizer
state) with ``.json`` beside it: the command, iterations, device, wall time, final training
loss and validation VOI. A shipped file is never overwritten unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mbl_seg import data, env, evaluate
from mbl_seg.losses import balanced_bce
from mbl_seg.models import center_crop, unet3d
from mbl_seg.pipeline import (Affinities, BatchSource, Elastic, Intensity, MirrorTranspose,
                              MissingSections, Pipeline, ShiftedSections, Source)
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import watershed_from_affinities
from mbl_seg.train import train

ROOT = Path(__file__).resolve().parents[1]
PATCH_NEAR = (48, 132, 132)  # voxels of raw per sample, rounded to what the net takes
H = 16.0  # nm: the h-maxima height of the watershed, as in notebooks 01-04


def course_net(voxel_size, *, seed: int = 0) -> torch.nn.Module:
    """The notebook-05 network for a voxel size (three affinity channels)."""
    return unet3d(voxel_size, depth=3, base_features=12, out_channels=3, seed=seed)


def course_pipeline(volume, net) -> Pipeline:
    """The notebook-05 training pipeline for one course dataset."""
    patch = net.valid_input_shape(near=PATCH_NEAR)
    return Pipeline(Source.from_dataset(volume), patch_shape=patch,
                    augment=[Elastic(), MirrorTranspose(), Intensity(), MissingSections(),
                             ShiftedSections()],
                    targets=Affinities())


def affinity_loss(logits, batch):
    """Class-balanced BCE of a valid net: targets and mask cropped to the output."""
    shape = logits.shape[2:]
    return balanced_bce(logits, center_crop(batch["affs"], shape),
                        mask=center_crop(batch["affs_mask"], shape))


def validation_voi(net, volume, *, device: str) -> evaluate.Scores:
    affs = predict_blocks(net, volume.raw, device=device, progress=False)
    seg = watershed_from_affinities(affs, voxel_size=volume.voxel_size, h=H)
    return evaluate.evaluate(volume.labels, seg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", choices=("fly", "zebrafish"), default="fly")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default=str(ROOT / "runs"))
    parser.add_argument("--out", default=str(ROOT / "data" / "models"))
    parser.add_argument("--force", action="store_true", help="replace a shipped checkpoint")
    args = parser.parse_args(argv)

    name = f"05_affs3d_{args.domain}"
    shipped = Path(args.out) / f"{name}.pt"
    if shipped.exists() and not args.force:
        print(f"{shipped} exists: pass --force to replace it", file=sys.stderr)
        return 1
    device = env.select_device(args.device)
    volume = data.load_dataset(f"{args.domain}/train")
    net = course_net(volume.voxel_size, seed=args.seed)
    pipe = course_pipeline(volume, net)
    print(f"{name}: {sum(p.numel() for p in net.parameters()):,} parameters, patch "
          f"{pipe.patch_shape} -> {net.output_shape(pipe.patch_shape)}, device {device}")
    started = time.perf_counter()
    result = train(net, BatchSource(pipe, batch_size=1, num_workers=args.workers),
                   affinity_loss, iterations=args.iterations, seed=args.seed, device=device,
                   optimizer=lambda params: torch.optim.Adam(params, lr=5e-4),
                   checkpoint=Path(args.runs) / f"{name}.pt")
    hours = (time.perf_counter() - started) / 3600
    scores = validation_voi(result.model, data.load_dataset(f"{args.domain}/validation"),
                            device=device)
    shipped.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": result.model.state_dict(), "config": result.model.config,
                "iteration": result.iterations_done, "losses": result.losses,
                "validation": result.validation, "seed": args.seed}, shipped)
    note = {
        "command": "python scripts/train_course_models.py " + shlex.join(sys.argv[1:] if
                                                                          argv is None else argv),
        "iterations": result.iterations_done, "device": device,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "hours_this_call": round(hours, 3), "patch_shape": list(pipe.patch_shape),
        "final_training_loss_mean_of_100": float(np.mean(result.losses[-100:])),
        "validation": {"dataset": f"{args.domain}/validation", "h_nm": H,
                       "voi_split": scores.voi_split, "voi_merge": scores.voi_merge,
                       "arand": scores.arand},
        "torch": torch.__version__,
    }
    shipped.with_suffix(".json").write_text(json.dumps(note, indent=2) + "\n")
    print(json.dumps(note, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
