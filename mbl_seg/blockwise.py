"""The course's pipeline block by block, on daisy: for volumes no machine holds at once.

Five steps, each a daisy task that reads a region (its block plus context) and
writes its block, so that any number of worker processes, here or on a
cluster, can share the work:

1. ``predict``: a shipped 3D network's affinities, into a zarr array (each
   block reads its raw with the net's context; the result equals one pass
   over the whole volume);
2. ``fragments``: watershed fragments of each block (read with context,
   written without), with ids unique in the volume: block ``b``'s ids start
   above ``b * voxels per block``;
3. ``edges``: every block counts the contacts of its voxels with their
   neighbours before them (so each contact, also across a block face, is
   counted once) and stores them in one SQLite file (:mod:`mbl_seg.graphdb`);
4. ``agglomerate``: one block, the whole graph: notebook 07's agglomeration
   (:func:`mbl_seg.agglomeration.agglomerate_graph`) gives a
   fragment-to-segment table;
5. ``relabel``: each block of fragments through the table into the
   segmentation.

Everything lives in one run directory: ``volume.zarr`` (raw, affs,
fragments, segmentations), ``graph.sqlite``, ``pipeline.json`` (the
settings) and ``done/`` (daisy's record of finished blocks). A run that is
interrupted is started again with the same call: blocks already done are
skipped, and a block that was half-written is done again (its writes replace
what was there). The daisy server listens on 127.0.0.1 only.

Used in: notebooks/08_scaling_up.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._validate import as_number, as_voxel_size
from .graphdb import BlockRecord, GraphDB

__all__ = ["STAGES", "BlockGrid", "Run", "Throughput", "run", "single_process", "throughput"]

STAGES = ("predict", "fragments", "edges", "agglomerate", "relabel")
HOST = "127.0.0.1"  # daisy listens on every interface unless told; workers here are local
_SETTINGS = "pipeline.json"
# per process, for one run only (cleared when a run starts and ends): the network, open
# arrays, lookup tables; daisy's workers are processes of their own, started per task
_CACHE: dict[Any, Any] = {}


@dataclass(frozen=True)
class BlockGrid:
    """How a volume of ``shape`` voxels is cut into blocks of ``block`` voxels (z, y, x).

    Examples
    --------
    >>> grid = BlockGrid((100, 256, 256), (32, 128, 128))
    >>> grid.counts, len(grid)
    ((4, 2, 2), 16)
    >>> grid.index((64, 128, 0)), grid.slices(15)
    (10, (slice(96, 100, None), slice(128, 256, None), slice(128, 256, None)))
    """

    shape: tuple[int, ...]
    block: tuple[int, ...]

    def __post_init__(self) -> None:
        shape, block = tuple(int(s) for s in self.shape), tuple(int(b) for b in self.block)
        if len(shape) != len(block) or min(block, default=0) < 1 or min(shape, default=0) < 1:
            raise ValueError(f"a block grid needs a block of at least 1 voxel per axis of the "
                             f"volume, got block {self.block} for shape {self.shape}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "block", block)

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(-(-s // b) for s, b in zip(self.shape, self.block))

    def __len__(self) -> int:
        return math.prod(self.counts)

    def index(self, offset: Sequence[int]) -> int:
        """The number of the block that starts at ``offset`` (row-major over the grid)."""
        cell = tuple(int(o) // b for o, b in zip(offset, self.block))
        return int(np.ravel_multi_index(cell, self.counts))

    def slices(self, index: int) -> tuple[slice, ...]:
        """The voxels block ``index`` writes (the last blocks of an axis may be smaller)."""
        cell = [int(c) for c in np.unravel_index(int(index), self.counts)]
        return tuple(slice(c * b, min((c + 1) * b, s))
                     for c, b, s in zip(cell, self.block, self.shape))

    @property
    def id_stride(self) -> int:
        """Fragment ids of block ``b`` lie in ``(b * id_stride, (b + 1) * id_stride]``."""
        return math.prod(self.block)


class Run(NamedTuple):
    """What :func:`run` made: where, the run's number, and daisy's account of each task."""

    directory: Path
    run: int
    seconds: float
    states: dict
    segmentation_name: str

    @property
    def db(self) -> GraphDB:
        return GraphDB(self.directory / "graph.sqlite")

    def array(self, name: str):
        """An array of the run's ``volume.zarr`` ("raw", "affs", "fragments", a segmentation)."""
        import zarr

        return zarr.open_group(str(self.directory / "volume.zarr"), mode="r")[name]

    def segmentation(self) -> np.ndarray:
        return self.array(self.segmentation_name)[...]

    def blocks(self) -> list[BlockRecord]:
        """Which worker did which block of which task in this run."""
        return self.db.block_log(run=self.run)


