"""The work of one block, for each of the five steps (run in daisy's worker processes)."""

from __future__ import annotations

import math
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..graphdb import GraphDB
from ._grid import BlockGrid
from ._log import BlockRecord, RunLog

# per process, for one run only (cleared when a run starts and ends): the network, open
# arrays, lookup tables; daisy's workers are processes of their own, started per task
_CACHE: dict[Any, Any] = {}
# the steps whose memory a block record gives: what the agglomeration holds at its peak
# (tracemalloc: numpy arrays and Python objects; the other steps are torch or small)
_MEASURED = ("agglomerate", "scores", "segments")


class _Job(NamedTuple):
    directory: str
    raw: tuple[str, str] | None  # a zarr array read in place: (store folder, array path)
    network: str
    grid: BlockGrid
    context: tuple[int, ...]
    min_size: int
    cut: float | None
    voxel_size: tuple[float, ...]
    threshold: float
    lookup: str
    segmentation: str
    scoring: str
    quantile: float
    histograms: bool
    agglomeration: str  # "graph": the whole graph in one step; "blocks": per block, then global
    scores: str  # the name of the merge levels of "blocks" (scoring and context)
    scores_context: tuple[int, ...]  # voxels around a block that "blocks" agglomerates
    measure: bool  # record the memory the agglomeration steps hold (tracemalloc: slower)
    steady: bool  # pin glibc's mmap threshold in the workers (flat memory, more CPU time)
    run: int
    device: str | None
    threads: int


