"""Exercise notebooks generated from solution notebooks, and headless runs.

One source of truth per lesson: the executed solution notebook
``solutions/NN_name.ipynb``; ``mbl-seg exercises`` (:func:`generate_exercises`)
makes its exercise twin ``notebooks/NN_name.ipynb``.

Format of a solution notebook
-----------------------------
Allowed cell tags (:data:`KNOWN_TAGS`): ``solution``, ``solution-only`` and
nbval's ``nbval-ignore-output``, ``nbval-check-output``, ``nbval-skip``,
``raises-exception``, ``nbval-raises-exception``, and ``failure-on-purpose`` (a cell
whose ❌ is the lesson: the test suite lets its output show a failed check). Any other tag (``tas``,
``soluton``) is an error, so that a typo cannot leak an answer.

A code cell tagged ``solution`` holds one or more blocks, the markers indented
like the code they wrap; ``BEGIN`` may carry a hint::

    def joint_probabilities(table):
        # BEGIN SOLUTION: compute p_ij = n_ij / n
        return table / table.sum()
        # END SOLUTION

In the exercise each block becomes, at the marker's indentation::

        # TODO: compute p_ij = n_ij / n
        raise NotImplementedError("fill in the TODO above: compute p_ij = n_ij / n")

(``your code here`` without a hint). A block with an ``# ELSE EXERCISE`` line
brings its own exercise version: the lines after it, commented out so that
they do not run in the solution, lose their first ``# `` in the exercise::

    # BEGIN SOLUTION
    threshold = 0.5
    # ELSE EXERCISE
    # threshold = ...  # TODO: pick a threshold from the histogram
    # END SOLUTION

The markers stay in the solution (harmless comments). A ``solution`` cell
without a block, a marker outside one, nested, unbalanced or misspelt markers
are errors. A ``solution-only`` cell (markdown or code: an answer) is left out.

The exercise has no outputs or execution counts; cells keep their id and
their tags except ``solution``/``solution-only``, no other metadata; the
notebook keeps ``kernelspec`` and ``language_info``; a first markdown cell
says where it comes from. Regenerating gives byte-identical files.

Used in: ``mbl-seg exercises``, ``mbl-seg run``, tests and CI.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import warnings
from pathlib import Path

import nbformat

from .notebook_outputs import drop_progress_snapshots

__all__ = ["KNOWN_TAGS", "set_first_cell", "make_exercise", "exercise_path", "generate_exercises",
           "find_leaks", "execute_notebook", "list_notebooks"]

#: Every cell tag a solution notebook may use.
KNOWN_TAGS = frozenset({
    "solution", "solution-only", "nbval-ignore-output", "nbval-check-output", "nbval-skip",
    "raises-exception", "nbval-raises-exception", "failure-on-purpose",
})
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<hint>.*?))?[ \t]*$")
_ELSE = re.compile(r"^[ \t]*# ELSE EXERCISE[ \t]*$")
_END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
_NBVAL = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+[ \t]*$")
# Anything that looks like a marker but is not one exactly ("#BEGIN SOLUTION",
# "# END SOLUTON", "# begin solution") would otherwise be an ordinary comment.
_NEAR = re.compile(r"^\s*#+\s*((?i:(begin|else|end)\W*(solu|soln|exer))"
                   r"|(BEGIN|ELSE|END)\W*(SO|EX))")
_HEADER = (
    "**Exercise notebook** for `solutions/{name}`. Your work here is safe: once you edit "
    "this notebook, `mbl-seg exercises` no longer replaces it (it keeps yours and says so).\n\n"
    "**How to work through this notebook:** run the cells from top to bottom; at each `TODO`, "
    "replace the `raise NotImplementedError(...)` with your code, then run the self-check cell "
    "after it, which says ✅ or gives you a hint. Worked answers: `solutions/{name}`."
)


def _blocks(lines: list[str], where: str) -> list[tuple[int, int | None, int]]:
    """``(begin, else or None, end)`` line indices of the solution blocks."""
    blocks, begin, other = [], None, None
    for i, line in enumerate(lines):
        at = f"{where}, line {i + 1}"
        if _BEGIN.match(line):
            if begin is not None:
                raise ValueError(f"{at}: nested '# BEGIN SOLUTION' (line {begin + 1} is open)")
            begin, other = i, None
        elif _ELSE.match(line):
            if begin is None or other is not None:
                raise ValueError(f"{at}: '# ELSE EXERCISE' outside a block or twice in one")
            other = i
        elif _END.match(line):
            if begin is None:
                raise ValueError(f"{at}: '# END SOLUTION' without '# BEGIN SOLUTION'")
            blocks.append((begin, other, i))
            begin, other = None, None
        elif _NEAR.match(line):
            raise ValueError(f"{at}: malformed marker {line.strip()!r}; the markers are "
                             "'# BEGIN SOLUTION[: hint]', '# ELSE EXERCISE', '# END SOLUTION'")
        elif other is not None and line.strip() and not line.lstrip().startswith("#"):
            raise ValueError(f"{at}: lines after '# ELSE EXERCISE' must be commented out, "
                             f"or they run in the solution: {line.strip()!r}")
    if begin is not None:
        raise ValueError(f"{where}, line {begin + 1}: '# BEGIN SOLUTION' is never closed")
    return blocks


def _uncomment(line: str) -> str:
    """Remove the first ``# `` (or ``#``) after the indentation."""
    return re.sub(r"^([ \t]*)# ?", r"\1", line, count=1)


