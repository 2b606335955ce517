"""bench/bench_notebooks.py writes measured times into the instructors' guide, nothing else."""

import doctest
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
bench = importlib.import_module("bench_notebooks")


def test_doctests():
    assert doctest.testmod(bench).failed == 0


def test_times_go_between_their_mode_markers_only(tmp_path):
    start, end = bench.markers("fast")
    other = "\n".join(bench.markers("full"))
    page = tmp_path / "guide.md"
    page.write_text(f"intro\n{start}\nold\n{end}\nmiddle\n{other}\nend\n")
    bench.write_times(page, bench.times_table([("00_setup", 5.0)], "fast", "here"), "fast")
    text = page.read_text()
    assert "old" not in text and "| 00_setup | 5 s | 60 s |" in text
    assert text.startswith("intro\n") and text.endswith(f"middle\n{other}\nend\n")


def test_missing_markers_are_explained(tmp_path):
    page = tmp_path / "guide.md"
    page.write_text("no markers here\n")
    with pytest.raises(ValueError, match="notebook-times:fast:start"):
        bench.write_times(page, "x", "fast")


def test_the_guide_has_markers_for_both_modes():
    text = (ROOT / "docs" / "instructors.md").read_text()
    for mode in ("fast", "full"):
        start, end = bench.markers(mode)
        assert text.count(start) == 1 and text.count(end) == 1


def test_a_written_table_reads_back_and_merges(tmp_path):
    page = tmp_path / "guide.md"
    start, end = bench.markers("fast")
    page.write_text(f"intro\n{start}\nold\n{end}\n")
    rows = [("00_setup", 7.0), ("07_agglomeration", 138.0)]
    bench.write_times(page, bench.times_table(rows, "fast", "2 CPUs"), "fast")
    read, note = bench.read_times(page, "fast")
    assert read == rows and note.startswith("Measured by") and note.endswith("on 2 CPUs.")
    assert bench.merged(read, [("09_real_em", 224.0), ("00_setup", 8.0)]) == [
        ("00_setup", 8.0), ("07_agglomeration", 138.0), ("09_real_em", 224.0)]
