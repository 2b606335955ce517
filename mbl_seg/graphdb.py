"""A region adjacency graph gathered block by block, in one SQLite file.

The block-wise pipeline (:mod:`mbl_seg.blockwise`) never holds the whole
volume, so the graph of its fragments is written piece by piece: every block
stores the sizes of its fragments and the contact statistics it counted
(each contact is counted by exactly one block), and
:meth:`GraphDB.region_graph` pools the pieces into the graph of the volume
(:func:`mbl_seg.rag.combine`). SQLite comes with Python, needs no server and
lets several worker processes of one machine write at once (each write is one
transaction); a block's rows are replaced as a whole, so a block that runs
twice (after an interruption) leaves the same rows as one that ran once.

The file must be on a disk of the machine whose processes write it: its
write-ahead log uses shared memory, which a network file system (NFS) does
not provide. Workers on several machines of a cluster need a database server
instead (MongoDB or PostgreSQL, as the field's large runs use).

What a run did with the graph (its fragment-to-segment tables, which worker did
which block when) is the run's business: :mod:`mbl_seg.blockwise` keeps it apart.

Used in: notebooks/08_scaling_up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._validate import as_number
from .rag import RegionGraph, combine

__all__ = ["GraphDB", "sqlite_session"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    block INTEGER NOT NULL, id INTEGER NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (block, id));
CREATE TABLE IF NOT EXISTS edges (
    block INTEGER NOT NULL, u INTEGER NOT NULL, v INTEGER NOT NULL,
    contacts INTEGER NOT NULL, affinity_sum REAL NOT NULL, histogram BLOB,
    PRIMARY KEY (block, u, v));
CREATE TABLE IF NOT EXISTS merge_scores (
    scoring TEXT NOT NULL, block INTEGER NOT NULL, u INTEGER NOT NULL, v INTEGER NOT NULL,
    score REAL NOT NULL, PRIMARY KEY (scoring, block, u, v));
"""

_INT64_MAX = np.iinfo(np.int64).max


