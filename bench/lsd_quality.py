"""Have the shipped LSD heads learnt their descriptors? (issue 24's bar, on fly/test)

For every shipped network with LSD outputs, predicts ``fly/test`` (or --volume) and scores
the last 10 channels against the truth's LSDs (sigma 80 nm) away from the faces (16 voxels
in z, 24 in y and x), with :func:`mbl_seg.lsd_quality.lsd_quality`:

- the MSE relative to the constant baseline (each channel's mean over ``fly/train``'s LSDs,
  predicted everywhere): the bar is at most 0.5;
- the Pearson r of each centre-of-mass offset channel with the truth's: the bar is 0.6.

The truth is computed as the notebook computes it (every 2nd voxel, ``--downsample 2``) and,
with ``--downsample 1``, at every voxel. Prints one line per network and PASS/FAIL.

    python bench/lsd_quality.py [--networks 06_lsd_fly training/06_mtlsd_fly.pt] [--volume fly/test]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mbl_seg import data
from mbl_seg.checkpoints import load_network, load_pretrained
from mbl_seg.env import select_device
from mbl_seg.lsd import lsds
from mbl_seg.lsd_quality import MARGIN, channel_means, lsd_quality
from mbl_seg.predict import predict_blocks

SIGMA = 80.0  # nm, the course's LSD window
BAR_RELATIVE_MSE, BAR_OFFSET_R = 0.5, 0.6
NETWORKS = ("06_lsd_fly", "06_mtlsd_fly")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--volume", default="fly/test")
    parser.add_argument("--baseline", default="fly/train",
                        help="the volume whose channel means are the constant guess")
    parser.add_argument("--downsample", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    device = select_device(args.device)
    volume, train = data.load_dataset(args.volume), data.load_dataset(args.baseline)
    print(f"{args.volume}, interior {MARGIN} voxels off the faces; constant = channel means of "
          f"{args.baseline}; sigma {SIGMA:g} nm; device {device}")
    truths = {d: (lsds(volume.labels, sigma=SIGMA, voxel_size=volume.voxel_size, downsample=d),
                  channel_means(lsds(train.labels, sigma=SIGMA, voxel_size=train.voxel_size,
                                     downsample=d)))
              for d in args.downsample}
    failed = False
    for name in args.networks:
        model, note = load_network(name) if name.endswith(".pt") else load_pretrained(name)
        started = time.perf_counter()
        out = predict_blocks(model, volume.raw, device=device, progress=False)[-10:]
        seconds = time.perf_counter() - started
        for d, (truth, means) in truths.items():
            q = lsd_quality(out, truth, means=means)
            ok = q.relative_mse <= BAR_RELATIVE_MSE and min(q.offset_r) >= BAR_OFFSET_R
            failed |= not ok
            print(f"{Path(name).stem:<16} {note.get('iterations_total', note['iterations']):>6} it  "
                  f"truth every {d} voxel{'s' if d > 1 else ''}:  {q}  "
                  f"{'PASS' if ok else 'FAIL'}  ({seconds:.0f} s to predict)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
