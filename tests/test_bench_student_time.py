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


def _estimates(guide: str) -> dict[str, int]:
    """The guide's estimate per notebook ("00" -> 75), read from its student-time table."""
    import re

    table = guide.split(student_time.START)[1].split(student_time.END)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^\| (\d\d)_\w+ \|.*\*\*(\d+) min\*\* \|$",
                                                   table, re.M)}


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return 60 * int(hours) + int(minutes)


def test_the_one_day_timetable_is_planned_on_the_estimate():
    """Each notebook's slot quotes the table's estimate and is at least that long."""
    import re

    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    estimates = _estimates(guide)
    assert len(estimates) == 10
    plan = guide.split("### One day")[1].split("### Three days")[0]
    rows = [(start, what.strip(), how.strip()) for start, what, how in
            re.findall(r"^\| (\d\d:\d\d) \|([^|]*)\|([^|]*)\|$", plan, re.M)]
    assert rows[-1][1] == "end"
    quoted = 0
    for (start, what, how), (stop, _, _) in zip(rows, rows[1:]):
        notebook = re.match(r"(\d\d) ", what)
        estimate = re.search(r"\(estimate (\d+) min\)", how)
        assert bool(notebook) == bool(estimate), f"{start} {what}: a notebook's slot quotes its estimate"
        if notebook:
            quoted += 1
            assert int(estimate[1]) == estimates[notebook[1]], f"{what}: the table says {estimates[notebook[1]]}"
            assert _minutes(stop) - _minutes(start) >= estimates[notebook[1]], f"{what}: slot too short"
    assert quoted == 4
    flat = " ".join(plan.split())
    left = re.search(r"left for after the course \(their estimates: ([\d, and]+) minutes\)", flat)
    named = re.search(r"(\d\d(?:, \d\d)*(?: and \d\d)?) are left", flat)[1]
    assert [int(n) for n in re.findall(r"\d+", left[1])] == [
        estimates[n] for n in re.findall(r"\d\d", named)]


def test_the_three_day_plan_and_the_total_are_the_estimate():
    import re

    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    estimates = _estimates(guide)
    total = float(re.search(r"\*\*([\d.]+) h\*\*", guide)[1])
    about = float(re.search(r"About ([\d.]+) hours in all", guide)[1])
    assert abs(about - total) <= 0.5
    days = guide.split("### Three days")[1].split("### Day 3 projects")[0]
    hours = [float(h) for h in re.search(
        r"Day 1 is about ([\d.]+) hours of notebooks, day 2 about ([\d.]+) and day 3 about ([\d.]+)",
        " ".join(days.split())).groups()]
    for day, said in zip((1, 2, 3), hours):
        row = re.search(rf"^\| {day} \| (.*)$", days, re.M)[1]
        notebooks = set(re.findall(r"(?:^|; |\| )(\d\d) ", row))
        assert abs(said - sum(estimates[n] for n in notebooks) / 60) < 0.1, (day, notebooks)