@contextmanager
def sqlite_session(path: str | Path) -> Iterator[sqlite3.Connection]:
    """One transaction on a connection of its own to the SQLite file ``path``, then closed.

    Several worker processes write at once: each waits for the lock rather than fail, and
    readers go on while one writes (write-ahead log, which needs a local disk). Committed
    at the end, rolled back on an error, closed either way.
    """
    db = sqlite3.connect(path, timeout=120.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with db:
            yield db
    finally:
        db.close()


class GraphDB:
    """The graph of a block-wise run, stored in the SQLite file ``path`` (made if missing).

    Every method opens its own short connection, so a ``GraphDB`` can be
    handed to worker processes (it pickles as its path).

    Examples
    --------
    >>> import tempfile, os
    >>> from mbl_seg.rag import region_graph
    >>> db = GraphDB(os.path.join(tempfile.mkdtemp(), "graph.sqlite"))
    >>> frags = np.array([[1, 1, 2]], np.uint64)
    >>> db.write_block(0, region_graph(np.ones((2, 1, 3)), frags))
    >>> g = db.region_graph()
    >>> g.edges.tolist(), g.contacts.tolist(), g.sizes
    ([[1, 2]], [1], {1: 2, 2: 1})
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"{self.path} exists and is not a file: expected the path of an "
                             "SQLite graph file (made if missing)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{self.path} is not an SQLite graph file ({err}): pass the path "
                             "of a graph file, or of one to make") from None

    def __repr__(self) -> str:
        return f"GraphDB({str(self.path)!r})"

    def __reduce__(self):
        return (GraphDB, (str(self.path),))

    def _connect(self):
        return sqlite_session(self.path)

    # -- the graph ----------------------------------------------------------------------

    def write_block(self, block: int, graph: RegionGraph) -> None:
        """Store (replace) the fragments and contacts that block ``block`` counted."""
        block = as_number(block, "block", integer=True, nonnegative=True)
        if not isinstance(graph, RegionGraph):
            raise TypeError(f"graph must be a RegionGraph, got {type(graph).__name__}")
        edges = np.asarray(graph.edges, np.uint64).reshape(-1, 2)
        if edges.size and int(edges.max()) > _INT64_MAX:
            raise ValueError(f"fragment ids must fit in int64 for SQLite, got {int(edges.max())}")
        hist = graph.histogram
        rows = [(block, int(u), int(v), int(c), float(s),
                 None if hist is None else np.ascontiguousarray(hist[i], np.int32).tobytes())
                for i, ((u, v), c, s) in enumerate(zip(edges.tolist(), graph.contacts.tolist(),
                                                       graph.affinity_sum.tolist()))]
        nodes = [(block, int(i), int(n)) for i, n in graph.sizes.items()]
        with self._connect() as db:  # one transaction: the block's rows change all at once
            db.execute("DELETE FROM edges WHERE block = ?", (block,))
            db.execute("DELETE FROM nodes WHERE block = ?", (block,))
            db.executemany("INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO nodes VALUES (?, ?, ?)", nodes)

    def blocks_written(self) -> list[int]:
        """The blocks whose fragments are stored, sorted."""
        with self._connect() as db:
            return [b for (b,) in db.execute("SELECT DISTINCT block FROM nodes ORDER BY block")]

    def region_graph(self) -> RegionGraph:
        """The graph of the whole volume: every block's part, pooled."""
        with self._connect() as db:
            nodes = db.execute("SELECT id, size FROM nodes").fetchall()
            edges = db.execute("SELECT u, v, contacts, affinity_sum, histogram FROM edges "
                               "ORDER BY u, v").fetchall()
        sizes: dict[int, int] = {}
        for i, n in nodes:  # a fragment several blocks report: its parts add up (as combine)
            sizes[int(i)] = sizes.get(int(i), 0) + int(n)
        if not edges:
            return RegionGraph(np.zeros((0, 2), np.uint64), np.zeros(0, np.int64),
                               np.zeros(0), None, sizes)
        u, v, c, s, h = zip(*edges)
        hist = None
        if all(x is not None for x in h):
            hist = np.frombuffer(b"".join(h), np.int32).reshape(len(h), -1)
        part = RegionGraph(np.stack([np.array(u, np.uint64), np.array(v, np.uint64)], axis=1),
                           np.array(c, np.int64), np.array(s, np.float64), hist, sizes)
        return combine([part])

    # -- merge scores (agglomeration per block) ------------------------------------------

    def write_scores(self, scoring: str, block: int, edges: np.ndarray, scores: np.ndarray
                     ) -> None:
        """Store (replace) the merge scores that block ``block`` found with ``scoring``."""
        block = as_number(block, "block", integer=True, nonnegative=True)
        edges = np.asarray(edges, np.uint64).reshape(-1, 2)
        scores = np.asarray(scores, np.float64)
        if len(scores) != len(edges):
            raise ValueError(f"one score per edge: {len(edges)} edges, {len(scores)} scores")
        rows = [(scoring, block, int(u), int(v), float(x))
                for (u, v), x in zip(edges.tolist(), scores.tolist())]
        with self._connect() as db:
            db.execute("DELETE FROM merge_scores WHERE scoring = ? AND block = ?",
                       (scoring, block))
            db.executemany("INSERT INTO merge_scores VALUES (?, ?, ?, ?, ?)", rows)

    def read_scores(self, scoring: str, *, below: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One row per edge of ``scoring``: (u, v, level) arrays, sorted by (u, v).

        An edge several blocks judged keeps the highest level any gave it (the
        strictest: its fragments are joined only where every block that saw them
        agrees). With ``below``, only the edges whose level is below it. SQLite
        pools the rows (on disk where they are many) and they come back in chunks,
        so memory holds the edges returned, not every block's copy of them.
        """
        query = ("SELECT u, v, MAX(score) FROM merge_scores WHERE scoring = ? GROUP BY u, v"
                 + ("" if below is None else " HAVING MAX(score) < ?") + " ORDER BY u, v")
        args = (scoring,) if below is None else (scoring, float(below))
        with self._connect() as db:
            u, v, level = fetch_columns(db.execute(query, args), (np.uint64, np.uint64, np.float64))
        return u, v, level

    def fragment_ids(self) -> np.ndarray:
        """Every fragment id some block stored, sorted."""
        with self._connect() as db:
            (ids,) = fetch_columns(db.execute("SELECT DISTINCT id FROM nodes ORDER BY id"),
                                   (np.uint64,))
        return ids


def fetch_columns(cursor, dtypes, chunk: int = 1 << 16) -> list[np.ndarray]:
    """The rows of ``cursor`` as one array per column, read ``chunk`` rows at a time.

    A whole ``fetchall`` holds every row as Python objects (about 100 bytes a value);
    chunk by chunk, only the arrays grow.
    """
    parts: list[list[np.ndarray]] = [[] for _ in dtypes]
    while rows := cursor.fetchmany(chunk):
        for k, dtype in enumerate(dtypes):
            parts[k].append(np.fromiter((row[k] for row in rows), dtype, len(rows)))
    return [np.concatenate(p) if p else np.zeros(0, d) for p, d in zip(parts, dtypes)]
