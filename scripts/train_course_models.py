"""Train the course's U-Nets and ship small checkpoints under mbl_seg/data/models/.

    python scripts/train_course_models.py --domain fly --iterations 3000
    python scripts/train_course_models.py --model mtlsd --domain fly --iterations 1500
    python scripts/train_course_models.py --model mtlsd --domain zebrafish \
        --start-from 06_mtlsd_fly --sections 8 --iterations 300
    python scripts/train_course_models.py --model acrlsd --lsd-from 06_lsd_fly --iterations 1500
    python scripts/train_course_models.py --model lsd --start-from 06_lsd_fly --name 06_lsd_fly \
        --force --patch 96 96 96 --mirror-faces --iterations 2000   # train a shipped net on
    python scripts/train_course_models.py --model boundaries2d --iterations 3000

trains one of the course's networks (``mbl_seg.models.unet3d`` for the domain's voxel size,
the 3D pipeline of ``mbl_seg.pipeline`` with elastic, mirror/transpose, intensity and section
augmentations) on ``<domain>/train``:

* ``affs`` (notebook 05): nearest-neighbour affinities, class-balanced BCE;
* ``lsd`` (notebook 06): the 10 local shape descriptors, MSE;
* ``mtlsd`` (notebook 06): both heads on one network, BCE + 5 x MSE
  (``mbl_seg.losses.batch_mtlsd_loss``);
* ``acrlsd`` (notebook 06): auto-context, a second network that reads raw and the LSDs
  of the shipped LSD network ``--lsd-from`` (frozen) and predicts affinities
  (``mbl_seg.autocontext``); it ships without the LSD network's weights.

The 2D networks of notebooks 02-04 (``UNet(dims=2, depth=3, base_features=16,
padding="same")``, 2D crops of 128 x 128 from ``<domain>/train2d`` made by
``mbl_seg.pipeline.batch_maker``, 4 per batch, Adam with lr 1e-3, as the notebooks
train them in fast mode, only for longer):

* ``boundaries2d`` (notebook 02): boundary maps, class-balanced BCE;
* ``affs2d`` (notebook 03): affinities for the offsets (-1, 0), (0, -1), (-4, 0),
  (0, -4), class-balanced BCE where the partner pixel is inside the crop;
* ``malis2d`` (notebook 04): nearest-neighbour affinities, the first two thirds of
  ``--iterations`` with BCE alone (seed 0), the last third with BCE + constrained
  MALIS (seed 1), as the notebook's 500 + 250.

They are scored on ``<domain>/validation2d`` section by section (seeded watershed of
the boundaries, or of the first two affinity channels, h = 16 nm).

``--start-from NAME`` fine-tunes a shipped network (its architecture and weights) instead,
and ``--sections N`` trains on the first N sections of the training volume only ("a little
data of the new domain"). It checkpoints under ``runs/`` (resumable: run the same command
again after an interruption), scores the network on ``<domain>/validation`` (3D watershed of
the affinities: VOI; LSD networks: MSE) and writes ``mbl_seg/data/models/<name>.pt`` (weights and
config only, no optimizer state) with ``.json`` beside it: the command, model, voxel size,
iterations, device, wall time, final training loss and the validation scores. A shipped
file is never overwritten unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mbl_seg import data, env, evaluate
from mbl_seg.autocontext import AutoContext, file_digest, predict_two_pass
from mbl_seg.checkpoints import load_network, load_pretrained
from mbl_seg.losses import (LSD_WEIGHT, balanced_bce, batch_affinity_loss, batch_lsd_loss,
                            batch_mtlsd_loss, malis_loss)
from mbl_seg.models import UNet, unet3d
from mbl_seg.pipeline import (Affinities, BatchSource, Elastic, Intensity, LSDs,
                              MirrorTranspose, MissingSections, Pipeline, ShiftedSections,
                              Source, batch_maker)
from mbl_seg.lsd_quality import MARGIN, channel_means, lsd_quality
from mbl_seg.predict import predict, predict_blocks
from mbl_seg.segment import per_section, seeded_watershed, watershed_from_affinities
from mbl_seg.targets import affinities, affinity_mask, boundaries, lsds
from mbl_seg.train import train

ROOT = Path(__file__).resolve().parents[1]
PATCH_NEAR = (48, 132, 132)  # voxels of raw per sample, rounded to what the net takes
H = 16.0  # nm: the h-maxima height of the watershed, as in notebooks 01-04
SIGMA = 80.0  # nm: the LSD window of the course
DOWNSAMPLE = 2  # LSDs computed on every 2nd voxel: ~8x faster, as the published networks do
CHANNELS = {"affs": 3, "lsd": 10, "mtlsd": 13, "acrlsd": 3}  # affinities first, then LSDs
# the 2D networks of notebooks 02-04: affinity offsets (None: a boundary map, one channel)
OFFSETS_2D = {"boundaries2d": None, "affs2d": ((-1, 0), (0, -1), (-4, 0), (0, -4)),
              "malis2d": ((-1, 0), (0, -1))}
NOTEBOOK_2D = {"boundaries2d": "02", "affs2d": "03", "malis2d": "04"}
PATCH_2D, BATCH_2D, LR_2D = (128, 128), 4, 1e-3  # the notebooks' fast-mode settings


def course_net(voxel_size, *, model: str = "affs", seed: int = 0,
               lsd_from: str | None = None, context_from: str | None = None) -> torch.nn.Module:
    """The course network for a voxel size: 3 affinity, 10 LSD or 3 + 10 output channels.

    ``acrlsd``: the shipped LSD network ``lsd_from``, frozen, and a context network
    of the same shape that reads raw + its 10 LSDs (:class:`mbl_seg.autocontext.AutoContext`),
    initialised from the shipped affinity network ``context_from`` if given (see
    :func:`context_from_affinities`).
    """
    if model == "acrlsd":
        if not lsd_from:
            raise ValueError("--model acrlsd needs --lsd-from, e.g. 06_lsd_fly")
        context = unet3d(voxel_size, depth=3, base_features=12, in_channels=11,
                         out_channels=CHANNELS[model], seed=seed)
        if context_from:
            context_from_affinities(context, _network(context_from).model)
        source = {"name": lsd_from, "sha256": file_digest(data.pretrained(lsd_from))}
        return AutoContext(load_pretrained(lsd_from).model, context, lsd_source=source)
    return unet3d(voxel_size, depth=3, base_features=12, out_channels=CHANNELS[model], seed=seed)


def context_from_affinities(context: UNet, affinity_net: UNet) -> None:
    """Start ``context`` (raw + 10 LSDs in) as the affinity network (raw in) it extends.

    Every weight is copied; the first convolution's weights for the 10 LSD
    channels are 0, so the context network begins by predicting exactly what the
    affinity network predicts, and learns what the LSDs add from there.
    """
    mine, theirs = context.state_dict(), affinity_net.state_dict()
    if set(mine) != set(theirs):
        raise ValueError("--context-from must be an affinity network of the same architecture")
    for key, value in theirs.items():
        if mine[key].shape == value.shape:
            mine[key] = value.clone()
        elif mine[key].shape[1:2] == (11,) and value.shape[1] == 1:  # the first convolution
            mine[key] = torch.zeros_like(mine[key])
            mine[key][:, :1] = value
        else:
            raise ValueError(f"--context-from: {key} has shape {tuple(value.shape)}, the "
                             f"context network needs {tuple(mine[key].shape)}")
    context.load_state_dict(mine)


def course_pipeline(volume, net, *, model: str = "affs", near=PATCH_NEAR) -> Pipeline:
    """The notebook-05/06 training pipeline for one course dataset (or a Source)."""
    patch = net.valid_input_shape(near=near)
    source = volume if isinstance(volume, Source) else Source.from_dataset(volume)
    targets = {"affs": [Affinities()], "acrlsd": [Affinities()], "lsd": [LSDs(SIGMA, DOWNSAMPLE)],
               "mtlsd": [Affinities(), LSDs(SIGMA, DOWNSAMPLE)]}[model]
    return Pipeline(source, patch_shape=patch,
                    augment=[Elastic(), MirrorTranspose(), Intensity(), MissingSections(),
                             ShiftedSections()],
                    targets=targets)


LOSSES = {"affs": batch_affinity_loss, "lsd": batch_lsd_loss, "mtlsd": batch_mtlsd_loss,
          "acrlsd": batch_affinity_loss}


def validation_scores(net, volume, *, model: str, device: str, target=None,
                      means=None) -> dict:
    """VOI of the 3D watershed of the predicted affinities; MSE of predicted LSDs (against
    ``target``, the volume's LSDs, computed here if not given), and relative to the constant
    ``means`` (the training volume's channel means) if given."""
    out = (predict_two_pass(net, volume.raw, device=device) if isinstance(net, AutoContext)
           else predict_blocks(net, volume.raw, device=device, progress=False))
    scores = {}
    if model in ("affs", "mtlsd", "acrlsd"):
        seg = watershed_from_affinities(out[:3], voxel_size=volume.voxel_size, h=H)
        s = evaluate.evaluate(volume.labels, seg)
        scores.update(h_nm=H, voi_split=s.voi_split, voi_merge=s.voi_merge, arand=s.arand)
    if model in ("lsd", "mtlsd"):
        if target is None:
            target = lsds(volume.labels, sigma=SIGMA, voxel_size=volume.voxel_size,
                          downsample=DOWNSAMPLE)
        # the interior of the bar (16 sections, 24 voxels in y and x off the faces); a
        # volume too small for it (a test's) is scored whole
        margin = tuple(m if n > 2 * m else 0 for n, m in zip(target.shape[1:], MARGIN))
        quality = lsd_quality(out[-10:], target, margin=margin,
                              means=channel_means(target) if means is None else means)
        scores.update(sigma_nm=SIGMA, lsd_mse=float(np.mean((out[-10:] - target) ** 2)),
                      lsd_mse_interior=quality.mse)
        if means is not None:  # relative to the training volume's constant guess
            scores["lsd_relative_mse_interior"] = quality.relative_mse
        # channels 0-2: the offset to the centre of mass
        scores.update({f"offset_r_{axis}": r for axis, r in zip("zyx", quality.offset_r)})
    return scores


def mirrored_faces(volume, net, patch) -> Source:
    """``volume`` mirrored in z by half the net's context (``Source.mirrored_z``).

    Without it, the labels of fly/train's first and last 20 sections never fall
    in an output of a 48-section patch; with it every section is supervised.
    """
    pad = (patch[0] - net.output_shape(patch)[0]) // 2
    return Source.from_dataset(volume).mirrored_z(pad)


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


# --- the 2D networks of notebooks 02-04 -------------------------------------------------------


def course_net_2d(model: str, *, seed: int = 0) -> UNet:
    """The 2D U-Net of notebooks 02-04: one boundary channel, or one channel per offset."""
    offsets = OFFSETS_2D[model]
    return UNet(dims=2, depth=3, base_features=16, padding="same",
                out_channels=1 if offsets is None else len(offsets), seed=seed)


def _edge_mask(labels: np.ndarray, offsets) -> np.ndarray:
    """1 on the edges whose two pixels both lie in the crop (notebook 03's ``edge_mask``)."""
    return affinity_mask(labels.shape, offsets)


def _ids(labels: np.ndarray) -> np.ndarray:
    """The label crop itself: MALIS counts pairs of pixels by their ids (kept uint64)."""
    return labels


def course_batches_2d(volume, model: str):
    """The ``batch_maker`` of notebook 02, 03 or 04 on a ``*2d`` dataset (a stack of sections)."""
    offsets = OFFSETS_2D[model]
    if offsets is None:
        targets = {"target": boundaries}
    else:
        targets = {"affs": functools.partial(affinities, offsets=offsets),
                   "mask": functools.partial(_edge_mask, offsets=offsets)}
    if model == "malis2d":
        targets["labels"] = _ids
    return batch_maker(volume.raw, volume.labels, voxel_size=volume.voxel_size,
                       batch_size=BATCH_2D, patch_shape=PATCH_2D, targets=targets)


def boundary_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    """Notebook 02: class-balanced BCE of the boundary logits."""
    return balanced_bce(logits, batch["target"])


def affinity_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    """Notebooks 03 and 04: class-balanced BCE of the affinity logits on the valid edges."""
    return balanced_bce(logits, batch["affs"], mask=batch["mask"])


def affinity_malis_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    """Notebook 04's fine-tuning: the BCE above + constrained MALIS of the affinities."""
    return affinity_loss(logits, batch) + malis_loss(torch.sigmoid(logits),
                                                     batch["labels"][:, 0], constrained=True)


def phases_2d(model: str, iterations: int, *, seed: int, runs: Path, name: str) -> list:
    """``(loss, iterations, seed, checkpoint)`` of each training phase, in order.

    MALIS is a fine-tuning loss: on an untrained network every maximin edge is
    noise, so notebook 04 warms up with BCE (500 iterations) and fine-tunes with
    BCE + MALIS (250, a fresh optimizer, seed 1); here in the same proportion.
    """
    if model == "boundaries2d":
        return [(boundary_loss, iterations, seed, runs / f"{name}.pt")]
    if model == "affs2d":
        return [(affinity_loss, iterations, seed, runs / f"{name}.pt")]
    warmup = 2 * iterations // 3
    return [(affinity_loss, warmup, seed, runs / f"{name}_warmup.pt"),
            (affinity_malis_loss, iterations - warmup, seed + 1, runs / f"{name}.pt")]


def train_2d(model: str, volume, *, iterations: int, seed: int, lr: float, device: str,
             runs: Path, name: str):
    """Train a 2D course network phase by phase; ``(network, losses, iterations per phase)``."""
    net = course_net_2d(model, seed=seed)
    make_batch = course_batches_2d(volume, model)
    losses, done = [], []
    for loss, count, phase_seed, checkpoint in phases_2d(model, iterations, seed=seed,
                                                          runs=runs, name=name):
        result = train(net, make_batch, loss, iterations=count, seed=phase_seed, device=device,
                       optimizer=lambda params: torch.optim.Adam(params, lr=lr),
                       checkpoint=checkpoint)
        losses += result.losses
        done.append(result.iterations_done)
    return net, losses, done


def validation_scores_2d(net, volume, *, model: str, device: str) -> dict:
    """VOI and ARAND of the section-by-section watershed (h = 16 nm) on a ``*2d`` dataset."""
    out = predict(net, volume.raw, sections=True, device=device)
    pixel_size = volume.voxel_size[1:]
    if model == "boundaries2d":
        seg = per_section(seeded_watershed, out[0], voxel_size=pixel_size, h=H)
    else:  # the nearest-neighbour channels, as notebooks 03 and 04 segment them
        seg = per_section(watershed_from_affinities, out[:2], voxel_size=pixel_size, h=H)
    s = evaluate.evaluate(volume.labels, seg)
    return {"h_nm": H, "voi_split": s.voi_split, "voi_merge": s.voi_merge, "arand": s.arand}


# --- the command --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=(*CHANNELS, *OFFSETS_2D), default="affs")
    parser.add_argument("--domain", choices=("fly", "zebrafish"), default="fly")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--start-from", default=None,
                        help="a shipped network to fine-tune (its name), or a network file "
                             "this script wrote (a path ending in .pt, its .json beside it)")
    parser.add_argument("--sections", type=int, default=None,
                        help="train on the first N sections of <domain>/train only")
    parser.add_argument("--patch", type=int, nargs=3, default=None, metavar=("Z", "Y", "X"),
                        help="raw voxels per sample, rounded to what the net takes (default "
                             f"{' '.join(map(str, PATCH_NEAR))})")
    parser.add_argument("--mirror-faces", action="store_true",
                        help="mirror the training volume in z so that every section's labels "
                             "fall in an output (see mirrored_faces)")
    parser.add_argument("--name", default=None,
                        help="the shipped name (default: from --model, --domain, --start-from); "
                             "e.g. --start-from 06_lsd_fly --name 06_lsd_fly --force trains a "
                             "shipped network on")
    parser.add_argument("--lsd-from", default=None,
                        help="--model acrlsd: the shipped LSD network whose predicted LSDs "
                             "the context network reads (e.g. 06_lsd_fly)")
    parser.add_argument("--context-from", default=None,
                        help="--model acrlsd: start the context network as this affinity "
                             "network (a shipped name, e.g. 05_affs3d_fly, or a .pt file this "
                             "script wrote), LSD inputs weighted 0; its training counts as the "
                             "context network's earlier training")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: 5e-4 for 3D, 1e-3 for 2D networks)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--validate-every", type=int, default=None,
                        help="score <domain>/validation every N iterations (3D networks): the "
                             "validation curve in the .json note")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default=str(ROOT / "runs"))
    parser.add_argument("--out", default=str(ROOT / "mbl_seg" / "data" / "models"))
    parser.add_argument("--force", action="store_true", help="replace a shipped checkpoint")
    return parser


