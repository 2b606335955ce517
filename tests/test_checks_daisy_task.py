"""The notebook-08 daisy-task check: the right task passes, each typical mistake gets its hint."""

import math

import daisy
import numpy as np
import pytest
from scipy import ndimage

from mbl_seg.checks import check_smoothing_task
from mbl_seg.checks.daisy_task import smooth, smoothing_task
from mbl_seg.roi import to_slices


def make(*, context=None, sigma_in_nm=False, grow_total=True, dtype=np.float32, crop=True,
         fit="shrink"):
    """A student's task with one mistake (or none)."""
    def fn(raw, out, voxel_size, block_nm, sigma_nm, workers):
        sigma = [sigma_nm / v for v in voxel_size]
        ctx = context(sigma, voxel_size) if context else [math.ceil(4 * s) * v
                                                          for s, v in zip(sigma, voxel_size)]
        ctx = daisy.Coordinate(int(c) for c in ctx)
        volume = daisy.Roi((0, 0, 0), tuple(n * int(v) for n, v in zip(raw.shape, voxel_size)))
        write_roi = daisy.Roi((0, 0, 0), block_nm)

        def process(block):
            read = to_slices(block.read_roi, voxel_size, raw.shape)
            write = to_slices(block.write_roi, voxel_size, raw.shape)
            smoothed = ndimage.gaussian_filter(np.asarray(raw[read], dtype),
                                               sigma_nm if sigma_in_nm else sigma)
            inner = (tuple(slice(w.start - r.start, w.stop - r.start) for w, r in zip(write, read))
                     if crop else tuple(slice(0, w.stop - w.start) for w in write))
            out[write] = smoothed[inner]

        return daisy.Task("smooth", total_roi=volume.grow(ctx, ctx) if grow_total else volume,
                          read_roi=write_roi.grow(ctx, ctx), write_roi=write_roi,
                          process_function=process, read_write_conflict=False, fit=fit,
                          max_workers=workers)
    return fn


def test_the_check_leaves_no_daisy_logs_where_it_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_smoothing_task(smoothing_task, verbose=False).passed
    assert list(tmp_path.iterdir()) == []


def test_the_reference_and_a_student_task_pass():
    assert check_smoothing_task(smoothing_task, verbose=False).passed
    result = check_smoothing_task(make(), verbose=False)
    assert result.passed, result.message


def no_z_context(sigma, voxel_size):
    return [0] + [math.ceil(4 * s) * v for s, v in zip(sigma[1:], voxel_size[1:])]


@pytest.mark.parametrize("fn,words", [
    (make(context=lambda s, v: [0, 0, 0]), "wrong near the faces between blocks (along z, y, x)"),
    (make(context=no_z_context), "faces between blocks (along z)"),
    (make(context=lambda s, v: [math.ceil(4 * x) for x in s]), "not start and end on the voxel grid"),
    (make(sigma_in_nm=True), "sigma in voxels"),
    (make(crop=False), "write start - read start"),
    (make(dtype=np.uint8), "smooth raw as float32"),
    (make(grow_total=False), "grown by the context on each side"),
    (make(fit="valid"), 'fit="shrink"'),
    (lambda *args: None, "return daisy.Task"),
    (lambda *args: "smooth", "return a daisy.Task"),
])
def test_each_mistake_gets_its_hint(fn, words):
    result = check_smoothing_task(fn, verbose=False)
    assert not result.passed
    assert words in result.message, result.message


def test_an_unfinished_exercise_says_so():
    def unfinished(*args):
        raise NotImplementedError

    assert "not implemented yet" in check_smoothing_task(unfinished, verbose=False).message


def test_a_failing_process_function_is_reported_with_its_error():
    def fn(raw, out, voxel_size, block_nm, sigma_nm, workers):
        def process(block):
            raise RuntimeError("my bug")
        roi = daisy.Roi((0, 0, 0), tuple(n * int(v) for n, v in zip(raw.shape, voxel_size)))
        return daisy.Task("smooth", total_roi=roi, read_roi=daisy.Roi((0, 0, 0), block_nm),
                          write_roi=daisy.Roi((0, 0, 0), block_nm), process_function=process,
                          fit="shrink", max_workers=1, max_retries=0)

    result = check_smoothing_task(fn, verbose=False)
    assert not result.passed and "my bug" in result.message, result.message


def test_the_reference_equals_one_pass_on_several_workers(tmp_path, monkeypatch):
    import daisy.logging
    import zarr

    monkeypatch.setattr(daisy.logging, "LOG_BASEDIR", tmp_path / "logs")  # not ./daisy_logs

    raw = np.random.default_rng(1).integers(0, 256, (14, 45, 50), dtype=np.uint8)
    voxel_size = (40, 8, 8)
    raw_array = zarr.create_array(tmp_path / "raw.zarr", shape=raw.shape, dtype="uint8",
                                  chunks=(6, 16, 16))
    raw_array[...] = raw
    out = zarr.create_array(tmp_path / "out.zarr", shape=raw.shape, dtype="float32",
                            chunks=(6, 16, 16), fill_value=np.nan)
    task = smoothing_task(raw_array, out, voxel_size, (240, 128, 128), 16.0, 2)
    assert daisy.run_blockwise([task], multiprocessing=True, progress=False, summary=False)
    np.testing.assert_array_equal(out[...], smooth(raw, voxel_size, 16.0))
