"""Prototype (issue 26, item 5): fragments that respect the affinity graph.

Run:  .venv/bin/python wip/issue26_graph_fragments.py   (see wip/README.md)
"""

import time

import numba
import numpy as np
from scipy import ndimage

from mbl_seg import data, evaluate
from mbl_seg.agglomeration import sweep
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.predict import predict_blocks
from mbl_seg.segment import fragments as old_fragments
from mbl_seg.targets import affinities as target_affinities
from mbl_seg.targets import nearest_offsets


@numba.njit(cache=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


@numba.njit(cache=True)
def _roots(parent):
    out = np.empty(len(parent), np.int64)
    for i in range(len(parent)):
        out[i] = _find(parent, i)
    return out


@numba.njit(cache=True)
def _flood(order, us, vs, weights, parent, label, threshold, phase):
    """Kruskal, strongest edge first; two pieces with different seeds are never joined.

    phase 0: the edges >= threshold; phase 1: the edges below it, never an affinity of 0.
    """
    for k in order:
        w = weights[k]
        if phase == 0 and w < threshold:
            break
        if phase == 1 and (w >= threshold or w <= 0.0):
            continue
        a = _find(parent, us[k])
        b = _find(parent, vs[k])
        if a == b:
            continue
        la, lb = label[a], label[b]
        if la != 0 and lb != 0 and la != lb:
            continue
        parent[b] = a
        if la == 0:
            label[a] = lb
    return 0


def _edges(affs):
    spatial = affs.shape[1:]
    idx = np.arange(int(np.prod(spatial))).reshape(spatial)
    us, vs, ws, low = [], [], [], np.zeros(spatial, bool)
    for k, off in enumerate(nearest_offsets(len(spatial))):
        axis = int(np.flatnonzero(off)[0])
        later = [slice(None)] * len(spatial)
        earlier = [slice(None)] * len(spatial)
        later[axis], earlier[axis] = slice(1, None), slice(None, -1)
        us.append(idx[tuple(later)].ravel())
        vs.append(idx[tuple(earlier)].ravel())
        ws.append(affs[k][tuple(later)].ravel())
        cut = affs[k][tuple(later)] < 0.5
        low[tuple(later)] |= cut
        low[tuple(earlier)] |= cut
    return (np.concatenate(us), np.concatenate(vs), np.concatenate(ws).astype(np.float32), low)


def graph_fragments(affs, voxel_size, threshold=0.5, min_size=0):
    spatial = affs.shape[1:]
    n = int(np.prod(spatial))
    us, vs, ws, low = _edges(affs)
    dist = ndimage.distance_transform_edt(~low, sampling=voxel_size)
    maxima = (ndimage.maximum_filter(dist, size=3) == dist) & ~low
    seeds, _ = ndimage.label(maxima)
    parent = np.arange(n, dtype=np.int64)
    label = seeds.ravel().astype(np.int64)
    order = np.argsort(-ws, kind="stable")
    _flood(order, us, vs, ws, parent, label, threshold, 0)
    roots = _roots(parent)  # unseeded pieces that strong edges hold together: fragments too
    sizes = np.bincount(roots, minlength=n)
    new = np.unique(roots[(label[roots] == 0) & (sizes[roots] > 1)])
    label[new] = np.arange(label.max() + 1, label.max() + 1 + len(new))
    _flood(order, us, vs, ws, parent, label, threshold, 1)
    out = label[_roots(parent)]
    if min_size > 1:  # small fragments go where their strongest edges join them
        counts = np.bincount(out, minlength=out.max() + 1)
        parent = np.arange(n, dtype=np.int64)
        label = np.where(counts[out] >= min_size, out, 0).astype(np.int64)
        _flood(order, us, vs, ws, parent, label, -1.0, 0)
        out = label[_roots(parent)]
    return out.reshape(spatial).astype(np.uint64)


def main():
    test, val = data.load_dataset("fly/test"), data.load_dataset("fly/validation")
    crop, vs = np.s_[:24, :128, :128], test.voxel_size
    thresholds = [round(0.05 * k, 2) for k in range(1, 20)]
    net = load_pretrained("05_affs3d_fly").model
    predicted = {name: predict_blocks(net, v.raw[crop], device="cpu", progress=False)[:3]
                 for name, v in (("validation", val), ("test", test))}
    ways = {"old": lambda a: old_fragments(a, voxel_size=vs, min_size=100),
            "graph": lambda a: graph_fragments(a, vs, min_size=100)}
    for way, make in ways.items():
        for name, v in (("validation", val), ("test", test)):
            started = time.perf_counter()
            frags = make(predicted[name])
            seconds = time.perf_counter() - started
            result = sweep(predicted[name], frags, v.labels[crop], thresholds=thresholds)
            k = int(np.argmin(result.voi_total))
            print(f"predicted, {name}, {way}: {int(frags.max())} fragments in {seconds:.1f} s; "
                  f"best VOI total {result.voi_total[k]:.3f} at t = {thresholds[k]}")
    labels = test.labels[crop]
    perfect = target_affinities(labels).astype(np.float32)
    for way, make in {"old": lambda a: old_fragments(a, voxel_size=vs),
                      "graph": lambda a: graph_fragments(a, vs)}.items():
        frags = make(perfect)
        result = sweep(perfect, frags, labels, thresholds=[0.05, 0.3, 0.55, 0.8, 0.95])
        print(f"perfect affinities, {way}: fragments VOI merge "
              f"{evaluate.evaluate(labels, frags).voi_merge:.3f}; after agglomeration VOI "
              f"total {np.round(result.voi_total, 3).tolist()}")


if __name__ == "__main__":
    main()
