"""Tests of mbl_seg.notebooks: exercises generated from solutions, headless runs."""

import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mbl_seg import notebooks as nbs

FUNCTION_CELL = '''def add(a, b):
    """Add two numbers."""
    # BEGIN SOLUTION: return the sum of a and b
    total = a + b
    return total
    # END SOLUTION
'''
TOP_LEVEL_CELL = """import math
# BEGIN SOLUTION
root = math.sqrt(2)
# END SOLUTION
print(root)"""
ELSE_CELL = """for scale in (1, 2):
    # BEGIN SOLUTION
    threshold = 0.5 * scale
    # ELSE EXERCISE
    # threshold = ...  # TODO: pick a threshold
    # END SOLUTION
    print(threshold)"""


def cell(source, *tags, kind="code"):
    c = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    if tags:
        c.metadata["tags"] = list(tags)
    return c


def solution_nb():
    nb = new_notebook(cells=[
        cell("# Lesson", kind="markdown"),
        cell(FUNCTION_CELL, "solution"),
        cell("print(add(1, 2))", "nbval-ignore-output"),
        cell(TOP_LEVEL_CELL, "solution"),
        cell(ELSE_CELL, "solution"),
        cell("**Answer:** because.", "solution-only", kind="markdown"),
        cell("print('solution only')", "solution-only"),
    ])
    for i, c in enumerate(nb.cells):
        c["id"] = f"sol-{i}"
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="3\n")]
    nb.cells[2].execution_count = 7
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def exercise_of(nb):
    return nbs.make_exercise(nb, source_name="01_test.ipynb")


def test_block_in_function_becomes_indented_todo_that_raises():
    source = exercise_of(solution_nb()).cells[2].source
    assert source == ('def add(a, b):\n    """Add two numbers."""\n'
                      "    # TODO: return the sum of a and b\n"
                      '    raise NotImplementedError("fill in the TODO above: '
                      'return the sum of a and b")\n')
    namespace = {}
    exec(source, namespace)
    with pytest.raises(NotImplementedError, match="return the sum"):
        namespace["add"](1, 2)


def test_top_level_block_without_hint():
    source = exercise_of(solution_nb()).cells[4].source
    assert source.splitlines() == [
        "import math",
        "# TODO: your code here",
        'raise NotImplementedError("fill in the TODO above: your code here")',
        "print(root)",
    ]
    with pytest.raises(NotImplementedError):
        exec(source, {})


def test_else_exercise_variant_is_uncommented_at_its_indentation():
    source = exercise_of(solution_nb()).cells[5].source
    assert source == ("for scale in (1, 2):\n"
                      "    threshold = ...  # TODO: pick a threshold\n"
                      "    print(threshold)")
    exec(source, {})  # valid Python: `...` is a value
    exec(ELSE_CELL, {})  # and the solution still runs with its markers


