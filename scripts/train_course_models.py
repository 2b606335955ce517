"""Train the course's 3D U-Nets and ship small checkpoints under data/models/.

    python scripts/train_course_models.py --domain fly --iterations 3000
    python scripts/train_course_models.py --model mtlsd --domain fly --iterations 1500
    python scripts/train_course_models.py --model mtlsd --domain zebrafish \
        --start-from 06_mtlsd_fly --sections 8 --iterations 300

trains one of the course's networks (``mbl_seg.models.unet3d`` for the domain's voxel size,
the 3D pipeline of ``mbl_seg.pipeline`` with elastic, mirror/transpose, intensity and section
augmentations) on ``<domain>/train``:

* ``affs`` (notebook 05): nearest-neighbour affinities, class-balanced BCE;
* ``lsd`` (notebook 06): the 10 local shape descriptors, MSE;
* ``mtlsd`` (notebook 06): both heads on one network, BCE + 5 x MSE
  (``mbl_seg.losses.batch_mtlsd_loss``).

``--start-from NAME`` fine-tunes a shipped network (its architecture and weights) instead,
and ``--sections N`` trains on the first N sections of the training volume only ("a little
data of the new domain"). It checkpoints under ``runs/`` (resumable: run the same command
again after an interruption), scores the network on ``<domain>/validation`` (3D watershed of
the affinities: VOI; LSD networks: MSE) and writes ``data/models/<name>.pt`` (weights and
config only, no optimizer state) with ``.json`` beside it: the command, model, voxel size,
iterations, device, wall time, final training loss and the validation scores. A shipped
file is never overwritten unless ``--force`` is given.
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
from mbl_seg.losses import LSD_WEIGHT, batch_affinity_loss, batch_lsd_loss, batch_mtlsd_loss
from mbl_seg.models import UNet, unet3d
from mbl_seg.pipeline import (Affinities, BatchSource, Elastic, Intensity, LSDs,
                              MirrorTranspose, MissingSections, Pipeline, ShiftedSections,
                              Source)
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import watershed_from_affinities
from mbl_seg.targets import lsds
from mbl_seg.train import train

ROOT = Path(__file__).resolve().parents[1]
PATCH_NEAR = (48, 132, 132)  # voxels of raw per sample, rounded to what the net takes
H = 16.0  # nm: the h-maxima height of the watershed, as in notebooks 01-04
SIGMA = 80.0  # nm: the LSD window of the course
DOWNSAMPLE = 2  # LSDs computed on every 2nd voxel: ~8x faster, as the published networks do
CHANNELS = {"affs": 3, "lsd": 10, "mtlsd": 13}  # affinities first, then the LSDs


def course_net(voxel_size, *, model: str = "affs", seed: int = 0) -> torch.nn.Module:
    """The course network for a voxel size: 3 affinity, 10 LSD or 3 + 10 output channels."""
    return unet3d(voxel_size, depth=3, base_features=12, out_channels=CHANNELS[model], seed=seed)


def course_pipeline(volume, net, *, model: str = "affs") -> Pipeline:
    """The notebook-05/06 training pipeline for one course dataset (or a Source)."""
    patch = net.valid_input_shape(near=PATCH_NEAR)
    source = volume if isinstance(volume, Source) else Source.from_dataset(volume)
    targets = {"affs": [Affinities()], "lsd": [LSDs(SIGMA, DOWNSAMPLE)],
               "mtlsd": [Affinities(), LSDs(SIGMA, DOWNSAMPLE)]}[model]
    return Pipeline(source, patch_shape=patch,
                    augment=[Elastic(), MirrorTranspose(), Intensity(), MissingSections(),
                             ShiftedSections()],
                    targets=targets)


LOSSES = {"affs": batch_affinity_loss, "lsd": batch_lsd_loss, "mtlsd": batch_mtlsd_loss}


def validation_scores(net, volume, *, model: str, device: str) -> dict:
    """VOI of the 3D watershed of the predicted affinities; MSE of predicted LSDs."""
    out = predict_blocks(net, volume.raw, device=device, progress=False)
    scores = {}
    if model in ("affs", "mtlsd"):
        seg = watershed_from_affinities(out[:3], voxel_size=volume.voxel_size, h=H)
        s = evaluate.evaluate(volume.labels, seg)
        scores.update(h_nm=H, voi_split=s.voi_split, voi_merge=s.voi_merge, arand=s.arand)
    if model in ("lsd", "mtlsd"):
        target = lsds(volume.labels, sigma=SIGMA, voxel_size=volume.voxel_size,
                      downsample=DOWNSAMPLE)
        scores.update(sigma_nm=SIGMA, lsd_mse=float(np.mean((out[-10:] - target) ** 2)))
    return scores


def first_sections(volume, sections: int, net) -> Source:
    """A Source of the first ``sections`` sections only, mirrored in z to fit the net's patch.

    A network made for another voxel size may need more sections of input than
    there are (the fly network on 36 nm zebrafish sections): the sections are
    mirrored beyond both ends, as prediction pads a volume, and the mirrored
    copies are masked out of the loss.
    """
    raw, labels = volume.raw[:sections], volume.labels[:sections]
    need = net.valid_input_shape(near=PATCH_NEAR)[0] + 2 * sections
    pad = max(0, (need - sections + 1) // 2)
    mask = np.pad(np.ones(labels.shape, np.uint8), ((pad, pad), (0, 0), (0, 0)))
    widths = ((pad, pad), (0, 0), (0, 0))
    raw, labels = np.pad(raw, widths, mode="symmetric"), np.pad(labels, widths, mode="symmetric")
    return Source(raw, labels, voxel_size=volume.voxel_size, mask=mask,
                  name=f"{volume.name}[:{sections}]")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=tuple(CHANNELS), default="affs")
    parser.add_argument("--domain", choices=("fly", "zebrafish"), default="fly")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--start-from", default=None, help="a shipped network to fine-tune")
    parser.add_argument("--sections", type=int, default=None,
                        help="train on the first N sections of <domain>/train only")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default=str(ROOT / "runs"))
    parser.add_argument("--out", default=str(ROOT / "data" / "models"))
    parser.add_argument("--force", action="store_true", help="replace a shipped checkpoint")
    args = parser.parse_args(argv)

    name = shipped_name(args.model, args.domain, args.start_from)
    shipped = Path(args.out) / f"{name}.pt"
    if shipped.exists() and not args.force:
        print(f"{shipped} exists: pass --force to replace it", file=sys.stderr)
        return 1
    device = env.select_device(args.device)
    volume = data.load_dataset(f"{args.domain}/train")
    if args.start_from:
        info = torch.load(data.pretrained(args.start_from), map_location="cpu",
                          weights_only=True)
        net = UNet(**info["config"])
        net.load_state_dict(info["model"])
    else:
        net = course_net(volume.voxel_size, model=args.model, seed=args.seed)
    source = first_sections(volume, args.sections, net) if args.sections else volume
    pipe = course_pipeline(source, net, model=args.model)
    print(f"{name}: {sum(p.numel() for p in net.parameters()):,} parameters, patch "
          f"{pipe.patch_shape} -> {net.output_shape(pipe.patch_shape)}, device {device}")
    started = time.perf_counter()
    result = train(net, BatchSource(pipe, batch_size=1, num_workers=args.workers),
                   LOSSES[args.model], iterations=args.iterations, seed=args.seed,
                   device=device, optimizer=lambda params: torch.optim.Adam(params, lr=args.lr),
                   checkpoint=Path(args.runs) / f"{name}.pt")
    hours = (time.perf_counter() - started) / 3600
    scores = validation_scores(result.model, data.load_dataset(f"{args.domain}/validation"),
                               model=args.model, device=device)
    shipped.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": result.model.state_dict(), "config": result.model.config,
                "iteration": result.iterations_done, "losses": result.losses,
                "validation": result.validation, "seed": args.seed}, shipped)
    note = {
        "command": "python scripts/train_course_models.py " + shlex.join(sys.argv[1:] if
                                                                          argv is None else argv),
        "model": args.model, "domain": args.domain, "start_from": args.start_from,
        "training_sections": args.sections or int(volume.raw.shape[0]),
        "voxel_size": list(volume.voxel_size),
        "iterations": result.iterations_done, "device": device,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "hours_this_call": round(hours, 3), "patch_shape": list(pipe.patch_shape),
        "final_training_loss_mean_of_100": float(np.mean(result.losses[-100:])),
        "validation": {"dataset": f"{args.domain}/validation", **scores},
        "torch": torch.__version__,
    }
    if args.model != "affs":
        note["lsds"] = {"sigma_nm": SIGMA, "downsample": DOWNSAMPLE, "lsd_weight": LSD_WEIGHT}
    shipped.with_suffix(".json").write_text(json.dumps(note, indent=2) + "\n")
    print(json.dumps(note, indent=2))
    return 0


def shipped_name(model: str, domain: str, start_from: str | None = None) -> str:
    """``05_affs3d_fly``, ``06_mtlsd_fly``, ``06_mtlsd_fly_tuned_zebrafish`` ..."""
    if start_from:
        return f"{start_from}_tuned_{domain}"
    return f"05_affs3d_{domain}" if model == "affs" else f"06_{model}_{domain}"


if __name__ == "__main__":
    sys.exit(main())
