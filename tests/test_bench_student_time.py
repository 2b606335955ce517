"""bench/student_time.py: what it counts, and the guide's table is the script's current one."""

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
student_time = importlib.import_module("student_time")


def _notebook(path: Path, cells) -> Path:
    path.write_text(json.dumps({"cells": [
        {"cell_type": kind, "source": text.splitlines(True), "metadata": {}}
        for kind, text in cells]}))
    return path


def test_words_code_exercises_and_questions_are_counted(tmp_path):
    exercise = _notebook(tmp_path / "ex.ipynb", [
        ("markdown", "Three short words\n\n1. A question?\n<details>not counted at all</details>"),
        ("code", "x = 1\n\n# TODO\ny = 2\n")])
    solution = _notebook(tmp_path / "sol.ipynb", [
        ("code", "# BEGIN SOLUTION: two lines\na = 1\n\nb = 2\n# END SOLUTION\n")])
    counts = student_time._count(exercise, solution)
    assert counts == {"words": 6, "code": 3, "exercises": 1, "lines": 2, "questions": 1}


def test_the_guide_shows_the_current_estimate():
    """Change a notebook and this fails until `python bench/student_time.py --markdown
    docs/instructors.md` writes the new table (the timetables are planned on it)."""
    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    table = guide.split(student_time.START)[1].split(student_time.END)[0].strip()
    assert table == student_time.markdown(student_time.estimate())