def _train_3d(args, name: str, device: str):
    """A 3D network (notebooks 05, 06): ``(network, losses, iterations, note entries)``."""
    volume = data.load_dataset(f"{args.domain}/train")
    if args.start_from:
        net = _network(args.start_from).model  # ACRLSD: its LSD net must be the same
    else:
        net = course_net(volume.voxel_size, model=args.model, seed=args.seed,
                         lsd_from=args.lsd_from, context_from=args.context_from)
    near = tuple(args.patch) if args.patch else PATCH_NEAR
    patch = net.valid_input_shape(near=near)
    if patch[0] > volume.raw.shape[0] and not (args.sections or args.mirror_faces):
        raise ValueError(f"a patch of {patch} is taller than {volume.name} "
                         f"({volume.raw.shape[0]} sections): pass --mirror-faces")
    if args.sections:
        source = first_sections(volume, args.sections, net)
    elif args.mirror_faces:
        source = mirrored_faces(volume, net, patch)
    else:
        source = volume
    pipe = course_pipeline(source, net, model=args.model, near=near)
    print(f"{name}: {sum(p.numel() for p in net.parameters()):,} parameters, patch "
          f"{pipe.patch_shape} -> {net.output_shape(pipe.patch_shape)}, device {device}")
    validation = data.load_dataset(f"{args.domain}/validation")
    # the LSDs of the validation volume, once for every point of the curve
    target = means = None
    if args.model in ("lsd", "mtlsd"):
        target = lsds(validation.labels, sigma=SIGMA, voxel_size=validation.voxel_size,
                      downsample=DOWNSAMPLE)
        means = channel_means(lsds(volume.labels, sigma=SIGMA, voxel_size=volume.voxel_size,
                                   downsample=DOWNSAMPLE))

    def curve(model):
        return validation_scores(model, validation, model=args.model, device=device,
                                 target=target, means=means)

    result = train(net, BatchSource(pipe, batch_size=1, num_workers=args.workers),
                   LOSSES[args.model], iterations=args.iterations, seed=args.seed,
                   device=device, optimizer=lambda params: torch.optim.Adam(params, lr=args.lr),
                   checkpoint=Path(args.runs) / f"{name}_{run_id(args)}.pt",
                   validate=curve if args.validate_every else None,
                   validate_every=args.validate_every)
    last = result.validation[-1] if result.validation else None  # train validates at the end
    scores = last[1] if last and last[0] == result.iterations_done else curve(result.model)
    note = {"start_from": args.start_from, "mirror_faces": bool(args.mirror_faces),
            "learning_rate": args.lr,
            "training_sections": args.sections or int(volume.raw.shape[0]),
            "voxel_size": list(volume.voxel_size), "patch_shape": list(pipe.patch_shape),
            "validation": {"dataset": f"{args.domain}/validation", **scores}}
    # a run resumed from its checkpoint under --runs: the calls before this one count too
    note["hours_this_run"] = round(max(result.seconds_total, result.seconds) / 3600, 3)
    if result.validation:
        note["validation_curve"] = [{"iteration": i, **v} for i, v in result.validation]
    if args.model == "acrlsd":
        note["lsd_network"] = net.config["autocontext"]
        note["context_from"] = args.context_from
    if args.model in ("lsd", "mtlsd"):
        note["lsds"] = {"sigma_nm": SIGMA, "downsample": DOWNSAMPLE, "lsd_weight": LSD_WEIGHT}
    return result.model, result.losses, result.iterations_done, note


