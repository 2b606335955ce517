"""Estimate how long a student needs for each notebook: reading, exercises, questions.

The compute time of a notebook (bench/bench_notebooks.py) is the smallest part of a
student's time. This script counts what a student has to get through in each
*exercise* notebook and turns the counts into minutes with stated rates:

* reading: the words of the markdown cells at READ_WPM words per minute (technical
  text, read to be understood), and the lines of code cells the student runs at
  CODE_LPM lines per minute;
* exercises: EXERCISE_MIN minutes for each `TODO` cell to understand the task, plus
  MIN_PER_LINE minutes per line of the solution (thinking, typing, one or two
  rounds with the self-check's hint);
* questions to discuss: QUESTION_MIN minutes each (in pairs or in the room);
* compute: the fast-mode time measured by bench/bench_notebooks.py, as written in
  docs/instructors.md (a student waits through it, or reads on).

These rates are assumptions, not observations of a room: change them here, or
replace them with what you time in your own course. The totals are what the
timetables of docs/instructors.md are planned on (``--markdown`` writes the table
there).

    python bench/student_time.py [--markdown docs/instructors.md]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ_WPM = 120  # words per minute, technical text read to be understood
CODE_LPM = 15  # lines of given code per minute, read before running it
EXERCISE_MIN = 5  # minutes per exercise to understand the task
MIN_PER_LINE = 1.5  # minutes per line of the solution
QUESTION_MIN = 3  # minutes per discussion question
START, END = "<!-- student-time:start -->", "<!-- student-time:end -->"


def _count(notebook: Path, solution: Path) -> dict:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    words = code = questions = 0
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            words += len(re.findall(r"\w+", re.sub(r"<details>.*?</details>", "", text,
                                                     flags=re.S)))
            questions += len(re.findall(r"<details>", text))
        else:
            code += sum(1 for line in text.splitlines() if line.strip())
    exercises, lines = 0, 0
    for cell in json.loads(solution.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        for block in re.findall(r"# BEGIN SOLUTION.*?\n(.*?)# END SOLUTION", text, flags=re.S):
            exercises += 1
            lines += sum(1 for line in block.splitlines() if line.strip())
    return {"words": words, "code": code, "exercises": exercises, "lines": lines,
            "questions": questions}


def _compute_minutes() -> dict[str, float]:
    """The fast-mode times of docs/instructors.md's measured table, in minutes."""
    text = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    found = {}
    for name, minutes, seconds in re.findall(
            r"^\| (\d\d_\w+) \| (?:(\d+) min )?(\d+) s \|", text, flags=re.M):
        found[name] = int(minutes or 0) + int(seconds) / 60
    return found


def estimate() -> list[tuple[str, dict, dict[str, float]]]:
    compute = _compute_minutes()
    rows = []
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        counts = _count(notebook, ROOT / "solutions" / notebook.name)
        minutes = {"reading": counts["words"] / READ_WPM + counts["code"] / CODE_LPM,
                   "exercises": counts["exercises"] * EXERCISE_MIN
                   + counts["lines"] * MIN_PER_LINE,
                   "questions": counts["questions"] * QUESTION_MIN,
                   "compute": compute.get(notebook.stem, 0.0)}
        rows.append((notebook.stem, counts, minutes))
    return rows


def markdown(rows) -> str:
    lines = ["| notebook | words | code lines | exercises (solution lines) | questions | "
             "reading | exercises | questions | compute | **total** |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, c, m in rows:
        total = sum(m.values())
        lines.append(f"| {name} | {c['words']:,} | {c['code']} | {c['exercises']} ({c['lines']}) "
                     f"| {c['questions']} | {m['reading']:.0f} | {m['exercises']:.0f} | "
                     f"{m['questions']:.0f} | {m['compute']:.0f} | **{total:.0f} min** |")
    total = sum(sum(m.values()) for _, _, m in rows)
    lines.append(f"| **all** | | | | | | | | | **{total / 60:.1f} h** |")
    lines.append("")
    lines.append(f"Estimated by `python bench/student_time.py` from the exercise notebooks: "
                 f"{READ_WPM} words and {CODE_LPM} lines of given code per minute, "
                 f"{EXERCISE_MIN} min per exercise + {MIN_PER_LINE:g} min per line of its "
                 f"solution, {QUESTION_MIN} min per discussion question, and the measured "
                 "fast-mode compute time. Minutes; assumed rates, not a room's.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", type=Path, help="write the table between the "
                        f"{START} and {END} markers of this file")
    args = parser.parse_args()
    table = markdown(estimate())
    print(table)
    if args.markdown:
        text = args.markdown.read_text(encoding="utf-8")
        if START not in text or END not in text:
            raise SystemExit(f"{args.markdown} has no {START} ... {END} markers")
        head, rest = text.split(START, 1)
        args.markdown.write_text(head + START + "\n" + table + "\n" + END
                                 + rest.split(END, 1)[1], encoding="utf-8")
        print(f"wrote the table into {args.markdown}")


if __name__ == "__main__":
    main()
