import sys
import numpy as np
from scipy import ndimage
sys.path.insert(0, "wip")
import issue26_graph_fragments as g
from mbl_seg import data
from mbl_seg.agglomeration import sweep
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import boundaries_from_affinities
from mbl_seg.targets import affinities as target_affinities

def frag_with_seeds(affs, vs, seeds, min_size=100, threshold=0.5):
    spatial = affs.shape[1:]; n = int(np.prod(spatial))
    us, vsx, ws, low = g._edges(affs)
    parent = np.arange(n, dtype=np.int64); label = seeds.ravel().astype(np.int64)
    order = np.argsort(-ws, kind="stable")
    g._flood(order, us, vsx, ws, parent, label, threshold, 0)
    roots = g._roots(parent); sizes = np.bincount(roots, minlength=n)
    new = np.unique(roots[(label[roots] == 0) & (sizes[roots] > 1)])
    label[new] = np.arange(label.max() + 1, label.max() + 1 + len(new))
    g._flood(order, us, vsx, ws, parent, label, threshold, 1)
    out = label[g._roots(parent)]
    if min_size > 1:
        counts = np.bincount(out, minlength=out.max() + 1)
        parent = np.arange(n, dtype=np.int64)
        label = np.where(counts[out] >= min_size, out, 0).astype(np.int64)
        g._flood(order, us, vsx, ws, parent, label, -1.0, 0)
        out = label[g._roots(parent)]
    return out.reshape(spatial).astype(np.uint64)

def seeds_strict(affs, vs, size=3):
    *_, low = g._edges(affs)
    dist = ndimage.distance_transform_edt(~low, sampling=vs)
    maxima = (ndimage.maximum_filter(dist, size=size) == dist) & ~low
    return ndimage.label(maxima)[0]

def seeds_old_on_strict(affs, vs):
    # the old watershed's seeds (mean-based interior), cut by the strict interior
    b = boundaries_from_affinities(affs)
    *_, low = g._edges(affs)
    dist = ndimage.distance_transform_edt(b < 0.5, sampling=vs)
    maxima = (ndimage.maximum_filter(dist, size=3) == dist) & (b < 0.5) & ~low
    return ndimage.label(maxima)[0]

def seeds_strict_smooth(affs, vs, sigma=1.0, size=3):
    *_, low = g._edges(affs)
    dist = ndimage.distance_transform_edt(~low, sampling=vs)
    dist = ndimage.gaussian_filter(dist, sigma)
    maxima = (ndimage.maximum_filter(dist, size=size) == dist) & ~low
    return ndimage.label(maxima)[0]

test, val = data.load_dataset("fly/test"), data.load_dataset("fly/validation")
crop, vs = np.s_[:24, :128, :128], test.voxel_size
T = [round(0.05 * k, 2) for k in range(1, 20)]
net = load_pretrained("05_affs3d_fly").model
pred = {n: predict_blocks(net, v.raw[crop], device="cpu", progress=False)[:3] for n, v in (("validation", val), ("test", test))}
labels = test.labels[crop]; perfect = target_affinities(labels).astype(np.float32)
for name, seeder in [("smooth1.5", lambda a, v: seeds_strict_smooth(a, v, 1.5)), ("smooth2", lambda a, v: seeds_strict_smooth(a, v, 2.0)),
                     ("smooth1-size5", lambda a, v: seeds_strict_smooth(a, v, 1.0, 5))]:
    line = [name]
    for vol, v in (("validation", val), ("test", test)):
        f = frag_with_seeds(pred[vol], vs, seeder(pred[vol], vs))
        r = sweep(pred[vol], f, v.labels[crop], thresholds=T); k = int(np.argmin(r.voi_total))
        line.append(f"{vol}: {int(f.max())} frags best {r.voi_total[k]:.3f}@{T[k]}")
    f = frag_with_seeds(perfect, vs, seeder(perfect, vs), min_size=0)
    r = sweep(perfect, f, labels, thresholds=[0.05, 0.5, 0.95])
    line.append(f"perfect: {np.round(r.voi_total, 3).tolist()}")
    print(" | ".join(line), flush=True)
