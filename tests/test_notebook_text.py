"""What the notebooks' text and code must not do again (issue 25's student walk, one test each).

Each test reads the committed notebooks (no execution) and fails on the defect a student
met: a hint that gives the answer away, a round numbered two ways, a figure described with
values it does not show, an answer that describes a file that says otherwise, a temporary
folder left behind, a result unpacked by dict order.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _cells(folder: str, stem: str):
    return nbformat.read(ROOT / folder / f"{stem}.ipynb", as_version=4).cells


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_zendo_exercise_does_not_give_round_1s_rule_away():
    """00: the TODO once said "compare how many circles and how many squares": the rule."""
    from mbl_seg import zendo

    assert "circles than squares" in zendo.RULES[1].name  # the rule the exercise asks for
    cells = _cells("notebooks", "00_setup_and_data")
    task = next(i for i, c in enumerate(cells) if "write the rule of round 1" in c.source)
    stub = next(i for i, c in enumerate(cells) if "def my_rule(" in c.source)
    for cell in cells[task:stub + 1]:
        assert not re.search(r"circle|square|how many", cell.source, re.I), cell.source


def test_zendo_rounds_are_numbered_as_the_code_numbers_them():
    """00: the text said "round 2" where the code played round 1."""
    text = "\n".join(c.source for c in _cells("solutions", "00_setup_and_data"))
    pairs = re.findall(r"round (\d) \(`viz\.zendo_game\((\d)\)`\)", text)
    assert pairs, "the exercise names its round and the call that plays it"
    assert all(n == m for n, m in pairs), pairs
    exercise = re.search(r"rule of round (\d)", text)[1]
    assert re.search(rf"check_\w*rule\(my_rule, {exercise}\)", text)
    titles = re.findall(r'title="Round (\d)[^"]*"', text)
    last = re.findall(r"The last round\*\* \(`viz\.zendo_game\((\d)\)`\)", text)
    assert titles and titles == last


def test_07_describes_the_thresholds_its_figure_shows():
    """07: the text described panels at t = 0.5 and 0.9; the figure showed others."""
    cells = _cells("solutions", "07_agglomeration")
    figure = next(i for i, c in enumerate(cells) if c.source.startswith("SHOW = "))
    shown = {float(t) for t in re.findall(r"[\d.]+", cells[figure].source.splitlines()[0])}
    text = cells[figure + 1].source.split("## ")[0]
    said = {float(t) for t in re.findall(r"`(?:t = )?([\d.]+)`", text)}
    assert said == shown, (said, shown)


def test_every_file_a_notebook_names_exists():
    named = {(s.stem, path) for s in SOLUTIONS for c in nbformat.read(s, as_version=4).cells
             if c.cell_type == "markdown"
             for path in re.findall(r"`((?:mbl_seg|bench|docs|training|tests)/[\w/.]+\.(?:py|md))`",
                                    c.source)}
    assert named
    assert [n for n in named if not (ROOT / n[1]).is_file()] == []


def test_08s_answer_on_the_edges_context_says_what_the_runner_declares():
    """08 Q2: the answer said one voxel before only; the runner declares both sides."""
    text = _flat("\n".join(c.source for c in _cells("solutions", "08_scaling_up")))
    answer = re.search(r"reads one voxel before its block.*?</details>", text)[0]
    assert "`mbl_seg/blockwise/_runner.py`" in answer and "one voxel on both sides" in answer
    runner = (ROOT / "mbl_seg" / "blockwise" / "_runner.py").read_text()
    assert 'task("edges", "edges", (1, 1, 1), (1, 1, 1))' in runner


def test_08s_context_exercise_does_not_print_its_answer():
    """08 exercise 2: its text and stub once gave `b + 2c` per axis, the answer itself."""
    cells = _cells("notebooks", "08_scaling_up")
    task = next(i for i, c in enumerate(cells) if "Exercise 2: the price of context" in c.source)
    check = next(i for i, c in enumerate(cells) if "check_overhead(my_overhead)" in c.source)
    for cell in cells[task:check]:
        assert not re.search(r"2 ?\* ?c|2c\b|\+ ?2", cell.source), cell.source


def test_05s_3d_against_2d_section_runs_on_without_exercise_c():
    """05: an unfinished exercise C stopped the notebook's main comparison (checks.require)."""
    code = [c.source for c in _cells("solutions", "05_3d_unet") if c.cell_type == "code"]
    use = next(src for src in code if "my_scan_blocks(" in src and "def my_scan_blocks" not in src
               and not src.strip().endswith("checks.check_scan_blocks(my_scan_blocks);"))
    assert "checks.require(" not in use
    assert "if checks.check_scan_blocks(my_scan_blocks, verbose=False):" in use
    assert re.search(r"^else:", use, re.M), "without exercise C the section goes on another way"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_no_result_is_unpacked_by_dict_order(solution):
    """05: `fast, best, flat = scores.values()` depended on which cells had run."""
    code = "\n".join(c.source for c in nbformat.read(solution, as_version=4).cells
                     if c.cell_type == "code")
    assert not re.search(r"^\s*\w+\s*,[\w\s,]*=\s*[\w.]+\.values\(\)\s*$", code, re.M)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_temporary_folders_are_removed_and_runs_live_in_the_checkpoint_folder(solution):
    """08 once made a new temporary run folder at each re-run (no resume, leaked folders)."""
    code = "\n".join(c.source for c in nbformat.read(solution, as_version=4).cells
                     if c.cell_type == "code")
    for name in re.findall(r"^(\w+) = Path\(tempfile\.mkdtemp\(", code, re.M):
        assert re.search(rf"shutil\.rmtree\({name}\b", code), f"{name} is never removed"
    if "blockwise.run(" in code:
        assert re.search(r"RUN_DIR = cfg\.checkpoint\(", code)
