"""The committed notebooks: exercises generated from solutions, no leaked answers,
meaningful nbval checks. (The solutions themselves are executed by nbval.)"""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mbl_seg import notebooks as nbs

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = nbs.list_notebooks(ROOT / "solutions")


def test_there_are_solution_notebooks():
    assert [p.name for p in SOLUTIONS][:1] == ["00_setup_and_data.ipynb"]


def _committed(path: Path) -> str | None:
    """The file as the last commit has it (None outside a git checkout)."""
    done = subprocess.run(["git", "show", f"HEAD:{path.relative_to(ROOT).as_posix()}"],
                          cwd=ROOT, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def _stale_exercises() -> list[Path]:
    """Exercises that differ from what the generator makes of the solutions.

    A notebook a student has edited (its cells no longer match the hash it was
    generated with) is judged by its committed version instead: doing the
    exercises must not make the test suite fail.
    """
    stale = nbs.generate_exercises(ROOT / "solutions", ROOT / "notebooks", check=True)
    found = []
    for path in stale:
        if path.is_file() and nbs._edited(path):
            solution = ROOT / "solutions" / path.name
            expected = nbs._render(nbs.make_exercise(nbformat.read(solution, as_version=4),
                                                     source_name=solution.name))
            if _committed(path) == expected:
                continue
        found.append(path)
    return found


def test_committed_exercises_are_up_to_date():
    stale = _stale_exercises()
    assert stale == [], f"run `mbl-seg exercises`: {[str(p) for p in stale]} differ"


def test_a_students_filled_in_exercise_does_not_fail_the_suite():
    path = ROOT / "notebooks" / "00_setup_and_data.ipynb"
    original = path.read_bytes()
    try:
        work = nbformat.read(str(path), as_version=4)
        todo = next(c for c in work.cells if "raise NotImplementedError" in c.source)
        todo.source = todo.source.splitlines()[0] + "\n    return None  # my attempt"
        nbformat.write(work, str(path))
        assert _stale_exercises() == []
    finally:
        path.write_bytes(original)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_no_solution_code_in_exercise(solution):
    exercise = nbs.exercise_path(solution)
    leaks = nbs.find_leaks(nbformat.read(solution, as_version=4),
                           nbformat.read(exercise, as_version=4))
    assert leaks == []


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_exercise_has_todos_each_followed_by_a_self_check(solution):
    cells = nbformat.read(nbs.exercise_path(solution), as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    todo_cells = [i for i, src in enumerate(code) if "raise NotImplementedError" in src]
    assert todo_cells, "an exercise notebook needs at least one TODO"
    for i in todo_cells:
        assert "checks.check_" in code[i + 1], f"no self-check right after TODO cell: {code[i]!r}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_is_executed_and_checks_real_outputs(solution):
    nb = nbformat.read(solution, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "execute it: mbl-seg run --in-place"
    checked = [c for c in code if "# NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) >= 3, "nbval must compare some outputs (metrics, shapes, self-checks)"
    assert all(c.outputs for c in checked), "a checked cell must print something"
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []


# What a failed check, an unfinished exercise or a crash leaves in a cell's output.
FAILURE_SIGNS = ("❌", "outside the expected range", "ExerciseNotDone", "Traceback (most recent")
ON_PURPOSE = "failure-on-purpose"  # the tag of a cell that shows a failure deliberately


def failed_outputs(nb) -> list[tuple[int, str]]:
    """``(cell index, line)`` of every output line that shows a failure, outside the cells
    tagged ``failure-on-purpose``."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or ON_PURPOSE in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append((index, f"{output.get('ename')}: {output.get('evalue')}"))
                continue
            text = output.get("text", "") or "".join(
                str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
            found += [(index, line) for line in str(text).splitlines()
                      if any(sign in line for sign in FAILURE_SIGNS)]
    return found


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_no_committed_solution_shows_a_failed_check(solution):
    """A student who opens a solution sees ✅ everywhere but where a failure is the lesson."""
    assert failed_outputs(nbformat.read(solution, as_version=4)) == []


def test_the_failed_check_test_catches_the_lines_another_machine_once_printed():
    """Notebook 04 with the two ❌ lines that a fresh clone on another CPU printed (issue 23)."""
    nb = nbformat.read(ROOT / "solutions" / "04_malis.ipynb", as_version=4)
    assert failed_outputs(nb) == []
    index = next(i for i, c in enumerate(nb.cells) if "BCE + MALIS: ARAND" in
                 "".join(o.get("text", "") for o in c.get("outputs", [])))
    nb.cells[index].outputs.append(nbformat.v4.new_output("stream", name="stdout", text=(
        "❌ BCE + MALIS: ARAND: 0.4219 is outside the expected range 0.12 to 0.4\n"
        "❌ the two networks within 0.25 bits of each other (VOI total): 0.3767 is outside the "
        "expected range -0.25 to 0.25\n")))
    found = failed_outputs(nb)
    assert [i for i, _ in found] == [index, index]
    assert "0.4219 is outside the expected range" in found[0][1]


@pytest.mark.parametrize("output", [
    nbformat.v4.new_output("error", ename="ExerciseNotDone", evalue="`f` is not done yet",
                           traceback=[]),
    nbformat.v4.new_output("stream", name="stderr", text="Traceback (most recent call last):\n"),
    nbformat.v4.new_output("execute_result", data={"text/plain": "❌ zendo rule: wrong"}),
])
def test_a_crash_or_an_unfinished_exercise_counts_as_a_failure_unless_tagged(output):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[output])]
    assert [i for i, _ in failed_outputs(nb)] == [0]
    nb.cells[0].metadata["tags"] = [ON_PURPOSE]
    assert failed_outputs(nb) == []


# The exercise functions that later cells build on (training targets, losses, crops).
BUILT_ON = {"02_deep_boundaries": ["center_crop", "balance_weights"],
            "03_affinities": ["my_affinities"],
            "05_3d_unet": ["my_missing_sections", "my_output_shape_3d", "my_scan_blocks"],
            "06_lsds": ["my_centre_offsets", "my_mtlsd_loss"],
            "07_agglomeration": ["my_merge_edges"],
            "08_scaling_up": ["my_read_region", "my_overhead", "my_smoothing_task"],
            "09_real_em": ["my_to_network_grid"]}


@pytest.mark.parametrize("stem, names", BUILT_ON.items())
def test_what_later_cells_use_is_required_first(stem, names):
    """Every use of an exercise function outside its self-check goes through checks.require,
    or is guarded by its quiet self-check (a cell that runs on without it)."""
    code = [c.source for c in nbformat.read(ROOT / "solutions" / f"{stem}.ipynb",
                                            as_version=4).cells if c.cell_type == "code"]
    for name in names:
        defined = next(i for i, src in enumerate(code) if f"def {name}(" in src)
        self_check = re.compile(rf"checks\.check_\w+\({name}\);?")
        uses = [i for i, src in enumerate(code) if i > defined and name in src
                and not self_check.fullmatch(src.replace("# NBVAL_CHECK_OUTPUT", "").strip())]
        assert uses, f"{stem}: nothing uses {name}: the exercise has no consequence"
        guarded = re.search(rf"if checks\.check_\w+\({name}, verbose=False\):", code[uses[0]])
        assert "checks.require(" in code[uses[0]] or guarded, f"{stem}: {name} is used unchecked"


def test_an_unfinished_exercise_stops_the_notebook_with_a_message(tmp_path):
    """Notebook 02 as a student gets it: the first cell that needs center_crop stops, clearly."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(ROOT / "notebooks" / "02_deep_boundaries.ipynb", as_version=4)
    stop = next(i for i, c in enumerate(nb.cells) if "checks.require(" in c.source)
    nb.cells = nb.cells[:stop + 1]
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "ExerciseNotDone"
    assert "`center_crop` is not done yet" in info.value.evalue
    failed = [i for i, c in enumerate(nb.cells)
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [stop]  # every cell before it ran; the self-checks only printed ❌


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_notebooks_keep_what_they_train_where_the_environment_says(solution):
    """A literal `checkpoints/...` path would escape the test suite's fresh folder per notebook
    (and a JupyterHub's $MBL_SEG_CHECKPOINTS): every path goes through cfg.checkpoint()."""
    code = [c.source for c in nbformat.read(solution, as_version=4).cells
            if c.cell_type == "code"]
    literal = [line.strip() for src in code for line in src.splitlines()
               if re.search(r"""["']checkpoints/""", line)]
    assert literal == [], "use cfg.checkpoint(name) instead of a literal path"


def test_each_solution_notebook_starts_with_an_empty_checkpoint_folder_of_its_own(tmp_path):
    """The root conftest's hook, run on two notebooks that each write a checkpoint."""
    folder = tmp_path / "solutions"
    folder.mkdir()
    probe = nbformat.v4.new_notebook()
    probe.cells = [nbformat.v4.new_code_cell(
        "import os, pathlib\n"
        "here = pathlib.Path(os.environ['MBL_SEG_CHECKPOINTS'])\n"
        "assert here.is_dir() and not any(here.iterdir()), sorted(here.iterdir())\n"
        "(here / 'trained.pt').write_text('weights')")]
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(probe, str(folder / name))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider",
         "--nbval-lax", "--nbval-current-env", "--rootdir", str(tmp_path), str(folder)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MBL_SEG_CHECKPOINTS": str(tmp_path / "x")})
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout[-3000:]
    assert not (tmp_path / "x").exists(), "the folder the caller had set was used"
