"""Transfer check (issue 8): does notebook 02's U-Net, trained on synthetic EM, work on real EM?

Trains notebook 02's 2D boundary U-Net twice from scratch with the same settings:
network A on the synthetic course data ``fly/train2d`` only, network B on ISBI 2012
sections 0-19, and tests both on ISBI sections 20-29 (and on gala FIB-SEM):

- the mean predicted boundary probability on real membranes (label 0), on real "dark
  organelles" (interior pixels, label > 0 and at least 2 px from any other label, that
  are darker than the volume's mean membrane intensity) and on the other interior pixels;
- VOI split/merge/total and ARAND of the seeded watershed (notebook 02's settings, 2D
  per section) against the real labels; label 0 (membranes) is ignored by the metrics.

ISBI (4 x 4 nm in-plane) is resampled to the synthetic pixel size (8 nm): raw by block
mean, labels by block mode (ties go to the membrane). Gala (about 8-10 nm) is used as it
is; its ``raw`` and ``raw_test`` stacks are tested together as 100 sections. Real labels
become 4-connected components per section, as in the course's 2D datasets. Real raw is
fed as uint8, as a student would; its mean/std is printed beside the synthetic one.
It reads only the real-data paths it is given and writes no checkpoint (the synthetic
data come from `mbl_seg.data` and its cache).

    python bench/transfer.py --isbi ../shared/realdata/isbi2012_train.npz \\
        --gala ../shared/realdata/gala_fibsem.npz [--iterations 2000] [--out bench/out/transfer.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from matplotlib.figure import Figure
from skimage.measure import label as connected_components

from mbl_seg import data, evaluate
from mbl_seg.env import select_device
from mbl_seg.losses import balanced_bce
from mbl_seg.models import UNet
from mbl_seg.pipeline import batch_maker
from mbl_seg.predict import predict
from mbl_seg.segment import per_section, seeded_watershed
from mbl_seg.targets import boundaries
from mbl_seg.train import train

ISBI_PIXEL_NM = 4.0  # in-plane pixel size of the ISBI 2012 stack
ISBI_TRAIN, ISBI_TEST = slice(0, 20), slice(20, 30)
ERODE_PX = 2  # interior pixels are at least this far from another label (or membrane)


# nm (z, y, x) of the course's fly sections; the real sections are treated at this size
COURSE_VOXEL_SIZE = (64.0, 8.0, 8.0)


class Volume(NamedTuple):
    """A stack of 2D sections: ``raw`` (z, y, x) uint8, ``labels`` (z, y, x) uint64.

    Labels are 0 on membranes (real data) and no id spans two sections, so that metrics on
    the whole stack equal the size-weighted mean of per-section metrics.
    """

    name: str
    raw: np.ndarray
    labels: np.ndarray
    real: bool = True


def blocks(stack: np.ndarray, factor: int) -> np.ndarray:
    """(z, y, x) -> (z, y // factor, x // factor, factor**2): the pixels of each block."""
    z, y, x = stack.shape
    y, x = y - y % factor, x - x % factor
    out = stack[:, :y, :x].reshape(z, y // factor, factor, x // factor, factor)
    return out.transpose(0, 1, 3, 2, 4).reshape(z, y // factor, x // factor, factor * factor)


def downsample_raw(raw: np.ndarray, factor: int) -> np.ndarray:
    """Area-average ``factor`` x ``factor`` blocks of each (z, y, x) uint8 section."""
    return np.rint(blocks(raw, factor).mean(axis=-1)).astype(np.uint8)


def downsample_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    """The most frequent label of each block; ties go to the lowest id (0, membrane, first)."""
    b = np.sort(blocks(labels, factor), axis=-1)
    counts = (b[..., :, None] == b[..., None, :]).sum(axis=-1)
    pick = np.argmax(counts, axis=-1)  # the first of the most frequent: the lowest id
    return np.take_along_axis(b, pick[..., None], axis=-1)[..., 0]


def section_components(labels: np.ndarray) -> np.ndarray:
    """Connected components (4-connected) of each label in each section, as uint64.

    As the course's own 2D sections (``mbl_seg.data``): a 2D method cannot know that two
    separate profiles of one neuron belong together. Ids are unique over the stack; 0 stays 0.
    """
    out, first = [], 0
    for section in labels:
        cc = connected_components(section, background=0, connectivity=1).astype(np.uint64)
        out.append(np.where(cc > 0, cc + np.uint64(first), np.uint64(0)))
        first = int(out[-1].max(initial=first))
    return np.stack(out)


def load_isbi(path: str, pixel_nm: float) -> tuple[Volume, Volume]:
    """ISBI 2012 resampled to ``pixel_nm``: (sections 0-19, sections 20-29)."""
    factor = pixel_nm / ISBI_PIXEL_NM
    if factor < 1 or factor != int(factor):
        raise ValueError(f"cannot resample {ISBI_PIXEL_NM} nm ISBI pixels to {pixel_nm} nm")
    with np.load(path) as f:
        raw, labels = f["raw"], f["labels"]
    raw = downsample_raw(raw, int(factor))
    labels = section_components(downsample_labels(labels, int(factor)))
    return (Volume("ISBI 0-19", raw[ISBI_TRAIN], labels[ISBI_TRAIN]),
            Volume("ISBI 20-29", raw[ISBI_TEST], labels[ISBI_TEST]))


def load_gala(path: str) -> Volume:
    """Gala FIB-SEM ``raw`` and ``raw_test`` as one stack of 100 independent 2D sections."""
    with np.load(path) as f:
        raw = np.concatenate([f["raw"], f["raw_test"]])
        labels = np.concatenate([f["labels"], f["labels_test"]])
    return Volume("gala", raw, section_components(labels))


def train_unet(volume: Volume, *, iterations: int, seed: int, device: str,
               intensity: bool = True) -> torch.nn.Module:
    """Notebook 02's boundary U-Net, trained from scratch on ``volume`` (no checkpoint)."""
    net = UNet(dims=2, depth=3, base_features=16, padding="same", seed=seed)
    # boundary targets are the face neighbours of each contact, whatever the pixel size;
    # every volume is treated at the course's pixel size (as in assess)
    make_batch = batch_maker(volume.raw, volume.labels, batch_size=4, patch_shape=(128, 128),
                             voxel_size=COURSE_VOXEL_SIZE, targets={"target": boundaries},
                             augment_intensity=intensity)

    def loss_fn(logits, batch):
        return balanced_bce(logits, batch["target"])

    result = train(net, make_batch, loss_fn, iterations=iterations, device=device, seed=seed,
                   optimizer=lambda params: torch.optim.Adam(params, lr=1e-3), checkpoint=None)
    print(f"  {result.iterations_done} iterations in {result.seconds:.0f} s, "
          f"loss of the last 50: {np.mean(result.losses[-50:]):.3f}")
    return result.model


def regions(volume: Volume) -> dict[str, np.ndarray]:
    """Boolean (z, y, x) masks: real membranes, dark organelles, other interior pixels."""
    membrane = volume.labels == 0
    # boundaries() marks every pixel within thickness / 2 px of another label or of 0
    interior = np.stack([boundaries(s, thickness=2 * ERODE_PX, voxel_size=(1, 1)) == 0
                         for s in volume.labels])
    dark = interior & (volume.raw < volume.raw[membrane].mean())
    return {"membrane": membrane, "dark organelle": dark, "other interior": interior & ~dark}


def pixel_shares(volume: Volume) -> str:
    """How much of a real volume is membrane, and how much of its interior is dark."""
    r = regions(volume)
    interior = r["dark organelle"].sum() + r["other interior"].sum()
    return (f" | membrane {r['membrane'].mean():.0%} of pixels, dark "
            f"{r['dark organelle'].sum() / interior:.1%} of interior")


def assess(model: torch.nn.Module, volume: Volume, *, pixel_size, h: float,
           device: str) -> tuple[np.ndarray, dict]:
    """Boundary probabilities (z, y, x) and one row of the results table."""
    probs = predict(model, volume.raw, sections=True, device=device)[0]
    seg = per_section(seeded_watershed, probs, voxel_size=pixel_size, h=h)
    row = {"scores": evaluate.evaluate(volume.labels, seg)}
    if volume.real:
        row.update({name: float(probs[m].mean()) if m.any() else float("nan")
                    for name, m in regions(volume).items()})
    return probs, row


def one_segment_per_section(volume: Volume) -> evaluate.Scores:
    """The scores of the trivial segmentation: every pixel of a section in one segment."""
    z = np.arange(1, len(volume.raw) + 1, dtype=np.uint64)[:, None, None]
    return evaluate.evaluate(volume.labels, np.broadcast_to(z, volume.raw.shape).copy())


def print_table(rows: list[tuple[str, str, dict]]) -> None:
    """One line per (network, test volume): probabilities by region, then VOI and ARAND."""
    names = ("membrane", "dark organelle", "other interior")
    print(f"{'network':<22}{'test volume':<20}{'P(membr.)':>10}{'P(dark)':>9}{'P(other)':>9}"
          f"{'VOI split':>10}{'VOI merge':>10}{'VOI total':>10}{'ARAND':>7}")
    for network, test, row in rows:
        probs = "".join(f"{row[n]:>{w}.3f}" if n in row else f"{'-':>{w}}"
                        for n, w in zip(names, (10, 9, 9)))
        s = row["scores"]
        print(f"{network:<22}{test:<20}{probs}{s.voi_split:>10.3f}{s.voi_merge:>10.3f}"
              f"{s.voi_total:>10.3f}{s.arand:>7.3f}")


def save_figure(path: Path, panels: list[tuple[str, np.ndarray, dict[str, np.ndarray]]]) -> None:
    """One row per test volume: raw | each network's boundary probabilities (one section)."""
    cols = 1 + max(len(p) for _, _, p in panels)
    fig = Figure(figsize=(4 * cols, 4 * len(panels)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(panels), cols, squeeze=False))
    for row, (name, raw, probs) in zip(axes, panels):
        row[0].imshow(raw, cmap="gray", vmin=0, vmax=255)
        row[0].set_title(f"{name}: raw")
        for ax, (network, p) in zip(row[1:], probs.items()):
            ax.imshow(p, cmap="magma", vmin=0, vmax=1)
            ax.set_title(f"{network}: P(boundary)")
        for ax in row:
            ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"figure: {path}")


def verdict(ok: bool) -> str:
    return "yes" if ok else "no"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000,
                        help="per network (default 2000; notebook 02's fast mode, 600, "
                        "varies much more from seed to seed)")
    parser.add_argument("--isbi", help="isbi2012_train.npz (omitted: no network B, no ISBI test)")
    parser.add_argument("--gala", help="gala_fibsem.npz (omitted: no gala test)")
    parser.add_argument("--seed", type=int, default=0, help="weights and batches (default 0)")
    parser.add_argument("--h", type=float, default=16.0, help="watershed seed h in nm (16)")
    parser.add_argument("--device", help="cpu, cuda, mps (default: mbl_seg.env's choice)")
    parser.add_argument("--no-intensity-augmentation", dest="intensity", action="store_false",
                        help="train without the batches' random contrast, gamma and noise")
    parser.add_argument("--out", default=str(Path(__file__).parent / "out" / "transfer.png"),
                        help="PNG figure (default bench/out/transfer.png; '' for none)")
    args = parser.parse_args()
    device = select_device(args.device)

    fly = data.load_dataset("fly/train2d")
    fly_test = data.load_dataset("fly/test2d")
    pixel_size = tuple(float(v) for v in fly.voxel_size[1:])
    assert pixel_size == COURSE_VOXEL_SIZE[1:], "the course's pixel size changed: update it"
    print(f"device {device} | {args.iterations} iterations | seed {args.seed} | intensity "
          f"augmentation {'on' if args.intensity else 'off'} | watershed "
          f"h = {args.h:g} nm at {pixel_size[0]:g} nm pixels")
    tests = [Volume("fly/test2d (synth.)", fly_test.raw, fly_test.labels, real=False)]
    isbi_train = None
    if args.isbi:
        isbi_train, isbi_test = load_isbi(args.isbi, pixel_size[0])
        tests.append(isbi_test)
    if args.gala:
        tests.append(load_gala(args.gala))
    fly_train = Volume("fly/train2d (synth.)", fly.raw, fly.labels, real=False)
    for v in [fly_train, isbi_train, *tests]:
        if v is not None:
            print(f"  {v.name:<22}{str(v.raw.shape):<17} raw mean {v.raw.mean():6.1f}, "
                  f"std {v.raw.std():5.1f}{pixel_shares(v) if v.real else ''}")

    networks = {"A (synthetic fly)": fly_train}
    if isbi_train is not None:
        networks["B (ISBI 0-19)"] = isbi_train
    rows, results, probabilities = [], {}, {}
    for network, volume in networks.items():
        print(f"training {network} on {volume.name}, {volume.raw.shape}")
        model = train_unet(volume, iterations=args.iterations, seed=args.seed, device=device,
                           intensity=args.intensity)
        for test in tests:
            probs, row = assess(model, test, pixel_size=pixel_size, h=args.h, device=device)
            rows.append((network, test.name, row))
            results[network, test.name] = row
            probabilities[network, test.name] = probs[len(probs) // 2]

    print()
    print_table(rows)
    for test in tests:
        s = one_segment_per_section(test)
        print(f"{'one segment/section':<22}{test.name:<20}{'':28}{s.voi_split:>10.3f}"
              f"{s.voi_merge:>10.3f}{s.voi_total:>10.3f}{s.arand:>7.3f}")
    print("P = mean boundary probability on real membranes (label 0), dark organelles (interior,"
          f" >= {ERODE_PX} px from other labels, darker than the mean membrane) and other interior")

    print()
    a = "A (synthetic fly)"
    for test in tests[1:]:
        m, d = results[a, test.name]["membrane"], results[a, test.name]["dark organelle"]
        print(f"acceptance: A's membrane probability >= 2 x its dark-organelle probability on "
              f"{test.name}: {m:.3f} vs 2 x {d:.3f} = {2 * d:.3f} -> {verdict(m >= 2 * d)}")
    if args.isbi:
        va = results[a, "ISBI 20-29"]["scores"].voi_total
        vb = results["B (ISBI 0-19)", "ISBI 20-29"]["scores"].voi_total
        print(f"acceptance: A's VOI on ISBI 20-29 <= 1.3 x B's: {va:.3f} vs 1.3 x {vb:.3f} = "
              f"{1.3 * vb:.3f} -> {verdict(va <= 1.3 * vb)}")

    if args.out:
        panels = [(t.name, t.raw[len(t.raw) // 2],
                   {n: probabilities[n, t.name] for n in networks}) for t in tests]
        save_figure(Path(args.out), panels)


if __name__ == "__main__":
    main()