def _train_2d(args, name: str, device: str):
    """A 2D network (notebooks 02-04): ``(network, losses, iterations, note entries)``."""
    volume = data.load_dataset(f"{args.domain}/train2d")
    print(f"{name}: {args.iterations} iterations on {volume.name}, device {device}")
    net, losses, done = train_2d(args.model, volume, iterations=args.iterations,
                                 seed=args.seed, lr=args.lr, device=device,
                                 runs=Path(args.runs), name=f"{name}_{run_id(args)}")
    validation = data.load_dataset(f"{args.domain}/validation2d")
    scores = validation_scores_2d(net, validation, model=args.model, device=device)
    note = {"dataset": volume.name, "voxel_size": list(volume.voxel_size),
            "patch_shape": list(PATCH_2D), "batch_size": BATCH_2D, "learning_rate": args.lr,
            "offsets": None if OFFSETS_2D[args.model] is None else
            [list(o) for o in OFFSETS_2D[args.model]],
            "validation": {"dataset": validation.name, **scores}}
    if args.model == "malis2d":
        note["phases"] = {"bce": done[0], "bce_plus_constrained_malis": done[1]}
    return net, losses, sum(done), note


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    two_d = args.model in OFFSETS_2D
    if two_d and (args.start_from or args.sections):
        print("--start-from and --sections are for the 3D networks only", file=sys.stderr)
        return 2
    if args.iterations < (2 if args.model == "malis2d" else 1):  # malis2d: two phases
        print(f"--iterations {args.iterations} is too few for {args.model}", file=sys.stderr)
        return 2
    args.lr = args.lr or (LR_2D if two_d else 5e-4)
    name = args.name or shipped_name(args.model, args.domain, args.start_from)
    shipped = Path(args.out) / f"{name}.pt"
    if shipped.exists() and not args.force:
        print(f"{shipped} exists: pass --force to replace it", file=sys.stderr)
        return 1
    device = env.select_device(args.device)
    # read now: --name may replace that file; a context network started from an affinity
    # network has been through that network's training
    earlier = _earlier_training(args.start_from or args.context_from)
    started = time.perf_counter()
    net, losses, iterations, details = (_train_2d if two_d else _train_3d)(args, name, device)
    hours = (time.perf_counter() - started) / 3600
    shipped.parent.mkdir(parents=True, exist_ok=True)
    # ACRLSD: the context network's weights only; the LSD network is named by its digest
    entries = (net.shipped_entries() if isinstance(net, AutoContext)
               else {"model": net.state_dict(), "config": net.config})
    torch.save({**entries, "iteration": iterations,
                "losses": losses, "validation": [], "seed": args.seed}, shipped)
    note = {
        "command": "python scripts/train_course_models.py " + shlex.join(sys.argv[1:] if
                                                                          argv is None else argv),
        "model": args.model, "domain": args.domain, "iterations": iterations, "device": device,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "hours_this_call": round(hours, 3),
        "earlier_training": earlier,
        "iterations_total": iterations + sum(e["iterations"] for e in earlier),
        "hours_total": round(details.get("hours_this_run", hours)
                             + sum(e["hours"] for e in earlier), 3),
        "final_training_loss_mean_of_100": float(np.mean(losses[-100:])),
        **details, "torch": torch.__version__,
    }
    shipped.with_suffix(".json").write_text(json.dumps(note, indent=2) + "\n")
    print(json.dumps(note, indent=2))
    return 0


