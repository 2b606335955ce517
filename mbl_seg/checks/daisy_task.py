"""Self-check for your own daisy task (notebook 08): a Gaussian smoothing, block by block.

The task's regions are in nm, its blocks read the context the filter needs, and
the result must equal one pass of the filter over the whole volume, exactly:
inside the volume every output voxel sees the same input voxels either way.

Used in: notebooks/08_scaling_up
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable

import numpy as np

from ..roi import to_slices
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["TRUNCATE", "check_smoothing_task", "smooth", "smoothing_task"]

TRUNCATE = 4.0  # scipy's default: the Gaussian is cut at 4 sigma on each side


def smooth(raw: np.ndarray, voxel_size, sigma_nm: float) -> np.ndarray:
    """One pass over the whole volume: what the task must reproduce, as float32."""
    from scipy import ndimage

    sigma = [sigma_nm / v for v in voxel_size]
    return ndimage.gaussian_filter(np.asarray(raw, np.float32), sigma, truncate=TRUNCATE)


def smoothing_task(raw, out, voxel_size, block_nm, sigma_nm, workers):
    """The reference: a daisy.Task writing ``raw`` smoothed by ``sigma_nm`` into ``out``.

    ``raw`` and ``out`` are arrays of the same (z, y, x) shape (zarr, or numpy
    in one process); ``voxel_size`` and ``block_nm`` are (z, y, x) in nm.
    """
    import daisy
    from scipy import ndimage

    sigma = [sigma_nm / v for v in voxel_size]
    context = daisy.Coordinate(math.ceil(TRUNCATE * s) * int(v)
                               for s, v in zip(sigma, voxel_size))
    volume = daisy.Roi((0,) * 3, tuple(n * int(v) for n, v in zip(raw.shape, voxel_size)))
    write_roi = daisy.Roi((0,) * 3, tuple(block_nm))
    read_roi = write_roi.grow(context, context)

    def process(block):
        read = to_slices(block.read_roi, voxel_size, raw.shape)
        write = to_slices(block.write_roi, voxel_size, raw.shape)
        smoothed = ndimage.gaussian_filter(np.asarray(raw[read], np.float32), sigma,
                                           truncate=TRUNCATE)
        out[write] = smoothed[tuple(slice(w.start - r.start, w.stop - r.start)
                                    for w, r in zip(write, read))]

    return daisy.Task("smooth", total_roi=volume.grow(context, context), read_roi=read_roi,
                      write_roi=write_roi, process_function=process, read_write_conflict=False,
                      fit="shrink", max_workers=workers)


def _cases():
    rng = np.random.default_rng(8)
    return [
        ("a volume of 8 nm voxels", (30, 50, 50), (8, 8, 8), (12, 20, 20), 8.0),
        ("serial sections of 40 x 8 x 8 nm, a shape no block divides", (15, 47, 52),
         (40, 8, 8), (6, 20, 20), 16.0),
    ], rng


def _run_task(fn, raw: np.ndarray, voxel_size, block, sigma_nm) -> np.ndarray:
    import daisy
    import zarr

    folder = tempfile.mkdtemp(prefix="mbl_seg_check_")
    raw_array = zarr.create_array(f"{folder}/raw.zarr", shape=raw.shape, dtype=raw.dtype,
                                  chunks=block)
    raw_array[...] = raw
    out = zarr.create_array(f"{folder}/out.zarr", shape=raw.shape, dtype="float32",
                            chunks=block, fill_value=np.nan)
    block_nm = tuple(b * v for b, v in zip(block, voxel_size))
    task = _call(fn, raw_array, out, voxel_size, block_nm, sigma_nm, 1)
    if task is None:
        raise _Fail("your function returned None: did you forget `return daisy.Task(...)`?")
    if not isinstance(task, daisy.Task):
        raise _Fail(f"return a daisy.Task (daisy.Task(task_id, total_roi=..., read_roi=..., "
                    f"write_roi=..., process_function=...)), got a {type(task).__name__}")
    import daisy.logging

    logs = daisy.logging.get_log_basedir()
    daisy.logging.set_log_basedir(f"{folder}/logs")  # not ./daisy_logs where the student is
    try:
        states = daisy.run_blockwise([task], multiprocessing=False, progress=False,
                                     summary=False, return_states=True)
    finally:
        daisy.logging.set_log_basedir(logs)
    for state in states.values():
        if state.failed_count or state.orphaned_count:
            raise _Fail(f"{state.failed_count} of {state.total_block_count} blocks failed; the "
                        f"first error: {state.last_worker_error}. Call your process function "
                        "on one block by hand to see the whole traceback")
    return np.asarray(out[...])


def _near_faces(shape, block, context) -> list[np.ndarray]:
    """Per axis: voxels within ``context`` voxels of a face between two blocks."""
    masks = []
    for axis, (n, b, c) in enumerate(zip(shape, block, context)):
        index = np.arange(n)
        distance = np.full(n, n)
        for face in range(b, n, b):
            distance = np.minimum(distance, np.where(index < face, face - 1 - index, index - face))
        near = distance < max(c, 1)
        masks.append(near.reshape([-1 if k == axis else 1 for k in range(len(shape))]))
    return masks


def _hint(got, raw, voxel_size, block, sigma_nm) -> str:
    want = smooth(raw, voxel_size, sigma_nm)
    wrong = ~np.isclose(got, want, atol=1e-3)
    if np.array_equal(got, np.round(got)):
        return ("your values are whole numbers: gaussian_filter returns the dtype it is given; "
                "smooth raw as float32")
    context = [math.ceil(TRUNCATE * sigma_nm / v) for v in voxel_size]
    faces = _near_faces(raw.shape, block, context)
    near_any = np.zeros(raw.shape, bool)
    for mask in faces:
        near_any = near_any | mask
    border = np.ones(raw.shape, bool)
    border[tuple(slice(c, n - c) for c, n in zip(context, raw.shape))] = False
    if not wrong[~near_any].any():
        axes = [name for name, m in zip("zyx", faces) if (wrong & m & ~_others(faces, m)).any()]
        where = f" (along {', '.join(axes)})" if axes else ""
        return (f"right inside the blocks, wrong near the faces between blocks{where}: the "
                "blocks read too little context. The filter reads 4 sigma on each side: "
                "the context is ceil(4 * sigma / voxel size) whole voxels per axis, in nm "
                "(times the voxel size), added on both sides of the write ROI")
    if not wrong[~border].any():
        return ("right inside the volume, wrong at its border: read only what lies in the "
                "volume (to_slices(roi, voxel_size, raw.shape) clips it) and let "
                "gaussian_filter mirror at the border, as one pass over the volume does")
    return ("wrong inside the blocks too: smooth each block's read region with sigma in voxels "
            "(sigma_nm / voxel size per axis), then keep the voxels of its write region: they "
            "start at write start - read start within the read region")


def _others(faces, mask) -> np.ndarray:
    """Voxels near a face of another axis than ``mask``'s (where the axis is ambiguous)."""
    result = np.zeros(np.broadcast_shapes(*[f.shape for f in faces]), bool)
    for other in faces:
        if other is not mask:
            result = result | other
    return result


