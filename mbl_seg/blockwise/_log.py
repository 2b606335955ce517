"""What a run did: its fragment-to-segment tables and which worker did which block when.

Kept in ``run.sqlite`` of the run directory, apart from the graph (``graph.sqlite``,
:class:`mbl_seg.graphdb.GraphDB`): the graph is the data, this is the run's record.
"""

from __future__ import annotations

import time
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..graphdb import fetch_columns, sqlite_session

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lookup (
    name TEXT NOT NULL, fragment INTEGER NOT NULL, segment INTEGER NOT NULL,
    PRIMARY KEY (name, fragment));
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, note TEXT);
CREATE TABLE IF NOT EXISTS blocks (
    run INTEGER NOT NULL, task TEXT NOT NULL, block INTEGER NOT NULL, worker INTEGER NOT NULL,
    pid INTEGER NOT NULL, start REAL NOT NULL, stop REAL NOT NULL, voxels INTEGER NOT NULL,
    memory INTEGER NOT NULL DEFAULT 0, rss INTEGER NOT NULL DEFAULT 0);
"""


class BlockRecord(NamedTuple):
    """Which worker did one block of one task, when (seconds since the epoch), on how many voxels.

    ``memory``: bytes the block's work held at its peak (numpy arrays and Python objects,
    by tracemalloc), for the agglomeration steps of a run with ``measure_memory=True``;
    0 otherwise. ``rss``: the peak resident memory of the worker process that did the
    block, in bytes, as the block ended (Linux's ``VmHWM``: everything the process ever
    held, torch and the network included; 0 where it cannot be read).
    """

    run: int
    task: str
    block: int
    worker: int
    pid: int
    start: float
    stop: float
    voxels: int
    memory: int = 0
    rss: int = 0


class RunLog:
    """The record of the runs in one directory, in the SQLite file ``path`` (made if missing).

    >>> import os, tempfile
    >>> log = RunLog(os.path.join(tempfile.mkdtemp(), "run.sqlite"))
    >>> log.write_lookup("mean_0.5", np.array([3, 1]), np.array([1, 1]))
    >>> [a.tolist() for a in log.read_lookup("mean_0.5")]
    [[1, 3], [1, 1]]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite_session(self.path) as db:
            db.executescript(_SCHEMA)
            columns = [row[1] for row in db.execute("PRAGMA table_info(blocks)")]
            for column in ("memory", "rss"):  # a run directory made before the column existed
                if column not in columns:
                    db.execute(f"ALTER TABLE blocks ADD COLUMN {column} INTEGER NOT NULL "
                               "DEFAULT 0")

    def __repr__(self) -> str:
        return f"RunLog({str(self.path)!r})"

    def __reduce__(self):
        return (RunLog, (str(self.path),))

    def write_lookup(self, name: str, fragments: np.ndarray, segments: np.ndarray) -> None:
        """Store (replace) the fragment-to-segment table ``name``."""
        fragments, segments = np.asarray(fragments), np.asarray(segments)
        if fragments.shape != segments.shape or fragments.ndim != 1:
            raise ValueError(f"fragments and segments must be two 1D arrays of one length, got "
                             f"shapes {fragments.shape} and {segments.shape}")
        def rows():  # a chunk at a time: a table of every fragment is never Python objects
            for start in range(0, len(fragments), 1 << 16):
                part = slice(start, start + (1 << 16))
                yield from zip(repeat(name), fragments[part].tolist(), segments[part].tolist())

        with sqlite_session(self.path) as db:
            db.execute("DELETE FROM lookup WHERE name = ?", (name,))
            db.executemany("INSERT INTO lookup VALUES (?, ?, ?)", rows())

    def read_lookup(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The table ``name`` as (fragments sorted, segments), uint64; KeyError if there is none."""
        with sqlite_session(self.path) as db:
            fragments, segments = fetch_columns(db.execute(
                "SELECT fragment, segment FROM lookup WHERE name = ? ORDER BY fragment",
                (name,)), (np.uint64, np.uint64))
        if not len(fragments):
            raise KeyError(f"no lookup table {name!r} in {self.path}: run the agglomeration first")
        return fragments, segments

    def start_run(self, note: str = "") -> int:
        """A new run number (block records carry it)."""
        with sqlite_session(self.path) as db:
            return int(db.execute("INSERT INTO runs (started, note) VALUES (?, ?)",
                                  (time.time(), note)).lastrowid)

    def log_block(self, record: BlockRecord) -> None:
        with sqlite_session(self.path) as db:
            db.execute("INSERT INTO blocks (run, task, block, worker, pid, start, stop, voxels, "
                       "memory, rss) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(record))

    def block_log(self, run: int | None = None, task: str | None = None) -> list[BlockRecord]:
        """Block records, of one run and/or one task if given, in the order they finished."""
        query, args = ("SELECT run, task, block, worker, pid, start, stop, voxels, memory, "
                       "rss FROM blocks"), []
        where = [(c, a) for c, a in (("run", run), ("task", task)) if a is not None]
        if where:
            query += " WHERE " + " AND ".join(f"{c} = ?" for c, _ in where)
            args = [a for _, a in where]
        with sqlite_session(self.path) as db:
            return [BlockRecord(*r) for r in db.execute(query + " ORDER BY stop", args)]

    def runs(self) -> list[int]:
        with sqlite_session(self.path) as db:
            return [r for (r,) in db.execute("SELECT run FROM runs ORDER BY run")]