def run_id(args) -> str:
    """12 hex digits of what makes a run itself: the same command resumes its checkpoint
    under ``--runs``, another one (other start network, patch, learning rate...) starts
    afresh instead of silently going on with a run it did not start. ``--iterations`` is
    not part of it: asking for more goes on with the same run."""
    identity = {key: getattr(args, key) for key in
                ("model", "domain", "sections", "lr", "seed", "patch", "mirror_faces",
                 "start_from", "lsd_from", "context_from")}
    for key in ("start_from", "lsd_from", "context_from"):  # their bytes, not only names
        if identity[key]:
            identity[key] = [identity[key], file_digest(_network_file(identity[key]))]
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _network_file(spec: str) -> Path:
    """A shipped network's name, or the path of a ``.pt`` file the script wrote."""
    return Path(spec) if spec.endswith(".pt") else data.pretrained(spec)


def _network(spec: str):
    return load_network(_network_file(spec))


def _earlier_training(start_from: str | None) -> list[dict]:
    """What the network fine-tuned from went through: its note's calls, oldest first."""
    if not start_from:
        return []
    path = _network_file(start_from).with_suffix(".json")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the note of --start-from {start_from}")
    note = json.loads(path.read_text())
    call = {"command": note["command"], "iterations": note["iterations"],
            "hours": note.get("hours_this_run", note["hours_this_call"]),
            "machine": note.get("machine"),
            "validation": note.get("validation")}
    if "validation_curve" in note:
        call["validation_curve"] = note["validation_curve"]
    return [*note.get("earlier_training", []), call]


def shipped_name(model: str, domain: str, start_from: str | None = None) -> str:
    """``05_affs3d_fly``, ``06_mtlsd_fly_tuned_zebrafish``, ``02_boundaries2d_fly`` ..."""
    if start_from:
        return f"{Path(start_from).stem if start_from.endswith('.pt') else start_from}_tuned_{domain}"
    if model in OFFSETS_2D:
        return f"{NOTEBOOK_2D[model]}_{model}_{domain}"
    return f"05_affs3d_{domain}" if model == "affs" else f"06_{model}_{domain}"


if __name__ == "__main__":
    sys.exit(main())
