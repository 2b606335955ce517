"""Time every solution notebook, executed headless from scratch, against its budget.

Each notebook runs from a fresh temporary copy with an empty checkpoint folder
($MBL_SEG_CHECKPOINTS), as on a fresh clone: nothing from earlier runs or other
notebooks, so every network a notebook trains is trained. The course data are
made first and not timed. The mode is whatever `mbl_seg.env` picks on this
machine (fast on a CPU), unless given:

    python bench/bench_notebooks.py [--mode fast|full] [--markdown docs/instructors.md]
                                    [--in-place] [notebook names ...]

``--in-place`` also saves each executed notebook over the solution it was copied
from (the committed outputs then come from this cold run).

``--markdown FILE`` also writes the times as a table between the markers
``<!-- notebook-times:<mode>:start -->`` and ``<!-- notebook-times:<mode>:end -->``
of FILE (docs/instructors.md has one pair per mode), so the instructors' timetable
quotes measured times, not typed ones. With ``--merge`` the notebooks timed now replace
their rows and the other rows keep their earlier measurement (the note under the table
says which were measured when), e.g. after adding one notebook.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mbl_seg
from mbl_seg.data import prepare_datasets
from mbl_seg.notebooks import execute_notebook, list_notebooks

ROOT = Path(__file__).resolve().parents[1]
# fast-mode budgets on a 2-core CPU (seconds), from the issues that introduced the notebooks
BUDGETS = {"00": 60, "01": 120, "02": 240, "03": 240, "04": 240, "05": 360, "06": 360,
           "07": 300, "08": 300, "09": 300}


def markers(mode: str) -> tuple[str, str]:
    return f"<!-- notebook-times:{mode}:start -->", f"<!-- notebook-times:{mode}:end -->"


def times_table(times: list[tuple[str, float]], mode: str, machine: str) -> str:
    """The measured times as a markdown table, with the machine they were measured on.

    >>> print(times_table([("00_setup_and_data", 12.3), ("01_x", 75.0)], "fast", "2 CPUs"))
    | notebook | fast mode | budget |
    |---|--:|--:|
    | 00_setup_and_data | 12 s | 60 s |
    | 01_x | 1 min 15 s | 120 s |
    | **all** | **1 min 27 s** | |
    <BLANKLINE>
    Measured by `python bench/bench_notebooks.py --mode fast --markdown ...` on 2 CPUs.
    """
    def fmt(seconds: float) -> str:
        seconds = round(seconds)
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"

    lines = [f"| notebook | {mode} mode | budget |", "|---|--:|--:|"]
    for stem, seconds in times:
        budget = BUDGETS.get(stem[:2])
        lines.append(f"| {stem} | {fmt(seconds)} | "
                     f"{f'{budget} s' if budget and mode == 'fast' else ''} |")
    lines.append(f"| **all** | **{fmt(sum(s for _, s in times))}** | |")
    lines += ["", (f"Measured by `python bench/bench_notebooks.py --mode {mode} --markdown ...` "
                   f"on {machine}.")]
    return "\n".join(lines)


def parse_seconds(text: str) -> float:
    """``"2 min 18 s"`` -> 138.0, ``"7 s"`` -> 7.0 (the format of :func:`times_table`)."""
    minutes, _, rest = text.strip().rpartition(" min ")
    return 60.0 * int(minutes or 0) + float(rest.removesuffix(" s"))


def read_times(path: Path, mode: str) -> tuple[list[tuple[str, float]], str]:
    """The rows and the note under the table of ``mode`` in ``path`` (empty if none)."""
    start, end = markers(mode)
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return [], ""
    block = text.split(start)[1].split(end)[0]
    rows = [line.split("|")[1:3] for line in block.splitlines()
            if line.startswith("| ") and not line.startswith(("| notebook", "| **all"))]
    notes = [line for line in block.splitlines() if line.startswith("Measured by")]
    return [(name.strip(), parse_seconds(t)) for name, t in rows], (notes[0] if notes else "")


def merged(old: list[tuple[str, float]], new: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """``old`` with the rows of ``new`` replaced or added, in notebook order.

    >>> merged([("00_a", 5.0), ("02_c", 9.0)], [("01_b", 3.0), ("02_c", 8.0)])
    [('00_a', 5.0), ('01_b', 3.0), ('02_c', 8.0)]
    """
    rows = dict(old)
    rows.update(new)
    return sorted(rows.items())


def write_times(path: Path, block: str, mode: str) -> None:
    """Put ``block`` between the file's markers for ``mode`` (ValueError if they are missing)."""
    start, end = markers(mode)
    text = path.read_text(encoding="utf-8")
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"{path} must hold {start} and {end} once each, in that order")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    path.write_text(f"{head}{start}\n{block}\n{end}{tail}", encoding="utf-8")


def execute_cold(path: Path, *, mode: str | None = None, keep: bool = False) -> None:
    """Execute a fresh temporary copy of ``path`` with an empty checkpoint folder, as on a
    fresh clone; ``keep``: save the executed copy over ``path``."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copy(path, copy)
        (Path(folder) / "checkpoints").mkdir()
        os.environ["MBL_SEG_CHECKPOINTS"] = str(Path(folder) / "checkpoints")
        execute_notebook(copy, mode=mode, progress=False)
        if keep:
            shutil.copy(copy, path)


def machine(device: str) -> str:
    return (f"{os.cpu_count()} CPU cores ({platform.machine()}), device {device}, "
            f"{time.strftime('%Y-%m-%d')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="e.g. 02_deep_boundaries (default: all)")
    parser.add_argument("--mode", choices=("fast", "full"))
    parser.add_argument("--markdown", type=Path, help="write the times into this file's "
                        "notebook-times markers (e.g. docs/instructors.md)")
    parser.add_argument("--in-place", action="store_true",
                        help="save each executed notebook over its solution")
    parser.add_argument("--merge", action="store_true",
                        help="with --markdown: keep the rows of the notebooks not timed now")
    args = parser.parse_args()
    if args.markdown is not None and not args.markdown.is_file():
        parser.error(f"--markdown: no file {args.markdown}")
    prepare_datasets(progress=False)
    notebooks = [p for p in list_notebooks(ROOT / "solutions")
                 if not args.names or p.stem in args.names]
    cfg = mbl_seg.env.setup(mode=args.mode, verbose=False)
    print(f"mbl_seg {mbl_seg.__version__}, device {cfg.device}, mode {cfg.mode}")
    missed = 0
    times = []
    for path in notebooks:
        start = time.perf_counter()
        execute_cold(path, mode=cfg.mode, keep=args.in_place)
        seconds = time.perf_counter() - start
        budget = BUDGETS.get(path.stem[:2])
        verdict = "" if budget is None or cfg.mode != "fast" else (
            f"budget {budget} s: {'met' if seconds <= budget else 'MISSED'}")
        missed += bool(budget and cfg.mode == "fast" and seconds > budget)
        print(f"  {path.stem:<26} {seconds:6.1f} s   {verdict}", flush=True)
        times.append((path.stem, seconds))
    if args.markdown is not None:
        table = times_table(times, cfg.mode, machine(cfg.device))
        if args.merge:
            old, note = read_times(args.markdown, cfg.mode)
            now = ", ".join(stem for stem, _ in times)
            table = times_table(merged(old, times), cfg.mode, machine(cfg.device))
            table = table.rsplit("\n", 1)[0] + (f"\n{note.rstrip('.')}; {now} measured on "
                                                f"{machine(cfg.device)} (`--merge`).")
        write_times(args.markdown, table, cfg.mode)
        print(f"times written to {args.markdown}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