# ---------------------------------------------------------------------------------------------
# settings and the run directory


def _settings(network: str, block_shape, context, min_size: int, voxel_size, shape,
              checksum: str, histograms: bool) -> dict:
    return {"network": network, "block_shape": list(block_shape), "context": list(context),
            "min_size": min_size, "voxel_size": list(voxel_size), "shape": list(shape),
            "raw_checksum": checksum, "edge_histograms": histograms}


def _check_settings(directory: Path, settings: dict) -> dict:
    """Write the run's settings, or refuse a directory made with other ones (nothing is lost).

    Returns the settings the directory holds. Edges stored with their affinity
    histograms serve every scoring; edges stored without them serve mean scoring only.
    """
    path = directory / _SETTINGS
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("edge_histograms") and not settings["edge_histograms"]:
            settings = {**settings, "edge_histograms": True}  # mean scoring on them is fine
        if settings["edge_histograms"] and old.get("edge_histograms") is False:
            raise ValueError(f"{directory} holds a run whose edges were stored without their "
                             "affinity histograms (it was made with scoring='mean'), and "
                             "scoring='quantile' needs them: run it in a new directory")
        differ = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in settings.items()
                  if old.get(k) != v]
        if differ:
            raise ValueError(f"{directory} holds a run made with other settings ("
                             + "; ".join(differ) + "). Its results are kept: pass a new "
                             "directory for these settings, or delete that one yourself.")
        return old
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1) + "\n")
    return settings


def _prepare_arrays(directory: Path, raw: np.ndarray, voxel_size, block, threshold_name: str):
    """The run's zarr arrays, made once (chunks = blocks, so workers never share a chunk)."""
    import zarr

    group = zarr.open_group(str(directory / "volume.zarr"), mode="a")
    attrs = {"voxel_size": list(voxel_size), "offset": [0.0] * 3, "axes": ["z", "y", "x"]}
    if isinstance(raw, np.ndarray) and "raw" not in group:  # a zarr array is read in place
        array = group.create_array("raw", shape=raw.shape, dtype="uint8", chunks=block,
                                   dimension_names=("z", "y", "x"), attributes=attrs)
        array[...] = raw
    # a raw of another volume cannot be there: pipeline.json holds its checksum, and
    # _check_settings refused the directory if it differed
    shape = raw.shape
    wanted = {"affs": ((3, *shape), "float32", (3, *block), ("c", "z", "y", "x")),
              "fragments": (shape, "uint64", block, ("z", "y", "x")),
              threshold_name: (shape, "uint64", block, ("z", "y", "x"))}
    for name, (ashape, dtype, chunks, dims) in wanted.items():
        if name not in group:
            group.create_array(name, shape=ashape, dtype=dtype, chunks=chunks, fill_value=0,
                               dimension_names=dims,
                               attributes={**attrs, "axes": list(dims)})


# ---------------------------------------------------------------------------------------------
# the work of one block (run in daisy's worker processes)


