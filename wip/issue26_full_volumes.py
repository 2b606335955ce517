import sys, time
import numpy as np
from scipy import ndimage
sys.path.insert(0, "wip")
import issue26_graph_fragments as g
from mbl_seg import data
from mbl_seg.agglomeration import sweep
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import fragments as old_fragments, boundaries_from_affinities
from mbl_seg.operating_point import SCORINGS, choose
from mbl_seg.targets import affinities as target_affinities


def frag2(affs, vs, seeds, min_size=100, threshold=0.5):
    spatial = affs.shape[1:]
    n = int(np.prod(spatial))
    us, vsx, ws, low = g._edges(affs)
    parent = np.arange(n, dtype=np.int64)
    label = seeds.ravel().astype(np.int64)
    order = np.argsort(-ws, kind="stable")
    g._flood(order, us, vsx, ws, parent, label, threshold, 0)
    g._flood(order, us, vsx, ws, parent, label, threshold, 1)
    roots = g._roots(parent)
    new = np.unique(roots[label[roots] == 0])  # pieces no seed reached (only across 0s)
    label[new] = np.arange(label.max() + 1, label.max() + 1 + len(new))
    out = label[roots]
    if min_size > 1:
        counts = np.bincount(out, minlength=out.max() + 1)
        parent = np.arange(n, dtype=np.int64)
        label = np.where(counts[out] >= min_size, out, 0).astype(np.int64)
        g._flood(order, us, vsx, ws, parent, label, -1.0, 0)
        out = label[g._roots(parent)]
    return out.reshape(spatial).astype(np.uint64)


def seeds_old(affs, vs):  # the old fragments' seeds: maxima of the mean-based interior's distance
    b = boundaries_from_affinities(affs)
    inside = b < 0.5
    dist = ndimage.distance_transform_edt(inside, sampling=vs)
    maxima = (ndimage.maximum_filter(dist, size=3) == dist) & inside
    return ndimage.label(maxima)[0]


def seeds_strict(affs, vs):
    *_, low = g._edges(affs)
    inside = ~low
    dist = ndimage.distance_transform_edt(inside, sampling=vs)
    maxima = (ndimage.maximum_filter(dist, size=3) == dist) & inside
    return ndimage.label(maxima)[0]


if __name__ == "__main__":
    test, val = data.load_dataset("fly/test"), data.load_dataset("fly/validation")
    vs = test.voxel_size
    T = [round(0.05 * k, 2) for k in range(1, 20)]
    crop = np.s_[:24, :128, :128]
    labels = test.labels[crop]
    perfect = target_affinities(labels).astype(np.float32)
    net = load_pretrained("05_affs3d_fly").model
    pred = {n: predict_blocks(net, v.raw, device="cpu", progress=False)[:3]
            for n, v in (("validation", val), ("test", test))}
    for name, seeder in [("edges, old seeds", seeds_old), ("edges, strict seeds", seeds_strict)]:
        f = frag2(perfect, vs, seeder(perfect, vs), min_size=0)
        r = sweep(perfect, f, labels, thresholds=[0.05, 0.5, 0.95])
        out = [name, f"perfect crop {np.round(r.voi_total, 3).tolist()}"]
        frags = {}
        for vol, v in (("validation", val), ("test", test)):
            t = time.perf_counter()
            frags[vol] = frag2(pred[vol], vs, seeder(pred[vol], vs))
            out.append(f"{vol}: {int(frags[vol].max())} frags {time.perf_counter() - t:.1f}s")
        sweeps = {s: sweep(pred["validation"], frags["validation"], val.labels, thresholds=T, **o)
                  for s, o in SCORINGS.items()}
        scoring, t = choose(sweeps)
        on_test = sweep(pred["test"], frags["test"], test.labels, thresholds=[t], **SCORINGS[scoring])
        out.append(f"validation best {sweeps[scoring].voi_total.min():.3f} ({scoring}, t={t}); test "
                   f"{on_test.voi_total[0]:.3f} ARAND {on_test.arand[0]:.3f}")
        print(" | ".join(out), flush=True)
