import sys, time
import numpy as np
sys.path.insert(0, "wip")
import issue26_graph_fragments as g
from mbl_seg import data
from mbl_seg.agglomeration import sweep
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import fragments as old_fragments
from mbl_seg.operating_point import SCORINGS, choose
from mbl_seg.targets import affinities as target_affinities


def repaired3(affs, vs, min_size=100, cut=0.1):
    """Split fragments where only edges below `cut` join their pieces; pieces under min_size
    join a neighbour through their strongest edge at or above `cut`, else stay."""
    frags = old_fragments(affs, voxel_size=vs, min_size=min_size).ravel().astype(np.int64)
    n = frags.size
    us, vsx, ws, _ = g._edges(affs)
    held = (frags[us] == frags[vsx]) & (frags[us] > 0) & (ws >= cut)
    order = np.argsort(-ws[held], kind="stable")
    parent = np.arange(n, dtype=np.int64)
    g._flood(order, us[held], vsx[held], ws[held], parent, np.zeros(n, np.int64), cut, 0)
    _, pieces = np.unique(g._roots(parent), return_inverse=True)
    pieces = pieces + 1
    pieces[frags == 0] = 0
    sizes = np.bincount(pieces)
    label = np.where(sizes[pieces] >= max(min_size, 2), pieces, 0).astype(np.int64)
    label[frags == 0] = 0
    ok = ws >= cut
    order = np.argsort(-ws[ok], kind="stable")
    parent = np.arange(n, dtype=np.int64)
    g._flood(order, us[ok], vsx[ok], ws[ok], parent, label, cut, 0)
    roots = g._roots(parent)
    out = np.where(label[roots] > 0, label[roots], pieces.max() + 1 + roots)
    out[frags == 0] = 0
    _, out = np.unique(out, return_inverse=True)
    return out.reshape(affs.shape[1:]).astype(np.uint64)


if __name__ == "__main__":
    cut = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
    test, val = data.load_dataset("fly/test"), data.load_dataset("fly/validation")
    vs = test.voxel_size
    T = [round(0.05 * k, 2) for k in range(1, 20)]
    crop = np.s_[:24, :128, :128]
    labels = test.labels[crop]
    perfect = target_affinities(labels).astype(np.float32)
    for m in (0, 100):
        f = repaired3(perfect, vs, min_size=m, cut=cut)
        r = sweep(perfect, f, labels, thresholds=[0.05, 0.3, 0.55, 0.8, 0.95])
        print(f"cut {cut}: perfect crop, min {m}:", np.round(r.voi_total, 3).tolist(), flush=True)
    net = load_pretrained("05_affs3d_fly").model
    pred = {n: predict_blocks(net, v.raw, device="cpu", progress=False)[:3]
            for n, v in (("validation", val), ("test", test))}
    frags = {vol: repaired3(pred[vol], vs, cut=cut) for vol in pred}
    print({vol: int(f.max()) for vol, f in frags.items()}, "fragments", flush=True)
    sweeps = {s: sweep(pred["validation"], frags["validation"], val.labels, thresholds=T, **o)
              for s, o in SCORINGS.items()}
    scoring, t = choose(sweeps)
    on_test = sweep(pred["test"], frags["test"], test.labels, thresholds=[t], **SCORINGS[scoring])
    print(f"cut {cut}: validation best {sweeps[scoring].voi_total.min():.3f} ({scoring}, t={t}); "
          f"test {on_test.voi_total[0]:.3f} ARAND {on_test.arand[0]:.3f}  (old: 1.387 / 1.515 / 0.173)")