def _body(fn: Callable) -> str:
    cases, rng = _cases()
    for what, shape, voxel_size, block, sigma_nm in cases:
        raw = rng.integers(0, 256, shape, dtype=np.uint8)
        got = _run_task(fn, raw, voxel_size, block, sigma_nm)
        if got.shape != raw.shape:
            raise _Fail(f"out has shape {got.shape}, expected {raw.shape}")
        missing = int(np.isnan(got).sum())
        if missing:
            raise _Fail(f"{what}: {missing} of {got.size} voxels were never written. Hint: "
                        "daisy runs the blocks whose read ROI fits in total_roi: make total_roi "
                        "the volume (in nm) grown by the context on each side, write_roi one "
                        "block at 0, read_roi the write ROI grown by the context, and "
                        "fit=\"shrink\" so that the last blocks are cut at the volume's end")
        if not np.allclose(got, smooth(raw, voxel_size, sigma_nm), atol=1e-3):
            raise _Fail(f"{what} (blocks of {block} voxels, sigma {sigma_nm:g} nm): your output "
                        "differs from one pass of the filter over the volume. Hint: "
                        + _hint(got, raw, voxel_size, block, sigma_nm))
    return "your task equals one pass over the volume on both test volumes"


def check_smoothing_task(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(raw, out, voxel_size, block_nm, sigma_nm, workers) -> daisy.Task``.

    Each case runs your task in this process (``multiprocessing=False``, so errors
    show here) and compares ``out`` with one pass of the filter.

    >>> check_smoothing_task(smoothing_task).passed
    ✅ smoothing_task: correct — your task equals one pass over the volume on both test volumes
    True

    Used in: notebooks/08_scaling_up
    """
    return _run("smoothing_task", lambda: _body(fn), verbose)
