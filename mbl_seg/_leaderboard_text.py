"""The course's final tables as text: markdown, and README's copies between markers.

:mod:`mbl_seg.leaderboard` computes the rows; this module writes them as a
markdown table, puts that between two marker lines of a file (README.md) and
reads it back, so that a notebook can check that README's table is the one its
cells compute.

Used in: :mod:`mbl_seg.leaderboard` (which re-exports every name), ``mbl-seg leaderboard``,
notebooks/07_agglomeration.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["Row", "HEADER", "START", "END", "TABLE_NAMES", "markers", "markdown", "machine_note",
           "replace_block", "update_readme", "read_table", "readme_rows", "largest_difference"]

START, END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"
HEADER = ("method", "segmentation", "VOI split", "VOI merge", "VOI total", "ARAND",
          "time (s)")
TABLE_NAMES = ("fly", "zebrafish", "fibsem")  # the tables of mbl_seg.leaderboard.TABLES


class Row(NamedTuple):
    """One line of the table: VOI split and merge in bits, ARAND in [0, 1], wall time in s."""

    method: str
    segmentation: str
    voi_split: float
    voi_merge: float
    arand: float
    seconds: float

    @property
    def voi_total(self) -> float:
        """VOI split + VOI merge (bits)."""
        return self.voi_split + self.voi_merge



def machine_note(device: str | None = None) -> str:
    """One line for under the table: where the times were measured, and that they vary."""
    import torch

    from .env import select_device

    device = select_device(device)
    where = (f"{platform.machine()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} "
             "torch threads")
    if device != "cpu":
        where = f"{device}, {where}"
    return (f"Times: prediction + segmentation of the test volume on {where} (made by "
            "`mbl-seg leaderboard`); they vary from machine to machine and run to run.")


def markdown(rows: Sequence[Row], *, note: str | None = None) -> str:
    """The rows as a markdown table (3 decimals, times to 0.1 s), with ``note`` under it.

    >>> print(markdown([Row("3D U-Net", "watershed", 1.25, 0.5, 0.3, 12.34)]))
    | method | segmentation | VOI split | VOI merge | VOI total | ARAND | time (s) |
    |---|---|--:|--:|--:|--:|--:|
    | 3D U-Net | watershed | 1.250 | 0.500 | 1.750 | 0.300 | 12.3 |
    """
    if isinstance(rows, Row) or not all(isinstance(r, Row) for r in rows):
        raise TypeError("rows must be a list of leaderboard.Row (as final_table returns)")
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        cells = [r.method, r.segmentation, f"{r.voi_split:.3f}", f"{r.voi_merge:.3f}",
                 f"{r.voi_total:.3f}", f"{r.arand:.3f}", f"{r.seconds:.1f}"]
        if any("|" in c for c in cells[:2]):
            raise ValueError(f"a method or segmentation name holds a '|': {cells[:2]}")
        lines.append("| " + " | ".join(cells) + " |")
    if note:
        lines += ["", note.strip()]
    return "\n".join(lines)


def markers(table: str = "fly") -> tuple[str, str]:
    """The two lines around a table of ``leaderboard.TABLES`` in a markdown file (README.md).

    >>> markers("zebrafish")
    ('<!-- leaderboard zebrafish:start -->', '<!-- leaderboard zebrafish:end -->')
    """
    if table not in TABLE_NAMES:
        raise ValueError(f"table must be one of {list(TABLE_NAMES)}, got {table!r}")
    if table == "fly":
        return START, END
    return f"<!-- leaderboard {table}:start -->", f"<!-- leaderboard {table}:end -->"


def _block_span(text: str, table: str = "fly") -> tuple[int, int]:
    """Where the text between the two markers starts and ends; ValueError if not once each."""
    start, end = markers(table)
    counts = text.count(start), text.count(end)
    if counts != (1, 1) or text.index(start) > text.index(end):
        raise ValueError(f"the text must hold the markers {start} and {end} once each, in that "
                         f"order (found {counts[0]} and {counts[1]}); add them where the table "
                         "should go")
    return text.index(start) + len(start), text.index(end)


def replace_block(text: str, block: str, *, table: str = "fly") -> str:
    """``text`` with what lies between the markers of ``table`` replaced by ``block``.

    Nothing outside the markers changes; the markers stay.

    >>> replace_block("a\\n<!-- leaderboard:start -->\\nold\\n<!-- leaderboard:end -->\\nb", "new")
    'a\\n<!-- leaderboard:start -->\\nnew\\n<!-- leaderboard:end -->\\nb'
    """
    if not isinstance(text, str) or not isinstance(block, str):
        raise TypeError("text and block must be str")
    start, end = _block_span(text, table)
    return text[:start] + "\n" + block.strip("\n") + "\n" + text[end:]


def update_readme(path: str | Path, block: str, *, table: str = "fly") -> Path:
    """Write ``block`` between the markers of ``table`` in the file ``path`` (e.g. README.md)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file {path} to put the table in")
    text = path.read_text(encoding="utf-8")
    try:
        new = replace_block(text, block, table=table)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    path.write_text(new, encoding="utf-8")
    return path


def read_table(text: str, *, table: str = "fly") -> list[Row]:
    """The rows of the table between the markers of ``text`` (e.g. README.md's), as Rows.

    The inverse of :func:`markdown` up to its rounding: compare a README with a
    fresh :func:`final_table` to see whether it is up to date.
    """
    start, end = _block_span(text, table)
    rows = []
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != len(HEADER) or tuple(cells) == HEADER or re.fullmatch(r"[-:]*", cells[2]):
            continue
        numbers = [float(c) for c in cells[2:]]
        rows.append(Row(cells[0], cells[1], numbers[0], numbers[1], numbers[3], numbers[4]))
    return rows


def readme_rows() -> list[Row] | None:
    """The table in the course repository's README.md, or None where there is none.

    None in an installed copy of the package (a hosted notebook runtime), where
    the README does not come along.
    """
    readme = Path(__file__).resolve().parents[1] / "README.md"
    if not readme.is_file():
        return None
    return read_table(readme.read_text(encoding="utf-8"))


def largest_difference(shown: Sequence[Row], rows: Sequence[Row]) -> float:
    """The largest difference of VOI split, VOI merge or ARAND between two tables.

    Both must list the same rows (method and segmentation) in the same order;
    run times are not compared.

    >>> a = Row("m", "watershed", 1.0, 0.5, 0.2, 3.0)
    >>> round(largest_difference([a], [a._replace(voi_merge=0.503, seconds=9.0)]), 6)
    0.003
    """
    names = [[(r.method, r.segmentation) for r in table] for table in (shown, rows)]
    if names[0] != names[1]:
        raise ValueError(f"the tables list different rows: {names[0]} against {names[1]}; "
                         "remake the README's with `mbl-seg leaderboard --readme README.md`")
    return max((abs(getattr(a, f) - getattr(b, f)) for a, b in zip(shown, rows)
                for f in ("voi_split", "voi_merge", "arand")), default=0.0)