class _Stage:
    """A block function for daisy: ``_Stage(job, "fragments")(block)`` does one block.

    A module-level class, so that daisy's worker processes import it by name.
    """

    def __init__(self, job: _Job, stage: str) -> None:
        self.job = job
        self.stage = stage

    def __call__(self, block) -> None:
        job = self.job
        if job.steady:
            _steady_heap()
        start = time.time()
        write = tuple(slice(int(b), int(e)) for b, e in zip(block.write_roi.begin,
                                                             block.write_roi.end))
        index = job.grid.index([s.start for s in write])
        measure = job.measure and self.stage in _MEASURED and not tracemalloc.is_tracing()
        if measure:
            tracemalloc.start()
        try:
            voxels = getattr(self, "_" + self.stage)(write, index)
            memory = tracemalloc.get_traced_memory()[1] if measure else 0
        finally:
            if measure:
                tracemalloc.stop()
        RunLog(Path(job.directory) / "run.sqlite").log_block(BlockRecord(
            job.run, self.stage, index, _worker_id(), os.getpid(), start, time.time(), voxels,
            memory, peak_rss()))

    # -- the steps --

    def _predict(self, write, index) -> int:
        predictor = _predictor(self.job)
        group = _group(self.job.directory)
        group["affs"][(slice(None), *write)] = predictor(_raw(self.job), write)
        return _size(write)

    def _fragments(self, write, index) -> int:
        from ..segment import fragments

        job = self.job
        group = _group(job.directory)
        read = _grow(write, job.context, job.context, job.grid.shape)
        affs = np.asarray(group["affs"][(slice(None), *read)])
        frags = fragments(affs, voxel_size=job.voxel_size, min_size=job.min_size, cut=job.cut)
        inner = frags[tuple(slice(w.start - r.start, w.stop - r.start)
                            for w, r in zip(write, read))]
        # the block's fragments renumbered 1..n above its id stride; 0 (no fragment) stays 0
        found, local = np.unique(inner, return_inverse=True)
        local = local.reshape(inner.shape).astype(np.uint64) + np.uint64(found[0] != 0)
        ids = np.where(inner == 0, np.uint64(0), local + np.uint64(index * job.grid.id_stride))
        group["fragments"][write] = ids
        return _size(write)

    def _edges(self, write, index) -> int:
        from ..rag import BINS, combine, region_graph
        from ..targets import nearest_offsets

        job = self.job
        group = _group(job.directory)
        bins = BINS if job.histograms else None
        parts = []
        for k, offset in enumerate(nearest_offsets(3)):
            # this block's voxels and their neighbour before them along one axis (maybe in
            # the block before): each contact is counted by the block of its later voxel
            before = [max(0, -o) for o in offset]
            read = _grow(write, before, [0, 0, 0], job.grid.shape)
            frags = np.asarray(group["fragments"][read])
            affs = np.asarray(group["affs"][(slice(k, k + 1), *read)])
            parts.append(region_graph(affs, frags, offsets=[offset], bins=bins))
        own = np.asarray(group["fragments"][write])
        ids, counts = np.unique(own, return_counts=True)
        graph = combine(parts)._replace(sizes=dict(zip(ids.tolist(), counts.tolist())))
        GraphDB(Path(job.directory) / "graph.sqlite").write_block(index, graph)
        return _size(write)

    def _agglomerate(self, write, index) -> int:
        from ..agglomeration import agglomerate_graph

        job = self.job
        graph = GraphDB(Path(job.directory) / "graph.sqlite").region_graph()
        ids, smallest = next(agglomerate_graph(graph, thresholds=[job.threshold],
                                               scoring=job.scoring, quantile=job.quantile))
        _, segments = np.unique(smallest, return_inverse=True)  # segments 1..N
        RunLog(Path(job.directory) / "run.sqlite").write_lookup(
            job.lookup, ids, segments.ravel().astype(np.uint64) + 1)
        return len(ids)

    def _scores(self, write, index) -> int:
        """Agglomerate the block with context; store the merge level of every edge it sees."""
        from ..agglomeration import MergeHistory, _merger
        from ..rag import BINS, region_graph
        from ..scoring import as_scoring
        from ._agglomerate import join_scores

        job = self.job
        group = _group(job.directory)
        read = _grow(write, job.scores_context, job.scores_context, job.grid.shape)
        frags = np.asarray(group["fragments"][read])
        affs = np.asarray(group["affs"][(slice(None), *read)])
        scoring = as_scoring(job.scoring, job.quantile)
        graph = region_graph(affs, frags, bins=BINS if scoring.histograms else None)
        edges = graph.edges  # the graph is made once: for the merges and for their levels
        merger = _merger(graph, np.unique(edges), scoring)
        merger.merge_below(1.0)
        history = MergeHistory(*merger.merges())
        # every block judges every edge it sees; the global step takes the strictest level
        GraphDB(Path(job.directory) / "graph.sqlite").write_scores(
            job.scores, index, edges, join_scores(edges, *history))
        return _size(write)

    def _segments(self, write, index) -> int:
        """The global step of "blocks": components of the edges scored below the threshold."""
        from ._agglomerate import components

        job = self.job
        db = GraphDB(Path(job.directory) / "graph.sqlite")
        ids = db.fragment_ids()
        # only the edges that join (their strictest level below the threshold), pooled by
        # SQLite: memory holds those, not every block's score of every edge
        u, v, _ = db.read_scores(job.scores, below=job.threshold)
        RunLog(Path(job.directory) / "run.sqlite").write_lookup(
            job.lookup, ids, components(ids, u, v))
        return len(ids)

    def _relabel(self, write, index) -> int:
        job = self.job
        key = ("lookup", job.directory, job.lookup)
        if key not in _CACHE:
            _CACHE[key] = RunLog(Path(job.directory) / "run.sqlite").read_lookup(job.lookup)
        ids, segments = _CACHE[key]
        group = _group(job.directory)
        frags = np.asarray(group["fragments"][write])
        group[job.segmentation][write] = segments[np.searchsorted(ids, frags)]
        return _size(write)


def _size(write) -> int:
    return math.prod(s.stop - s.start for s in write)


def _grow(write, before, after, shape) -> tuple[slice, ...]:
    """``write`` grown by ``before``/``after`` voxels, clipped to the volume."""
    return tuple(slice(max(0, w.start - b), min(n, w.stop + a))
                 for w, b, a, n in zip(write, before, after, shape))


