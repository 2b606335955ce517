"""Issue 26, item 5: the library's segment.fragments(cut=...) against today's, on whole volumes.

Run:  .venv/bin/python wip/issue26_measure_cut.py [cut]   (see wip/README.md)
"""

import sys
import time

import numpy as np

from mbl_seg import data, evaluate
from mbl_seg.agglomeration import sweep
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.operating_point import SCORINGS, choose, sweeps
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import fragments
from mbl_seg.targets import affinities


def main(cut):
    test, val = data.load_dataset("fly/test"), data.load_dataset("fly/validation")
    vs = test.voxel_size
    perfect = affinities(test.labels).astype(np.float32)
    net = load_pretrained("05_affs3d_fly").model
    predicted = {v.name: predict_blocks(net, v.raw, device="cpu", progress=False)[:3]
                 for v in (val, test)}
    for label, option in (("today", None), (f"cut {cut}", cut)):
        frags = fragments(perfect, voxel_size=vs, min_size=100, cut=option)
        result = sweep(perfect, frags, test.labels,
                       thresholds=[0.01, 0.05, 0.3, 0.55, 0.8, 0.95, 0.99])
        print(f"fly/test perfect affinities, {label}: fragments VOI merge "
              f"{evaluate.evaluate(test.labels, frags).voi_merge:.3f}; VOI total at t = 0.01 ... "
              f"0.99: {np.round(result.voi_total, 3).tolist()}", flush=True)
        started = time.perf_counter()
        made = {name: fragments(a, voxel_size=vs, min_size=100, cut=option)
                for name, a in predicted.items()}
        on_validation = sweeps(predicted[val.name], made[val.name], val.labels)
        scoring, t = choose(on_validation)
        on_test = sweep(predicted[test.name], made[test.name], test.labels, thresholds=[t],
                        **SCORINGS[scoring])
        print(f"predicted, {label}: {[int(f.max()) for f in made.values()]} fragments "
              f"({time.perf_counter() - started:.0f} s); validation best "
              f"{on_validation[scoring].voi_total.min():.3f} ({scoring}, t = {t}); test "
              f"{on_test.voi_total[0]:.3f}, ARAND {on_test.arand[0]:.3f}", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.03)
