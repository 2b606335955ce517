"""A block-wise run's memory: each step's worker peak recorded, and a steady heap on request."""

import subprocess
import sys

import numpy as np
import pytest

from mbl_seg import blockwise
from mbl_seg.data.synthetic import synthetic_volume

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and VmHWM")


@linux
def test_the_heap_is_pinned_in_daisy_workers_only():
    """Never in the caller's process (multiprocessing=False runs there), even where daisy's
    context is in its environment (seen in the test suite); in a worker, once."""
    code = """
import os, sys, types
from mbl_seg.blockwise import _stages
os.environ["DAISY_CONTEXT"] = "worker_id=0"
_stages._steady_heap()
outside = _stages._HEAP["pinned"]
sys.modules["__main__"].__spec__ = types.SimpleNamespace(name="daisy._subprocess_worker")
_stages._steady_heap()
print(outside, _stages._HEAP["pinned"])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "True"]


def test_a_steady_heap_changes_memory_not_results(tmp_path):
    volume = synthetic_volume((16, 64, 64), "fly", seed=3)
    options = {"voxel_size": volume.voxel_size, "block_shape": (8, 32, 32), "workers": 1,
               "min_size": 20, "progress": False, "device": "cpu"}
    plain = blockwise.run(volume.raw, tmp_path / "plain", **options)
    steady = blockwise.run(volume.raw, tmp_path / "steady", steady_memory=True, **options)
    assert np.array_equal(plain.segmentation(), steady.segmentation())
    rows = blockwise.throughput(steady.blocks())
    if sys.platform.startswith("linux"):  # every step says how much its workers held
        assert all(row.rss > 20 * 2**20 for row in rows), rows
