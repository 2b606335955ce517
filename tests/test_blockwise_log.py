"""A block-wise run's record: its lookup tables and who did which block when (run.sqlite)."""

import pickle

import numpy as np
import pytest

from mbl_seg.blockwise import BlockRecord, RunLog


def test_lookup_tables_and_block_log(tmp_path):
    log = RunLog(tmp_path / "run.sqlite")
    log.write_lookup("mean_0.5", np.array([3, 1, 2], np.uint64), np.array([1, 1, 2], np.uint64))
    ids, segs = log.read_lookup("mean_0.5")
    assert ids.tolist() == [1, 2, 3] and segs.tolist() == [1, 2, 1]
    with pytest.raises(KeyError, match="agglomeration"):
        log.read_lookup("nothing")
    run = log.start_run("test")
    log.log_block(BlockRecord(run, "predict", 0, 0, 123, 1.0, 2.0, 64))
    assert log.block_log(run=run) == [BlockRecord(run, "predict", 0, 0, 123, 1.0, 2.0, 64)]
    assert log.block_log(task="edges") == [] and log.runs() == [run]
    assert pickle.loads(pickle.dumps(log)).path == log.path  # handed to worker processes


def test_a_lookup_of_two_lengths_is_refused(tmp_path):
    with pytest.raises(ValueError, match="1D arrays"):
        RunLog(tmp_path / "run.sqlite").write_lookup("x", np.zeros(3), np.zeros(2))
