"""Running the pipeline: daisy's tasks, the checks of what a caller gives, one process."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import as_number, as_voxel_size
from ..io import checksum
from ._directory import (Run, _check_prerequisites, _check_settings, _prepare_arrays,
                         _record_done, _settings)
from ._grid import STAGES, BlockGrid
from ._log import RunLog
from ._stages import _CACHE, _Job, _load_network, _network_context, _Stage

HOST = "127.0.0.1"  # daisy listens on every interface unless told; workers here are local


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

    measured = "_measured" if job.measure else ""  # a measured run does these steps again

    def whole(name, task_id):  # one block: the whole volume, one worker
        task_id += measured
        return daisy.Task(task_id, total_roi=volume, read_roi=volume, write_roi=volume,
                          process_function=_Stage(job, name), read_write_conflict=False,
                          max_workers=1, max_retries=1, timeout=24 * 3600,
                          tracking_path=str(directory / "done" / task_id))

    half = tuple(c // 2 for c in _network_context(job.network))
    made = {
        "predict": lambda: [task("predict", "predict", half, half)],
        "fragments": lambda: [task("fragments", "fragments", job.context, job.context)],
        # edges read one voxel before their block; the task declares one voxel on both sides
        # (daisy 2.0 never schedules some blocks of a task whose read ROI sticks out on one
        # side only: seen here, and a test would catch it)
        "edges": lambda: [task("edges", "edges", (1, 1, 1), (1, 1, 1))],
        "agglomerate": lambda: [whole("agglomerate", f"agglomerate_{job.lookup}")],
        "relabel": lambda: [task("relabel", f"relabel_{job.lookup}", zero, zero)],
    }
    if job.agglomeration == "blocks":  # merge scores per block, then one global threshold
        made["agglomerate"] = lambda: [
            task("scores", f"scores_{job.scores}{measured}", job.scores_context,
                 job.scores_context),
            whole("segments", f"segments_{job.lookup}")]
    pipeline = None
    for name in stages:
        for t in made[name]():
            pipeline = daisy.Pipeline.from_task(t) if pipeline is None else pipeline + t
    return pipeline


def run(raw, directory: str | Path, *, voxel_size: Sequence[float],
        network: str = "05_affs3d_fly", block_shape: Sequence[int] = (32, 128, 128),
        context: Sequence[int] = (8, 16, 16), min_size: int = 100, cut: float | None = 0.03,
        threshold: float = 0.55, scoring: str = "mean", quantile: float = 0.5,
        agglomeration: str = "graph", agglomeration_context: Sequence[int] | None = None,
        measure_memory: bool = False, steady_memory: bool = False, workers: int = 2,
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
    min_size, cut : int, float or None
        Smallest fragment (voxels) within a block, and where a fragment is split
        (as :func:`mbl_seg.segment.fragments`).
    threshold, scoring, quantile :
        The agglomeration's (as :func:`mbl_seg.agglomeration.agglomerate`; e.g.
        ``**mbl_seg.operating_point.SCORINGS["median"]``). Each has its own
        segmentation array, ``segmentation_<scoring>_<threshold>``; changing them
        redoes only the last two steps.
    agglomeration : "graph" or "blocks"
        "graph": one step agglomerates the whole graph (notebook 07's
        agglomeration, exactly). "blocks": as large runs do, each block is
        agglomerated with ``context`` around it and stores the score at which
        each of its edges was merged; one global step then joins the fragments
        of every edge scored below ``threshold`` (:mod:`._agglomerate`). Its
        segmentations are named ``segmentation_blocks_...``.
    measure_memory : bool
        Record in each block record of the agglomeration steps the most memory
        it held (numpy arrays and Python objects, by tracemalloc; those steps
        then run several times slower). Their blocks are done again even where
        an earlier call finished them.
    steady_memory : bool
        Keep each worker process's memory flat over thousands of blocks (Linux):
        glibc's heap otherwise fragments as every block allocates and frees the
        same large arrays, and a worker's peak creeps up (measured by
        ``bench/bench_blockwise_large.py``, blocks of (32, 128, 128): the
        prediction worker's peak 712 MB on 9 Mvoxels, 907 MB on 38; with this
        option 633 and 637 MB, every step flat; 639 MB on 170 Mvoxels). On a
        CPU with one worker it costs 7-26 % more time (large arrays get fresh
        pages each time), with two nothing measurable. For long runs on large
        volumes.
    agglomeration_context : sequence of 3 int, optional
        For "blocks": voxels read around a block for its agglomeration (default:
        half the block shape on each side). Every block judges every edge it
        sees, and the strictest level wins: an edge near the edge of one block's
        view, where its fragments are cut short, is judged better by another.
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
    cut = None if cut is None else as_number(cut, "cut", nonnegative=True)
    threshold = as_number(threshold, "threshold", nonnegative=True)
    workers = as_number(workers, "workers", integer=True, positive=True)
    if scoring not in ("mean", "quantile"):
        raise ValueError(f"scoring must be 'mean' or 'quantile', got {scoring!r}")
    if agglomeration not in ("graph", "blocks"):
        raise ValueError(f"agglomeration must be 'graph' (the whole graph at once) or 'blocks' "
                         f"(per block, then a global threshold), got {agglomeration!r}")
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
    settings = _settings(network, block, context, min_size, cut, voxel_size, raw.shape,
                         checksum(raw), scoring == "quantile")
    _network_context(network)  # a wrong network fails here, not in a worker
    settings = _check_settings(directory, settings)
    # repr: the shortest text that reads back as the same number (0.5500001 is not 0.55)
    scores = "mean" if scoring == "mean" else f"q{quantile!r}"
    name = f"{scores}_{threshold!r}"
    around = tuple(b // 2 for b in block) if agglomeration_context is None else _triple(
        agglomeration_context, "agglomeration_context", positive=False)
    if agglomeration == "blocks":  # the stored levels depend on the context too
        scores = f"{scores}_c{'x'.join(map(str, around))}"
        name = f"blocks_{scores}_{threshold!r}"
    segmentation = f"segmentation_{name}"
    _prepare_arrays(directory, raw, voxel_size, block, segmentation)
    log = RunLog(directory / "run.sqlite")
    _check_prerequisites(directory, log, stages, name)
    number = log.start_run(",".join(stages))
    threads = max(1, (os.cpu_count() or 1) // workers) if multiprocessing else 0
    job = _Job(str(directory.resolve()), source, network, BlockGrid(raw.shape, block), context,
               min_size, cut, voxel_size, threshold, name, segmentation, scoring, quantile,
               settings["edge_histograms"], agglomeration, scores, around,
               bool(measure_memory), bool(steady_memory), number, device,
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


def _check_raw(raw) -> tuple[Any, tuple[str, str] | None]:
    """``raw`` as a numpy array or a zarr array on disk (read in place), and where it lives."""
    from ..io import Volume

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


def _triple(values, name: str, *, positive: bool) -> tuple[int, int, int]:
    if np.ndim(values) != 1 or len(values) != 3:
        raise ValueError(f"{name} must be 3 ints (z, y, x), got {values!r}")
    return tuple(as_number(v, name, integer=True, positive=positive, nonnegative=not positive)
                 for v in values)


def single_process(raw: np.ndarray, *, voxel_size: Sequence[float],
                   network: str = "05_affs3d_fly", min_size: int = 100,
                   cut: float | None = 0.03, threshold: float = 0.55, scoring: str = "mean",
                   quantile: float = 0.5,
                   device: str | None = None) -> dict[str, np.ndarray]:
    """The same pipeline on the whole volume in this process: what :func:`run` is compared to.

    Returns ``{"affs", "fragments", "segmentation"}`` (segments with the smallest
    fragment id in them).
    """
    from ..agglomeration import agglomerate
    from ..predict import predict_blocks
    from ..segment import fragments

    raw, source = _check_raw(raw)
    if source is not None:  # one process holds the whole volume: that is the point here
        raw = np.asarray(raw[...])
    voxel_size = as_voxel_size(voxel_size, 3)
    affs = predict_blocks(_load_network(network), raw, device=device, progress=False)
    frags = fragments(affs, voxel_size=voxel_size, min_size=min_size, cut=cut)
    seg = next(agglomerate(affs, frags, thresholds=[threshold], scoring=scoring, quantile=quantile))
    return {"affs": affs, "fragments": frags, "segmentation": seg}
