"""A run's identity (issue 26, items 2-3): nothing of one run is reused for another."""

import shutil

import numpy as np
import pytest

from mbl_seg import blockwise
from mbl_seg.data.synthetic import synthetic_volume

SHAPE, BLOCK = (16, 64, 64), (8, 32, 32)
SETTINGS = {"block_shape": BLOCK, "min_size": 20, "progress": False, "multiprocessing": False,
            "device": "cpu"}


@pytest.fixture(scope="module")
def volumes():
    return synthetic_volume(SHAPE, "fly", seed=21), synthetic_volume(SHAPE, "fly", seed=22)


def test_a_new_run_in_a_recreated_folder_uses_its_own_lookup_table(volumes, tmp_path):
    """In-process runs (the debugging mode) must not relabel with an earlier run's table."""
    a, b = volumes
    folder = tmp_path / "run"
    blockwise.run(a.raw, folder, voxel_size=a.voxel_size, **SETTINGS)
    shutil.rmtree(folder)
    second = blockwise.run(b.raw, folder, voxel_size=b.voxel_size, **SETTINGS)
    fresh = blockwise.run(b.raw, tmp_path / "fresh", voxel_size=b.voxel_size, **SETTINGS)
    assert np.array_equal(second.segmentation(), fresh.segmentation())


def test_a_run_on_another_shape_makes_its_own_predictor(volumes, tmp_path):
    a, _ = volumes
    small = a.raw[:8, :32, :32].copy()
    blockwise.run(a.raw, tmp_path / "one", voxel_size=a.voxel_size, **SETTINGS)
    run = blockwise.run(small, tmp_path / "two", voxel_size=a.voxel_size,
                        **{**SETTINGS, "block_shape": (8, 32, 32)})
    assert run.segmentation().shape == small.shape


def test_the_scoring_is_part_of_the_run_and_conflicts_are_refused_up_front(volumes, tmp_path):
    """Quantile scoring needs the histograms the edges step stores with it."""
    a, _ = volumes
    folder = tmp_path / "run"
    blockwise.run(a.raw, folder, voxel_size=a.voxel_size, scoring="mean", **SETTINGS)
    with pytest.raises(ValueError, match="stored without their affinity histograms"):
        blockwise.run(a.raw, folder, voxel_size=a.voxel_size, scoring="quantile", **SETTINGS)
    # the other way round is fine: mean scoring on edges stored with their histograms
    other = tmp_path / "quantile"
    blockwise.run(a.raw, other, voxel_size=a.voxel_size, scoring="quantile", **SETTINGS)
    run = blockwise.run(a.raw, other, voxel_size=a.voxel_size, scoring="mean", **SETTINGS)
    assert run.segmentation().max() > 0


def test_thresholds_that_print_alike_are_different_segmentations(volumes, tmp_path):
    a, _ = volumes
    folder = tmp_path / "run"
    one = blockwise.run(a.raw, folder, voxel_size=a.voxel_size, threshold=0.55, **SETTINGS)
    two = blockwise.run(a.raw, folder, voxel_size=a.voxel_size, threshold=0.5500001, **SETTINGS)
    assert one.segmentation_name != two.segmentation_name


def test_a_zarr_volume_is_read_in_place_and_gives_the_numpy_result(volumes, tmp_path):
    """Issue 26, item 1: blockwise.run takes a lazy zarr array; nothing copies it whole."""
    import zarr

    a, _ = volumes
    raw = zarr.create_array(tmp_path / "volume.zarr", shape=a.raw.shape, dtype="uint8",
                            chunks=BLOCK)
    raw[...] = a.raw
    lazy = zarr.open_array(tmp_path / "volume.zarr", mode="r")
    from_zarr = blockwise.run(lazy, tmp_path / "from_zarr", voxel_size=a.voxel_size, **SETTINGS)
    from_numpy = blockwise.run(a.raw, tmp_path / "from_numpy", voxel_size=a.voxel_size,
                               **SETTINGS)
    assert np.array_equal(from_zarr.segmentation(), from_numpy.segmentation())
    group = zarr.open_group(tmp_path / "from_zarr" / "volume.zarr", mode="r")
    assert "raw" not in group  # read in place, not copied into the run folder
    # the same data give the same identity: a run of the numpy volume may go on in its folder
    again = blockwise.run(a.raw, tmp_path / "from_zarr", voxel_size=a.voxel_size, **SETTINGS)
    assert len(again.blocks()) == 0


def test_a_zarr_array_in_memory_is_refused(volumes, tmp_path):
    import zarr

    a, _ = volumes
    in_memory = zarr.create_array(zarr.storage.MemoryStore(), shape=a.raw.shape, dtype="uint8")
    with pytest.raises(TypeError, match="folder on disk"):
        blockwise.run(in_memory, tmp_path / "run", voxel_size=a.voxel_size, **SETTINGS)


def test_the_fragments_cut_is_part_of_the_run(volumes, tmp_path):
    """``cut`` changes the stored fragments: a folder made with another cut is refused."""
    a, _ = volumes
    folder = tmp_path / "run"
    blockwise.run(a.raw, folder, voxel_size=a.voxel_size, stages=["predict"], **SETTINGS)
    with pytest.raises(ValueError, match="cut: 0.03 there, None now"):
        blockwise.run(a.raw, folder, voxel_size=a.voxel_size, cut=None, **SETTINGS)
