"""Prototype: fragments that respect the affinity graph (seeded Kruskal flooding with blocking)."""
import time
import numba
import numpy as np
from scipy import ndimage
from mbl_seg import data, evaluate
from mbl_seg.targets import affinities as target_affinities, nearest_offsets
from mbl_seg.segment import fragments as old_fragments
from mbl_seg.agglomeration import agglomerate, sweep


@numba.njit(cache=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


@numba.njit(cache=True)
def _flood(order, us, vs, weights, parent, label, threshold, phase):
    # phase 0: edges >= threshold; phase 1: edges < threshold
    for k in order:
        w = weights[k]
        if phase == 0 and w < threshold:
            break
        if phase == 1 and (w >= threshold or w <= 0.0):
            continue  # an affinity of 0: certainly two objects, never joined
        a = _find(parent, us[k]); b = _find(parent, vs[k])
        if a == b:
            continue
        la, lb = label[a], label[b]
        if la != 0 and lb != 0 and la != lb:
            continue  # two seeds: a fragment boundary
        parent[b] = a
        if la == 0:
            label[a] = lb
    return 0


def graph_fragments(affs, voxel_size, threshold=0.5, min_size=0):
    spatial = affs.shape[1:]
    n = int(np.prod(spatial))
    idx = np.arange(n).reshape(spatial)
    us, vs, ws = [], [], []
    for k, off in enumerate(nearest_offsets(len(spatial))):
        axis = int(np.flatnonzero(off)[0])
        a = [slice(None)] * len(spatial); b = [slice(None)] * len(spatial)
        a[axis] = slice(1, None); b[axis] = slice(None, -1)
        us.append(idx[tuple(a)].ravel()); vs.append(idx[tuple(b)].ravel())
        ws.append(affs[k][tuple(a)].ravel())
    us = np.concatenate(us); vs = np.concatenate(vs); ws = np.concatenate(ws).astype(np.float32)
    # seeds: maxima of the distance transform of the voxels whose every edge is above threshold
    low = np.zeros(spatial, bool)
    for k, off in enumerate(nearest_offsets(len(spatial))):
        axis = int(np.flatnonzero(off)[0])
        a = [slice(None)] * len(spatial); b = [slice(None)] * len(spatial)
        a[axis] = slice(1, None); b[axis] = slice(None, -1)
        cut = affs[k][tuple(a)] < threshold
        low[tuple(a)] |= cut; low[tuple(b)] |= cut
    dist = ndimage.distance_transform_edt(~low, sampling=voxel_size)
    maxima = (ndimage.maximum_filter(dist, size=3) == dist) & ~low
    seeds, _ = ndimage.label(maxima)
    parent = np.arange(n, dtype=np.int64)
    label = seeds.ravel().astype(np.int64)
    order = np.argsort(-ws, kind="stable")
    _flood(order, us, vs, ws, parent, label, threshold, 0)
    # unseeded pieces held together by strong edges become fragments of their own
    roots = np.array([_find(parent, i) for i in range(n)]) if n < 0 else None
    roots = _roots(parent)
    sizes = np.bincount(roots, minlength=n)
    nxt = label.max() + 1
    unseeded = (label[roots] == 0) & (sizes[roots] > 1)
    new_roots = np.unique(roots[unseeded])
    label[new_roots] = np.arange(nxt, nxt + len(new_roots))
    _flood(order, us, vs, ws, parent, label, threshold, 1)
    roots = _roots(parent)
    out = label[roots]
    if min_size > 1:  # small fragments go to the neighbour their strongest edges join them to
        sizes = np.bincount(out, minlength=out.max() + 1)
        seeds2 = np.where(sizes[out] >= min_size, out, 0)
        parent = np.arange(n, dtype=np.int64)
        label = seeds2.astype(np.int64)
        _flood(order, us, vs, ws, parent, label, -1.0, 0)
        out = label[_roots(parent)]
    return out.reshape(spatial).astype(np.uint64)


@numba.njit(cache=True)
def _roots(parent):
    out = np.empty(len(parent), np.int64)
    for i in range(len(parent)):
        out[i] = _find(parent, i)
    return out


test = data.load_dataset("fly/test")
crop = np.s_[:24, :128, :128]
labels = test.labels[crop]
perfect = target_affinities(labels).astype(np.float32)
vs = test.voxel_size
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.predict import predict_blocks
net = load_pretrained("05_affs3d_fly").model
val = data.load_dataset("fly/validation")
pred = {n: predict_blocks(net, v.raw[crop], device="cpu", progress=False)[:3] for n, v in (("test", test), ("val", val))}
T = [round(0.05 * k, 2) for k in range(1, 20)]
for name, fn in [("old", lambda a: old_fragments(a, voxel_size=vs, min_size=100)), ("graph", lambda a: graph_fragments(a, vs, min_size=100))]:
    for vol, v in (("val", val), ("test", test)):
        t = time.perf_counter(); f = fn(pred[vol]); dt = time.perf_counter() - t
        r = sweep(pred[vol], f, v.labels[crop], thresholds=T)
        k = int(np.argmin(r.voi_total))
        print(f"predicted {vol} {name}: {int(f.max())} fragments {dt:.1f} s; best VOI total {r.voi_total[k]:.3f} at t={T[k]}; merge of fragments {evaluate.evaluate(v.labels[crop], f).voi_merge:.3f}")
for name, fn in [("old", lambda a: old_fragments(a, voxel_size=vs, min_size=0)),
                 ("graph", lambda a: graph_fragments(a, vs))]:
    t = time.perf_counter(); frags = fn(perfect); dt = time.perf_counter() - t
    s = evaluate.evaluate(labels, frags)
    res = sweep(perfect, frags, labels, thresholds=[0.05, 0.3, 0.55, 0.8, 0.95])
    print(f"{name}: {int(frags.max())} fragments in {dt:.1f} s; fragments VOI split {s.voi_split:.3f} merge {s.voi_merge:.3f}; "
          f"after agglomeration VOI total {np.round(res.voi_total, 3).tolist()}")
