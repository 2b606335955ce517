import sys, time
import numpy as np
sys.path.insert(0, "wip")
from issue26_repair_cut import repaired3
from mbl_seg import data, evaluate
from mbl_seg.agglomeration import sweep
from mbl_seg.segment import fragments as old_fragments
from mbl_seg.targets import affinities as target_affinities
test = data.load_dataset("fly/test")
perfect = target_affinities(test.labels).astype(np.float32)
for name, make in (("today", lambda: old_fragments(perfect, voxel_size=test.voxel_size, min_size=100)),
                   ("repaired, cut 0.03", lambda: repaired3(perfect, test.voxel_size, cut=0.03))):
    t0 = time.perf_counter(); f = make(); dt = time.perf_counter() - t0
    r = sweep(perfect, f, test.labels, thresholds=[0.01, 0.05, 0.3, 0.55, 0.8, 0.95, 0.99])
    print(f"fly/test perfect affinities, {name}: {int(f.max())} fragments ({dt:.1f} s), fragments VOI merge "
          f"{evaluate.evaluate(test.labels, f).voi_merge:.3f}; VOI total at t = 0.01 ... 0.99: {np.round(r.voi_total, 3).tolist()}", flush=True)