class _Job(NamedTuple):
    directory: str
    raw: tuple[str, str] | None  # a zarr array read in place: (store folder, array path)
    network: str
    grid: BlockGrid
    context: tuple[int, ...]
    min_size: int
    voxel_size: tuple[float, ...]
    threshold: float
    lookup: str
    segmentation: str
    scoring: str
    quantile: float
    histograms: bool
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
        start = time.time()
        write = tuple(slice(int(b), int(e)) for b, e in zip(block.write_roi.begin,
                                                             block.write_roi.end))
        index = job.grid.index([s.start for s in write])
        voxels = getattr(self, "_" + self.stage)(write, index)
        GraphDB(Path(job.directory) / "graph.sqlite").log_block(BlockRecord(
            job.run, self.stage, index, _worker_id(), os.getpid(), start, time.time(), voxels))

    # -- the five steps --

    def _predict(self, write, index) -> int:
        predictor = _predictor(self.job)
        group = _group(self.job.directory)
        group["affs"][(slice(None), *write)] = predictor(_raw(self.job), write)
        return _size(write)

    def _fragments(self, write, index) -> int:
        from .segment import fragments

        job = self.job
        group = _group(job.directory)
        read = _grow(write, job.context, job.context, job.grid.shape)
        affs = np.asarray(group["affs"][(slice(None), *read)])
        frags = fragments(affs, voxel_size=job.voxel_size, min_size=job.min_size)
        inner = frags[tuple(slice(w.start - r.start, w.stop - r.start)
                            for w, r in zip(write, read))]
        # the block's fragments renumbered 1..n above its id stride; 0 (no fragment) stays 0
        found, local = np.unique(inner, return_inverse=True)
        local = local.reshape(inner.shape).astype(np.uint64) + np.uint64(found[0] != 0)
        ids = np.where(inner == 0, np.uint64(0), local + np.uint64(index * job.grid.id_stride))
        group["fragments"][write] = ids
        return _size(write)

    def _edges(self, write, index) -> int:
        from .rag import BINS, combine, region_graph
        from .targets import nearest_offsets

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
        from .agglomeration import agglomerate_graph

        job = self.job
        db = GraphDB(Path(job.directory) / "graph.sqlite")
        graph = db.region_graph()
        ids, smallest = next(agglomerate_graph(graph, thresholds=[job.threshold],
                                               scoring=job.scoring, quantile=job.quantile))
        _, segments = np.unique(smallest, return_inverse=True)  # segments 1..N
        db.write_lookup(job.lookup, ids, segments.ravel().astype(np.uint64) + 1)
        return len(ids)

    def _relabel(self, write, index) -> int:
        job = self.job
        key = ("lookup", job.directory, job.lookup)
        if key not in _CACHE:
            _CACHE[key] = GraphDB(Path(job.directory) / "graph.sqlite").read_lookup(job.lookup)
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

    from .env import select_device, use_amp
    from .predict import block_predictor

    device = select_device(job.device)
    if device.startswith("cuda") and torch.cuda.device_count() > 1 and ":" not in device:
        device = f"cuda:{_worker_id() % torch.cuda.device_count()}"  # one device per worker
    torch.set_num_threads(job.threads)
    model = _load_network(job.network)
    _CACHE[key] = block_predictor(model, job.grid.shape, job.grid.block, device=device,
                                  amp=use_amp(None, device))
    return _CACHE[key]


def _load_network(network: str):
    from .checkpoints import load_pretrained

    model = load_pretrained(network).model
    if getattr(model, "out_channels", None) != 3 or getattr(model, "dims", None) != 3:
        raise ValueError(f"the block-wise pipeline needs a 3D network with the 3 nearest "
                         f"affinities as output (e.g. '05_affs3d_fly'), got {network!r}")
    return model


# ---------------------------------------------------------------------------------------------
# the daisy tasks