def _exercise_source(source: str, where: str) -> str:
    """The source of a ``solution`` cell with every block replaced."""
    lines = source.splitlines()
    out, cursor = [], 0
    for begin, other, end in _blocks(lines, where):
        out += lines[cursor:begin]
        if other is not None:
            out += [_uncomment(line) for line in lines[other + 1:end]]
        else:
            marker = _BEGIN.match(lines[begin])
            indent, hint = marker["indent"], marker["hint"] or "your code here"
            message = json.dumps(f"fill in the TODO above: {hint}", ensure_ascii=False)
            out += [f"{indent}# TODO: {hint}", f"{indent}raise NotImplementedError({message})"]
        cursor = end + 1
    text = "\n".join(out + lines[cursor:])
    return text + "\n" if source.endswith("\n") else text


def _checked_tags(cell: nbformat.NotebookNode, where: str) -> list[str]:
    """The cell's tags, after checking them and its solution markers."""
    tags = list(cell.get("metadata", {}).get("tags", []))
    unknown = [tag for tag in tags if tag not in KNOWN_TAGS]
    if unknown:
        raise ValueError(f"{where}: unknown tag(s) {unknown}; known tags: {sorted(KNOWN_TAGS)}")
    if cell.cell_type != "code":
        if "solution" in tags:
            raise ValueError(f"{where}: a {cell.cell_type} cell cannot be tagged 'solution'; "
                             "tag an answer 'solution-only' to leave it out of the exercise")
        return tags
    blocks = _blocks(cell.source.splitlines(), where)
    if "solution" in tags and not blocks:
        raise ValueError(f"{where}: tagged 'solution' but has no '# BEGIN SOLUTION' block")
    if blocks and "solution" not in tags:
        raise ValueError(f"{where}: has a '# BEGIN SOLUTION' block but is not tagged 'solution'")
    return tags


def _exercise_cell(cell: nbformat.NotebookNode, tags: list[str], where: str,
                   cell_id: str) -> nbformat.NotebookNode:
    """A clean copy of one cell: no outputs, only its remaining tags as metadata."""
    source = _exercise_source(cell.source, where) if "solution" in tags else cell.source
    if cell.cell_type == "code":  # nbval's markers are for CI, not for students
        source = "\n".join(line for line in source.split("\n") if not _NBVAL.match(line))
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
            "raw": nbformat.v4.new_raw_cell}[cell.cell_type]
    new = make(source)
    new["id"] = cell_id
    kept = [tag for tag in tags if tag not in ("solution", "solution-only")]
    if kept:
        new.metadata["tags"] = kept
    if "attachments" in cell:  # images pasted into markdown
        new["attachments"] = cell["attachments"]
    return new


def make_exercise(solution_nb: nbformat.NotebookNode, *,
                  source_name: str) -> nbformat.NotebookNode:
    """The exercise version of a solution notebook.

    Parameters
    ----------
    solution_nb : NotebookNode
        A solution notebook (nbformat 4) in the format of this module.
    source_name : str
        Its file name, e.g. ``"03_affinities.ipynb"``: named in the exercise's
        first cell and in error messages.

    Returns
    -------
    NotebookNode
        The exercise notebook: answers replaced by TODOs, ``solution-only``
        cells left out, outputs cleared. ``solution_nb`` is not changed.

    Raises
    ------
    ValueError
        On an unknown tag or malformed solution markers, naming the cell.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> cell = new_code_cell("# BEGIN SOLUTION: set x\\nx = 1\\n# END SOLUTION")
    >>> cell.metadata["tags"] = ["solution"]
    >>> exercise = make_exercise(new_notebook(cells=[cell]), source_name="00_demo.ipynb")
    >>> print(exercise.cells[1].source)
    # TODO: set x
    raise NotImplementedError("fill in the TODO above: set x")
    """
    header = nbformat.v4.new_markdown_cell(_HEADER.format(name=Path(source_name).name))
    header["id"] = "exercise-header"
    cells = [header]
    for index, cell in enumerate(solution_nb.cells):
        where = f"{source_name}, cell {index}"
        tags = _checked_tags(cell, where)
        if "solution-only" not in tags:
            cells.append(_exercise_cell(cell, tags, where, cell.get("id") or f"cell-{index}"))
    exercise = nbformat.v4.new_notebook(cells=cells)
    for key in ("kernelspec", "language_info"):
        if key in solution_nb.metadata:
            exercise.metadata[key] = solution_nb.metadata[key]
    exercise.metadata["mbl_seg"] = {"generated": _sources_hash(exercise)}
    nbformat.validate(exercise)
    return exercise


