"""Render the figures of README.md from the course datasets: python docs/make_figures.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from mbl_seg import viz
from mbl_seg.data import load_dataset

HERE = Path(__file__).parent


def domains_figure(path: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10, 10))
    for row, name in zip(axes, ("fly/train", "zebrafish/train")):
        vol = load_dataset(name)
        z = vol.raw.shape[0] // 2
        # the same physical field of view (2 um) in both domains
        n = int(round(2000 / vol.voxel_size[2]))
        raw, labels = vol.raw[z, :n, :n], vol.labels[z, :n, :n]
        gaps = np.where(vol.membrane_gaps[z, :n, :n], 1, 0).astype(np.uint64)
        vs = " x ".join(f"{v:g}" for v in vol.voxel_size)
        viz.overlay(raw, ax=row[0], title=f"{name.split('/')[0]}: raw ({vs} nm)")
        viz.overlay(raw, labels, ax=row[1], alpha=0.4, title="ground truth, membrane gaps")
        green = np.zeros(gaps.shape + (4,), np.float32)
        green[gaps > 0] = (0.1, 1.0, 0.2, 0.8)
        row[1].imshow(green, interpolation="nearest")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    domains_figure(HERE / "domains.png")