def _tasks(job: _Job, stages: Sequence[str], workers: int, directory: Path, progress: bool):
    import daisy

    shape, block = job.grid.shape, job.grid.block
    zero = (0,) * 3
    volume = daisy.Roi(zero, shape)

    def task(name, task_id, read_before, read_after, count=workers):
        grown = volume.grow(daisy.Coordinate(read_before), daisy.Coordinate(read_after))
        read = daisy.Roi(tuple(-b for b in read_before),
                         tuple(b + a + s for b, a, s in zip(read_before, read_after, block)))
        return daisy.Task(task_id, total_roi=grown, read_roi=read,
                          write_roi=daisy.Roi(zero, block), process_function=_Stage(job, name),
                          read_write_conflict=False, fit="shrink", max_workers=count,
                          max_retries=2, timeout=3600,
                          tracking_path=str(directory / "done" / task_id))

    half = tuple(c // 2 for c in _network_context(job.network))
    made = {
        "predict": lambda: task("predict", "predict", half, half),
        "fragments": lambda: task("fragments", "fragments", job.context, job.context),
        # edges read one voxel before their block; the task declares one voxel on both sides
        # (daisy 2.0 never schedules some blocks of a task whose read ROI sticks out on one
        # side only: seen here, and a test would catch it)
        "edges": lambda: task("edges", "edges", (1, 1, 1), (1, 1, 1)),
        "agglomerate": lambda: daisy.Task(
            f"agglomerate_{job.lookup}", total_roi=volume, read_roi=volume, write_roi=volume,
            process_function=_Stage(job, "agglomerate"), read_write_conflict=False,
            max_workers=1, max_retries=1, timeout=24 * 3600,
            tracking_path=str(directory / "done" / f"agglomerate_{job.lookup}")),
        "relabel": lambda: task("relabel", f"relabel_{job.lookup}", zero, zero),
    }
    pipeline = None
    for name in stages:
        t = made[name]()
        pipeline = daisy.Pipeline.from_task(t) if pipeline is None else pipeline + t
    return pipeline


def _network_context(network: str) -> tuple[int, ...]:
    key = ("context", network)
    if key not in _CACHE:
        _CACHE[key] = tuple(int(c) for c in _load_network(network).context)
    return _CACHE[key]


def run(raw, directory: str | Path, *, voxel_size: Sequence[float],
        network: str = "05_affs3d_fly", block_shape: Sequence[int] = (32, 128, 128),
        context: Sequence[int] = (8, 16, 16), min_size: int = 100, threshold: float = 0.55,
        scoring: str = "mean", quantile: float = 0.5, workers: int = 2,
        stages: Sequence[str] = STAGES,
        device: str | None = None, progress: bool = True, multiprocessing: bool = True,
        host: str = HOST) -> Run:
    """Run the block-wise pipeline (or some of its steps) on ``raw``, in ``directory``.

    Parameters
    ----------
    raw : (Z, Y, X) ndarray of uint8, or a zarr array on disk
        The EM volume. A numpy array is copied once into
        ``directory/volume.zarr`` (where the workers read it); a zarr array
        (``zarr.open_array(path, mode="r")``) is read in place, block by block,
        and never loaded whole (its checksum is computed slab by slab).
    directory : str or Path
        The run directory (made if missing). Calling again with the same
        settings resumes: finished blocks are skipped. Other settings in a
        directory that has a run raise ``ValueError`` (nothing is overwritten).
    voxel_size : sequence of 3 float, required
        nm per voxel (z, y, x), for the fragments' distance transform.
    network : str
        A shipped 3D affinity network (:func:`mbl_seg.checkpoints.load_pretrained`).
    block_shape : sequence of 3 int
        Voxels each block writes; a multiple of the network's pooling step (4).
    context : sequence of 3 int
        Voxels of affinities read around a block to make its fragments.
    min_size : int
        Smallest fragment (voxels) within a block.
    threshold, scoring, quantile :
        The agglomeration's (as :func:`mbl_seg.agglomeration.agglomerate`; e.g.
        ``**mbl_seg.operating_point.SCORINGS["median"]``). Each has its own
        segmentation array, ``segmentation_<scoring>_<threshold>``; changing them
        redoes only the last two steps.
    workers : int
        Worker processes per step.
    stages : sequence of str
        Which of :data:`STAGES` to run (each needs the ones before it done).
    device : str, optional
        For prediction ("cpu", "cuda", ...; default: the best there is). With
        several GPUs, each prediction worker takes one.
    progress : bool
        A progress bar per task and daisy's summary at the end.
    multiprocessing : bool
        False: every block in this process, one after the other (for debugging).
    host : str
        The address daisy's server listens on and tells its workers: 127.0.0.1
        keeps it private to this machine (daisy alone would listen on every
        interface). Workers on other machines (a cluster) need an address of
        this machine that they can reach.

    Returns
    -------
    Run
    """
    import daisy
    import daisy.logging

    raw, source = _check_raw(raw)
    voxel_size = as_voxel_size(voxel_size, 3)
    block = _triple(block_shape, "block_shape", positive=True)
    context = _triple(context, "context", positive=False)
    min_size = as_number(min_size, "min_size", integer=True, nonnegative=True, unit="voxels")
    threshold = as_number(threshold, "threshold", nonnegative=True)
    workers = as_number(workers, "workers", integer=True, positive=True)
    if scoring not in ("mean", "quantile"):
        raise ValueError(f"scoring must be 'mean' or 'quantile', got {scoring!r}")
    quantile = as_number(quantile, "quantile", nonnegative=True)
    if quantile > 1:
        raise ValueError(f"quantile must lie in [0, 1], got {quantile}")
    if isinstance(stages, str) or not set(stages) <= set(STAGES):
        raise ValueError(f"stages must be a sequence out of {STAGES}, got {stages!r}")
    stages = [s for s in STAGES if s in stages]
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be an address as a string, e.g. '127.0.0.1', got {host!r}")
    if any(b % 4 for b in block):
        raise ValueError(f"block_shape {block} must be a multiple of the network's pooling step "
                         "(4) along every axis")
    directory = Path(directory)
    settings = _settings(network, block, context, min_size, voxel_size, raw.shape,
                         _checksum(raw), scoring == "quantile")
    _network_context(network)  # a wrong network fails here, not in a worker
    settings = _check_settings(directory, settings)
    # repr: the shortest text that reads back as the same number (0.5500001 is not 0.55)
    name = (f"mean_{threshold!r}" if scoring == "mean" else f"q{quantile!r}_{threshold!r}")
    segmentation = f"segmentation_{name}"
    _prepare_arrays(directory, raw, voxel_size, block, segmentation)
    db = GraphDB(directory / "graph.sqlite")
    _check_prerequisites(directory, db, stages, name)
    number = db.start_run(",".join(stages))
    threads = max(1, (os.cpu_count() or 1) // workers) if multiprocessing else 0
    job = _Job(str(directory.resolve()), source, network, BlockGrid(raw.shape, block), context,
               min_size,
               voxel_size, threshold, name, segmentation, scoring, quantile,
               settings["edge_histograms"], number, device,
               threads or (os.cpu_count() or 1))
    daisy.logging.set_log_basedir(directory / "logs")
    started = time.perf_counter()
    pipeline = _tasks(job, stages, workers, directory, progress)
    _CACHE.clear()  # nothing of an earlier run (in this process) serves this one
    try:
        states = daisy.run_blockwise(pipeline, multiprocessing=multiprocessing, host=host,
                                     progress=progress, summary=progress, return_states=True)
    finally:
        _CACHE.clear()
    failed = {k: s.last_worker_error or (f"{s.completed_count} of {s.total_block_count} blocks "
                                         f"done, {s.failed_count} failed, {s.orphaned_count} "
                                         "left because a block they need failed")
              for k, s in states.items() if s.completed_count != s.total_block_count}
    if failed:
        raise RuntimeError("the block-wise run did not finish: " + "; ".join(
            f"{k}: {v}" for k, v in failed.items()) + f" (worker logs in {directory / 'logs'}; "
            "call again to resume)")
    _record_done(directory, stages)
    return Run(directory, number, time.perf_counter() - started, dict(states), segmentation)


_DONE = "stages_done.json"  # the steps every block of which finished, in the run directory


def _check_prerequisites(directory: Path, db: GraphDB, stages: list[str], name: str) -> None:
    """Refuse steps whose inputs no earlier call made (up front, not in a worker)."""
    path = directory / _DONE
    done = set(json.loads(path.read_text())) if path.is_file() else set()
    for stage in stages:
        if stage == "relabel" and "agglomerate" not in stages:
            try:
                db.read_lookup(name)
            except KeyError:
                raise ValueError(f"stage 'relabel' needs the agglomeration {name!r} of this "
                                 f"directory, and {directory} has none: add 'agglomerate' to "
                                 "stages") from None
            continue
        before = [s for s in STAGES[:STAGES.index(stage)] if s not in ("agglomerate", "relabel")]
        missing = [s for s in before if s not in stages and s not in done]
        if missing:
            raise ValueError(f"stage {stage!r} needs {missing} done first, and {directory} has "
                             f"not finished them: add them to stages (done there: "
                             f"{sorted(done) or 'nothing'})")


def _record_done(directory: Path, stages: list[str]) -> None:
    path = directory / _DONE
    done = set(json.loads(path.read_text())) if path.is_file() else set()
    done |= {s for s in stages if s not in ("agglomerate", "relabel")}
    path.write_text(json.dumps(sorted(done, key=STAGES.index)) + "\n")


def _check_raw(raw) -> tuple[Any, tuple[str, str] | None]:
    """``raw`` as a numpy array or a zarr array on disk (read in place), and where it lives."""
    from .io import Volume

    if isinstance(raw, Volume):
        raw = raw.data
    source = None
    if not isinstance(raw, np.ndarray):
        root, path = _zarr_location(raw)
        if root is None:
            raise TypeError("raw must be a (Z, Y, X) uint8 numpy array, or a zarr array in a "
                            "folder on disk (zarr.open_array(...)), read block by block; got "
                            f"{type(raw).__name__}")
        source = (root, path)
    if len(raw.shape) != 3 or raw.dtype != np.uint8:
        raise ValueError(f"raw must be (Z, Y, X) uint8 EM, got shape {tuple(raw.shape)}, dtype "
                         f"{raw.dtype}")
    return raw, source


def _zarr_location(array) -> tuple[str | None, str]:
    """(store folder, array path) of a zarr array in a local store, else (None, "")."""
    try:
        import zarr
    except ImportError:  # pragma: no cover - zarr is a dependency
        return None, ""
    if not isinstance(array, zarr.Array):
        return None, ""
    root = getattr(array.store, "root", None)
    return (str(root), array.path) if root is not None else (None, "")


def _checksum(raw) -> str:
    """io.checksum of the volume, read slab by slab for a zarr array (never whole in memory)."""
    import hashlib

    from .io import checksum

    if isinstance(raw, np.ndarray):
        return checksum(raw)
    h = hashlib.blake2b(digest_size=16)
    step = max(1, raw.chunks[0])
    for z in range(0, raw.shape[0], step):
        h.update(np.ascontiguousarray(raw[z:z + step]).view(np.uint8).data)
    return h.hexdigest()


def _triple(values, name: str, *, positive: bool) -> tuple[int, int, int]:
    if np.ndim(values) != 1 or len(values) != 3:
        raise ValueError(f"{name} must be 3 ints (z, y, x), got {values!r}")
    return tuple(as_number(v, name, integer=True, positive=positive, nonnegative=not positive)
                 for v in values)


def single_process(raw: np.ndarray, *, voxel_size: Sequence[float],
                   network: str = "05_affs3d_fly", min_size: int = 100,
                   threshold: float = 0.55, scoring: str = "mean", quantile: float = 0.5,
                   device: str | None = None) -> dict[str, np.ndarray]:
    """The same pipeline on the whole volume in this process: what :func:`run` is compared to.

    Returns ``{"affs", "fragments", "segmentation"}`` (segments with the smallest
    fragment id in them).
    """
    from .agglomeration import agglomerate
    from .predict import predict_blocks
    from .segment import fragments

    raw, source = _check_raw(raw)
    if source is not None:  # one process holds the whole volume: that is the point here
        raw = np.asarray(raw[...])
    voxel_size = as_voxel_size(voxel_size, 3)
    affs = predict_blocks(_load_network(network), raw, device=device, progress=False)
    frags = fragments(affs, voxel_size=voxel_size, min_size=min_size)
    seg = next(agglomerate(affs, frags, thresholds=[threshold], scoring=scoring, quantile=quantile))
    return {"affs": affs, "fragments": frags, "segmentation": seg}


# ---------------------------------------------------------------------------------------------
# what the workers did


class Throughput(NamedTuple):
    """One task's figures: voxels per second of wall time, and per worker of its busy time."""

    task: str
    blocks: int
    voxels: int
    wall_s: float
    per_worker: dict  # worker -> (blocks, busy seconds, voxels per busy second)

    @property
    def voxels_per_s(self) -> float:
        return self.voxels / self.wall_s if self.wall_s > 0 else float("nan")


def throughput(records: Sequence[BlockRecord]) -> list[Throughput]:
    """Per task (in pipeline order): blocks, voxels, wall time and what each worker did.

    Wall time runs from a task's first block's start to its last block's end;
    a worker's busy time is the sum of its blocks' times.
    """
    rows = []
    order = {s: i for i, s in enumerate(STAGES)}
    tasks = sorted({r.task for r in records}, key=lambda t: (order.get(t, 99), t))
    for task in tasks:
        mine = [r for r in records if r.task == task]
        workers: dict = {}
        for r in mine:
            n, busy, vox = workers.get(r.worker, (0, 0.0, 0))
            workers[r.worker] = (n + 1, busy + r.stop - r.start, vox + r.voxels)
        per_worker = {w: (n, busy, vox / busy if busy > 0 else float("nan"))
                      for w, (n, busy, vox) in sorted(workers.items())}
        wall = max(r.stop for r in mine) - min(r.start for r in mine)
        rows.append(Throughput(task, len(mine), sum(r.voxels for r in mine), wall, per_worker))
    return rows