def _sources_hash(nb: nbformat.NotebookNode) -> str:
    """A hash of the cells' types and sources: what a student's edits change (not outputs)."""
    text = json.dumps([(c.cell_type, c.source) for c in nb.cells])
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _edited(path: Path) -> bool:
    """Whether the exercise at ``path`` was changed since it was generated."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: someone's file, keep it
        return True
    marker = nb.metadata.get("mbl_seg", {}).get("generated")
    return marker != _sources_hash(nb)


def list_notebooks(directory: str | Path) -> list[Path]:
    """The ``.ipynb`` files of ``directory``, sorted by name.

    Examples
    --------
    >>> list_notebooks("no/such/folder")
    []
    """
    return sorted(Path(directory).glob("*.ipynb"))


def exercise_path(solution_path: str | Path) -> Path:
    """Where the exercise twin of a solution notebook lives.

    Examples
    --------
    >>> exercise_path("course/solutions/03_affinities.ipynb").as_posix()
    'course/notebooks/03_affinities.ipynb'
    """
    solution_path = Path(solution_path)
    return solution_path.parent.parent / "notebooks" / solution_path.name


def _render(nb: nbformat.NotebookNode) -> str:
    """The exact text ``nbformat.write`` puts in a file."""
    buffer = io.StringIO()
    nbformat.write(nb, buffer, version=4)
    return buffer.getvalue()


def generate_exercises(solutions_dir: str | Path = "solutions",
                       exercises_dir: str | Path = "notebooks", *,
                       check: bool = False, force: bool = False) -> list[Path]:
    """Write the exercise twin of every solution notebook, keeping students' edits.

    An exercise notebook whose cells were edited since it was generated (a
    student's work) is not replaced: it is kept, with a warning naming it,
    unless ``force=True``. Outputs do not count as edits.

    Parameters
    ----------
    solutions_dir, exercises_dir : str or Path
        Where the solution notebooks are, and where their exercise twins go
        (same file names).
    check : bool
        If True, write nothing and report the stale exercises instead.
    force : bool
        Also replace exercise notebooks that were edited.

    Returns
    -------
    list of Path
        The exercise notebooks written (or already up to date; kept edited ones
        are left out), or with ``check=True`` those that are missing or differ
        from what would be generated (empty: up to date).

    Raises
    ------
    ValueError
        If any solution notebook is malformed; then nothing is written.
    """
    rendered = {}
    for solution in list_notebooks(solutions_dir):
        exercise = make_exercise(nbformat.read(solution, as_version=4), source_name=solution.name)
        rendered[Path(exercises_dir) / solution.name] = _render(exercise)
    if check:
        return [path for path, text in rendered.items()
                if not path.is_file() or path.read_text(encoding="utf-8") != text]
    written = []
    for path, text in rendered.items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            written.append(path)  # already up to date
            continue
        if path.is_file() and not force and _edited(path):
            warnings.warn(f"kept {path}: it was edited since it was generated (your work); "
                          "run `mbl-seg exercises --force` to replace it", stacklevel=2)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def set_first_cell(path: str | Path, source: str) -> bool:
    """Make ``source`` the first code cell of the notebook ``path``; True if it changed.

    The cell is recognised by its first line (a comment): an older version of it is
    replaced, else a new cell goes before the first code cell. Nothing else in the
    notebook changes. Used for the hosted-runtime cell (:func:`mbl_seg.hosted.first_cell_source`).
    """
    if not isinstance(source, str):
        raise TypeError(f"the first cell's source must be a str, got {type(source).__name__}")
    if not source.startswith("# "):
        raise ValueError("the first cell's source must start with a '# ' comment line that "
                         f"names it, got {str(source)[:40]!r}")
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first is not None and first.source.splitlines()[:1] == source.splitlines()[:1]:
        if first.source == source:
            return False
        first.source = source
    else:
        at = nb.cells.index(first) if first is not None else len(nb.cells)
        nb.cells.insert(at, nbformat.v4.new_code_cell(source))
    path.write_text(_render(nb), encoding="utf-8")
    return True


def _code_lines(nb: nbformat.NotebookNode) -> tuple[set[str], set[str]]:
    """Stripped code lines inside solution blocks, and those outside any block."""
    inside, outside = set(), set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        spans = {i for begin, _, end in _blocks(lines, f"cell {index}")
                 for i in range(begin, end + 1)}
        for i, line in enumerate(lines):
            text = line.strip()
            if text and not text.startswith("#"):
                (inside if i in spans else outside).add(text)
    return inside, outside


def find_leaks(solution_nb: nbformat.NotebookNode,
               exercise_nb: nbformat.NotebookNode) -> list[str]:
    """Lines of the answers that appear in an exercise notebook.

    Parameters
    ----------
    solution_nb, exercise_nb : NotebookNode
        A solution notebook and its exercise.

    Returns
    -------
    list of str
        Sorted stripped lines that are in a solution block (not blank, not a
        comment), not anywhere else in the solution, and in some cell of the
        exercise. Empty for a generated exercise.
    """
    inside, outside = _code_lines(solution_nb)
    shown = {line.strip() for cell in exercise_nb.cells for line in cell.source.splitlines()}
    return sorted((inside - outside) & shown)


def _client(nb: nbformat.NotebookNode, folder: Path, *, kernel_name: str, timeout: int,
            running: dict, bar):
    """An nbclient client that notes the running cell in ``running`` and advances ``bar``."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    km = None
    if kernel_name == "python3":
        # With no kernel directories, "python3" is ipykernel's own spec for
        # sys.executable: a user's python3 kernelspec cannot point elsewhere.
        km = AsyncKernelManager(kernel_name=kernel_name,
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    return NotebookClient(
        nb, km=km, kernel_name=kernel_name, timeout=timeout, record_timing=False,
        resources={"metadata": {"path": str(folder)}},
        on_cell_execute=lambda cell_index, **_: running.update(cell=cell_index),
        on_cell_executed=lambda **_: bar.update(1))


def _failure(path: Path, nb: nbformat.NotebookNode, index: int | None, err: Exception) -> str:
    """A readable message for a notebook that stopped at cell ``index``."""
    first = nb.cells[index].source.strip().splitlines()[0] if index is not None else "?"
    details = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # drop ANSI colours
    return f"{path}: cell {index} ({first!r}) failed:\n{details}"


def execute_notebook(path: str | Path, *, output: str | Path | None = None,
                     mode: str | None = None, timeout: int = 600, kernel_name: str = "python3",
                     progress: bool = True) -> nbformat.NotebookNode:
    """Run a notebook headless, from its own folder, and save the result.

    Parameters
    ----------
    path : str or Path
        The notebook to run.
    output : str or Path, optional
        Where to write the executed notebook if every cell ran (default: ``path``).
    mode : {"fast", "full"}, optional
        ``$MBL_SEG_MODE`` for the kernel (default: inherited).
    timeout : int
        Seconds allowed per cell.
    kernel_name : str
        ``"python3"``: this Python (``sys.executable``), so that notebooks run in
        the installed environment; ``""``: the notebook's own kernelspec.
    progress : bool
        Show a progress bar over the code cells (on stderr).

    Returns
    -------
    NotebookNode
        The executed notebook.

    Raises
    ------
    RuntimeError
        If a cell fails or times out, or the kernel dies: names the cell.
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" and bool(c.source.strip()) for c in nb.cells)
    # The kernel gets its own environment: this process's os.environ is not changed.
    env = {**os.environ, **({"MBL_SEG_MODE": mode} if mode is not None else {})}
    running = {"cell": None}
    with tqdm(total=n_code, desc=path.name, unit="cell", disable=not progress) as bar:
        client = _client(nb, path.resolve().parent, kernel_name=kernel_name, timeout=timeout,
                         running=running, bar=bar)
        try:
            # The kernel process's own stderr carries only start-up chatter (a
            # warning about local TCP); what cells print comes back over iopub.
            client.execute(env=env, cleanup_kc=True, stderr=subprocess.DEVNULL)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            raise RuntimeError(_failure(path, nb, running["cell"], err)) from None
    drop_progress_snapshots(nb)  # a saved progress bar shows "0/150" in a static copy
    nbformat.write(nb, str(output if output is not None else path), version=4)
    return nb
