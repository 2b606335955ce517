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


def test_a_log_made_before_the_memory_columns_gets_them(tmp_path):
    """Run folders of earlier versions have neither ``memory`` nor ``rss``: both are added."""
    import sqlite3

    path = tmp_path / "run.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE blocks (run INTEGER NOT NULL, task TEXT NOT NULL, block INTEGER "
                   "NOT NULL, worker INTEGER NOT NULL, pid INTEGER NOT NULL, start REAL NOT "
                   "NULL, stop REAL NOT NULL, voxels INTEGER NOT NULL)")
        db.execute("INSERT INTO blocks VALUES (1, 'predict', 0, 0, 7, 1.0, 2.0, 64)")
    db.close()
    log = RunLog(path)
    assert log.block_log() == [BlockRecord(1, "predict", 0, 0, 7, 1.0, 2.0, 64, 0, 0)]


def test_peak_rss_is_this_process_and_grows_with_what_it_holds():
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("VmHWM is Linux's")
    # a fresh process: this one's peak may already lie above whatever the test adds
    code = ("import numpy as np; from mbl_seg.blockwise._stages import peak_rss; "
            "before = peak_rss(); held = np.ones(64 * 2**20, np.uint8); "
            "print(before, peak_rss())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    before, after = map(int, done.stdout.split())
    assert before > 10 * 2**20 and after - before > 50 * 2**20, (before, after)
