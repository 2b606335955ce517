"""bench/bench_blockwise.py: its table and ratios on made-up figures, its option checks (fast)."""

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
bench = importlib.import_module("bench_blockwise")

STAGES = ("predict", "fragments", "edges", "agglomerate", "relabel")


def _figures(workers, seconds):
    return [bench.StageFigures(stage, workers, s, 1 if stage == "agglomerate" else 4, s / 2,
                               1_000_000, [2e6] * workers)
            for stage, s in zip(STAGES, seconds, strict=True)]


def test_table_and_scaling(capsys):
    one, two = _figures(1, [10, 8, 2, 1, 1]), _figures(2, [8, 4, 2, 1, 2])
    bench.print_table(one + two)
    bench.print_scaling({1: one, 2: two})
    out = capsys.readouterr().out
    assert "fragments     2.00  ( 2.00)" in out
    assert "relabel       0.50  ( 0.50)" in out
    assert "agglomerate   1.00  ( 1.00)  (one block: does not scale with workers" in out
    assert "1 worker(s):    22.0 s" in out and "ratio 1.29 vs 1 worker(s)" in out
    assert "2.000, 2.000" in out  # per-worker rates, Mvoxels/s


@pytest.mark.parametrize("options", [["--block", "30", "128", "128"], ["--workers", "1", "1"]])
def test_bad_options_stop_before_any_work(options):
    with pytest.raises(SystemExit):
        bench.main(options)


def test_keep_refuses_a_directory_with_a_run(tmp_path):
    (tmp_path / "workers_2").mkdir()
    with pytest.raises(SystemExit):
        bench.main(["--keep", str(tmp_path)])