def test_solution_only_dropped_outputs_cleared_metadata_minimal():
    sol = solution_nb()
    ex = exercise_of(sol)
    sources = [c.source for c in ex.cells]
    assert len(ex.cells) == len(sol.cells) - 2 + 1  # two dropped, one header
    assert not any("Answer" in s or "solution only" in s for s in sources)
    assert "solutions/01_test.ipynb" in sources[0] and "mbl-seg exercises" in sources[0]
    assert "TODO" in sources[0]
    code = [c for c in ex.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert ex.cells[3].metadata == {"tags": ["nbval-ignore-output"]}
    assert ex.cells[2].metadata == {}  # 'solution' tag removed
    assert [c.id for c in ex.cells] == ["exercise-header", "sol-0", "sol-1", "sol-2",
                                        "sol-3", "sol-4"]
    assert ex.metadata["kernelspec"]["name"] == "python3"
    assert sol.cells[1].source == FUNCTION_CELL  # the solution is not changed


@pytest.mark.parametrize("tag", ["tas", "soluton", "Solution"])
def test_unknown_tag_is_an_error_naming_cell_and_tag(tag):
    nb = solution_nb()
    nb.cells[3].metadata["tags"] = [tag]
    with pytest.raises(ValueError, match=rf"01_test.ipynb, cell 3: unknown tag.*'{tag}'.*"
                                         r"known tags: \[.*'nbval-check-output'"):
        exercise_of(nb)


@pytest.mark.parametrize(
    "source, tags, match",
    [
        ("x = 1", ["solution"], "cell 0: tagged 'solution' but has no"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", [], "cell 0: has a .* not tagged"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", ["solution-only"], "not tagged"),
        ("# BEGIN SOLUTION\nx = 1", ["solution"], "line 1: .* never closed"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", ["solution"], "line 2: nested"),
        ("x = 1\n# END SOLUTION", ["solution"], "line 2: .* without"),
        ("# ELSE EXERCISE\n# END SOLUTION", ["solution"], "outside a block"),
        ("# BEGIN SOLUTON\nx = 1\n# END SOLUTION", ["solution"], "malformed marker"),
        ("#BEGIN SOLUTION\nx = 1\n# END SOLUTION", ["solution"], "malformed marker"),
        ("# BEGIN SOLUTION\nx = 1\n# ELSE EXERCISE\nx = 2\n# END SOLUTION", ["solution"],
         "must be commented out"),
    ],
)
def test_malformed_blocks_are_errors(source, tags, match):
    nb = new_notebook(cells=[cell(source, *tags)])
    with pytest.raises(ValueError, match=match):
        exercise_of(nb)


def test_markdown_cell_tagged_solution_is_an_error():
    nb = new_notebook(cells=[cell("The answer is 42.", "solution", kind="markdown")])
    with pytest.raises(ValueError, match="solution-only"):
        exercise_of(nb)


def test_find_leaks_empty_for_generated_and_finds_pasted_answer():
    nb = solution_nb()
    ex = exercise_of(nb)
    assert nbs.find_leaks(nb, ex) == []
    ex.cells.append(new_code_cell("    total = a + b"))
    assert nbs.find_leaks(nb, ex) == ["total = a + b"]


def test_find_leaks_ignores_lines_also_outside_blocks():
    source = "x = 1\n# BEGIN SOLUTION\nx = 1\ny = 2\n# END SOLUTION"
    nb = new_notebook(cells=[cell(source, "solution")])
    assert nbs.find_leaks(nb, new_notebook(cells=[new_code_cell("x = 1\ny = 2")])) == ["y = 2"]


def test_generate_is_byte_identical_and_check_reports_stale(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(solution_nb(), str(sol / "01_test.ipynb"))
    target = ex / "01_test.ipynb"
    assert nbs.generate_exercises(sol, ex, check=True) == [target]  # missing
    assert not ex.exists()  # check mode writes nothing
    assert nbs.generate_exercises(sol, ex) == [target]
    first = target.read_bytes()
    assert nbs.generate_exercises(sol, ex) == [target]
    assert target.read_bytes() == first
    assert nbs.generate_exercises(sol, ex, check=True) == []
    assert nbformat.read(str(target), as_version=4).cells[2].source.count("# TODO:") == 1
    target.write_text(first.decode().replace("TODO", "DONE"))
    assert nbs.generate_exercises(sol, ex, check=True) == [target]
    assert nbs.exercise_path(sol / "01_test.ipynb") == target
    assert nbs.list_notebooks(sol) == [sol / "01_test.ipynb"]


def test_generate_writes_nothing_if_any_solution_is_malformed(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(solution_nb(), str(sol / "01_good.ipynb"))
    bad = new_notebook(cells=[cell("x = 1", "tas")])
    nbformat.write(bad, str(sol / "02_bad.ipynb"))
    with pytest.raises(ValueError, match="02_bad.ipynb, cell 0: unknown tag"):
        nbs.generate_exercises(sol, ex)
    assert not ex.exists()


@pytest.fixture(scope="module")
def kernel_name():
    """The kernel that runs notebooks in this very environment."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if "python3" in specs:  # ipykernel's native kernel; execute_notebook pins it here
        return "python3"
    manager = KernelSpecManager()
    for name in specs:
        if manager.get_kernel_spec(name).argv[0] == sys.executable:
            return name
    pytest.skip("no Jupyter kernel for this Python (is ipykernel installed?)")


def test_execute_notebook_captures_output_mode_and_folder(tmp_path, kernel_name):
    nb = new_notebook(cells=[
        new_code_cell("import os, sys\nprint('mode is', os.environ.get('MBL_SEG_MODE'))"),
        new_markdown_cell("text"),
        new_code_cell("print(sys.executable)\nprint(os.getcwd())"),
    ])
    folder = tmp_path / "lesson"
    folder.mkdir()
    path = folder / "tiny.ipynb"
    nbformat.write(nb, str(path))
    before = path.read_bytes()
    out = nbs.execute_notebook(path, output=tmp_path / "ran.ipynb", mode="full",
                               kernel_name=kernel_name, progress=False)
    assert out.cells[0].outputs[0]["text"] == "mode is full\n"
    executable, cwd = out.cells[2].outputs[0]["text"].splitlines()
    assert executable == sys.executable  # the notebook ran in the installed environment
    assert cwd == str(folder.resolve())
    assert nbformat.read(str(tmp_path / "ran.ipynb"), as_version=4).cells[2].outputs
    assert path.read_bytes() == before  # the input is left alone


def test_execute_notebook_failure_names_the_cell_and_writes_nothing(tmp_path, kernel_name):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_markdown_cell("next"),
                             new_code_cell("y = x / 0\nprint(y)")])
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, str(path))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match=r"bad.ipynb: cell 2 \('y = x / 0'\) failed"
                                           r"(.|\n)*ZeroDivisionError"):
        nbs.execute_notebook(path, kernel_name=kernel_name, progress=False)
    assert path.read_bytes() == before


def test_an_edited_exercise_is_kept_unless_forced(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(solution_nb(), str(sol / "01_test.ipynb"))
    target = ex / "01_test.ipynb"
    nbs.generate_exercises(sol, ex)
    # running the notebook (outputs, execution counts) is not an edit
    ran = nbformat.read(str(target), as_version=4)
    for c in ran.cells:
        if c.cell_type == "code":
            c.outputs = [nbformat.v4.new_output("stream", text="hi\n")]
    nbformat.write(ran, str(target))
    changed = solution_nb()
    changed.cells.append(nbformat.v4.new_markdown_cell("a new paragraph"))
    nbformat.write(changed, str(sol / "01_test.ipynb"))
    assert nbs.generate_exercises(sol, ex) == [target]  # unedited: regenerated
    assert "a new paragraph" in target.read_text()
    # a student's answer is kept, with a warning naming the file
    work = nbformat.read(str(target), as_version=4)
    work.cells[2].source = "x = 'my answer'"
    nbformat.write(work, str(target))
    mine = target.read_bytes()
    with pytest.warns(UserWarning, match="kept .*01_test.ipynb.*--force"):
        assert nbs.generate_exercises(sol, ex) == []
    assert target.read_bytes() == mine
    assert nbs.generate_exercises(sol, ex, force=True) == [target]
    assert "my answer" not in target.read_text()


def test_nbval_markers_do_not_show_in_student_cells():
    marked = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    ignored = new_code_cell("x = 2  # NBVAL_IGNORE_OUTPUT stays: not a marker line\n# NBVAL_SKIP")
    exercise = nbs.make_exercise(new_notebook(cells=[marked, ignored]), source_name="01_t.ipynb")
    assert [c.source for c in exercise.cells[1:]] == [
        "print(1)", "x = 2  # NBVAL_IGNORE_OUTPUT stays: not a marker line"]


def test_the_first_cell_goes_before_the_first_code_cell_and_is_replaced_not_doubled(tmp_path):
    path = tmp_path / "nb.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(path))
    assert nbs.set_first_cell(path, "# install\nprint(1)") is True
    assert nbs.set_first_cell(path, "# install\nprint(1)") is False  # already there
    assert nbs.set_first_cell(path, "# install\nprint(2)") is True  # a new version
    cells = nbformat.read(str(path), as_version=4).cells
    assert [c.source for c in cells] == ["# title", "# install\nprint(2)", "x = 1"]
    with pytest.raises(ValueError, match="comment line"):
        nbs.set_first_cell(path, "print(3)")
    with pytest.raises(TypeError, match="must be a str, got NoneType"):
        nbs.set_first_cell(path, None)