def _group(directory: str):
    import zarr

    key = ("group", directory)
    if key not in _CACHE:
        _CACHE[key] = zarr.open_group(str(Path(directory) / "volume.zarr"), mode="r+")
    return _CACHE[key]


def _raw(job: _Job):
    """The run's raw volume, read lazily: the caller's zarr array, or the run's copy."""
    if job.raw is None:
        return _group(job.directory)["raw"]
    import zarr

    key = ("raw", job.raw)
    if key not in _CACHE:
        _CACHE[key] = zarr.open_array(job.raw[0], path=job.raw[1], mode="r")
    return _CACHE[key]


_HEAP = {"pinned": False}
MMAP_THRESHOLD = 8 * 2**20  # bytes: larger allocations get pages of their own


def _steady_heap() -> None:
    """Keep a daisy worker process's memory flat over thousands of blocks (Linux, glibc).

    glibc serves an allocation from its heap unless it is larger than its mmap threshold,
    and it raises that threshold (up to 32 MB) each time a larger block is freed: a
    worker whose every block allocates and frees the same large arrays (the network's
    activations, a block's distance transform) then keeps them in a heap that fragments
    and grows block after block. Measured (prediction of 05_affs3d_fly, blocks of
    (32, 128, 128), 1 thread, one process): resident 457 MB after 12 blocks, 565 MB after
    72, peak 787 -> 1018 MB; with the threshold pinned at 8 MB, 323 MB after 12 blocks and
    after 60, peak 647 MB throughout, for 13-19 % more prediction time on a CPU (fresh
    pages for each large array). Only in daisy's worker processes (never the caller's), and
    only where asked (``run(..., steady_memory=True)``).
    """
    if _HEAP["pinned"] or not _in_daisy_worker():
        return
    _HEAP["pinned"] = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(ctypes.c_int(-3), ctypes.c_int(MMAP_THRESHOLD))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: its allocator has its own ways
        pass


def _in_daisy_worker() -> bool:
    """Whether this process is one of daisy's worker processes (``python -m daisy._subprocess_worker``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", "") == "daisy._subprocess_worker"


def peak_rss() -> int:
    """This process's peak resident memory so far, in bytes (``VmHWM``); 0 where unknown.

    ``VmHWM`` is the process's own: unlike ``ru_maxrss`` it does not start from the
    peak of the process it was forked from.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # not Linux
        pass
    return 0


def _worker_id() -> int:
    """This worker's number in its task (daisy's), 0 outside a daisy worker."""
    text = os.environ.get("DAISY_CONTEXT", "")
    for item in text.split(":"):
        if item.startswith("worker_id="):
            return int(item.split("=", 1)[1])
    return 0


def _predictor(job: _Job):
    """The network of the run, loaded once per worker, as ``f(raw, write) -> affs of write``."""
    key = ("predictor", job.network, job.grid.block, job.grid.shape)
    if key in _CACHE:
        return _CACHE[key]
    import torch

    from ..env import select_device, use_amp
    from ..predict import block_predictor

    device = select_device(job.device)
    if device.startswith("cuda") and torch.cuda.device_count() > 1 and ":" not in device:
        device = f"cuda:{_worker_id() % torch.cuda.device_count()}"  # one device per worker
    torch.set_num_threads(job.threads)
    model = _load_network(job.network)
    _CACHE[key] = block_predictor(model, job.grid.shape, job.grid.block, device=device,
                                  amp=use_amp(None, device))
    return _CACHE[key]


def _load_network(network: str):
    from ..checkpoints import load_pretrained

    model = load_pretrained(network).model
    if getattr(model, "out_channels", None) != 3 or getattr(model, "dims", None) != 3:
        raise ValueError(f"the block-wise pipeline needs a 3D network with the 3 nearest "
                         f"affinities as output (e.g. '05_affs3d_fly'), got {network!r}")
    return model



def _network_context(network: str) -> tuple[int, ...]:
    key = ("context", network)
    if key not in _CACHE:
        _CACHE[key] = tuple(int(c) for c in _load_network(network).context)
    return _CACHE[key]
