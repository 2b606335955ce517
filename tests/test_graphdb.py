import pickle

import numpy as np
import pytest

from mbl_seg.graphdb import GraphDB
from mbl_seg.rag import BINS, combine, region_graph


def _graph(seed, bins=None):
    rng = np.random.default_rng(seed)
    frags = rng.integers(1, 6, (4, 5, 5)).astype(np.uint64) + np.uint64(10 * seed)
    return region_graph(rng.random((3, 4, 5, 5)), frags, bins=bins)


@pytest.mark.parametrize("bins", [None, BINS])
def test_the_stored_graph_is_the_pooled_blocks(tmp_path, bins):
    db = GraphDB(tmp_path / "g.sqlite")
    parts = [_graph(s, bins) for s in range(3)]
    for b, g in enumerate(parts):
        db.write_block(b, g)
    stored, expected = db.region_graph(), combine(parts)
    assert stored.edges.tolist() == expected.edges.tolist()
    assert stored.contacts.tolist() == expected.contacts.tolist()
    np.testing.assert_allclose(stored.affinity_sum, expected.affinity_sum)
    assert stored.sizes == expected.sizes
    assert (stored.histogram is None) == (bins is None)
    if bins:
        assert np.array_equal(stored.histogram, expected.histogram)
    assert db.blocks_written() == [0, 1, 2]


def test_a_block_written_twice_counts_once(tmp_path):
    """A block redone after an interruption replaces its rows: nothing is counted twice."""
    db = GraphDB(tmp_path / "g.sqlite")
    db.write_block(4, _graph(1))
    once = db.region_graph()
    db.write_block(4, _graph(1))
    twice = db.region_graph()
    assert twice.contacts.tolist() == once.contacts.tolist() and twice.sizes == once.sizes


def test_a_graph_file_pickles_as_its_path(tmp_path):
    db = GraphDB(tmp_path / "g.sqlite")
    assert pickle.loads(pickle.dumps(db)).path == db.path  # handed to worker processes


def test_bad_input_is_explained(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        GraphDB(tmp_path)
    db = GraphDB(tmp_path / "g.sqlite")
    with pytest.raises(TypeError, match="RegionGraph"):
        db.write_block(0, {"edges": []})


@pytest.mark.parametrize("seed", range(5))
def test_read_scores_keeps_each_edges_strictest_level_as_brute_force_does(tmp_path, seed):
    """Several blocks judge overlapping edges: one row per edge, its highest level, sorted."""
    rng = np.random.default_rng(seed)
    db = GraphDB(tmp_path / "graph.sqlite")
    written: dict = {}
    for block in range(4):
        edges = np.unique(rng.integers(1, 12, (30, 2)), axis=0)
        edges = edges[edges[:, 0] < edges[:, 1]]
        levels = rng.random(len(edges))
        levels[rng.random(len(edges)) < 0.2] = np.inf  # never joined in this block
        db.write_scores("mean_c4", block, edges, levels)
        for (u, v), x in zip(edges.tolist(), levels.tolist()):
            written[u, v] = max(written.get((u, v), -np.inf), x)
    db.write_scores("other", 0, np.array([[1, 2]]), np.array([0.0]))  # another scoring
    u, v, level = db.read_scores("mean_c4")
    assert list(zip(u.tolist(), v.tolist())) == sorted(written)
    assert level.tolist() == [written[k] for k in sorted(written)]
    u, v, level = db.read_scores("mean_c4", below=0.5)
    kept = sorted(k for k, x in written.items() if x < 0.5)
    assert list(zip(u.tolist(), v.tolist())) == kept and (level < 0.5).all()
    assert [len(a) for a in db.read_scores("none")] == [0, 0, 0]


def test_fetch_columns_reads_in_chunks_what_fetchall_reads(tmp_path):
    import sqlite3

    from mbl_seg.graphdb import fetch_columns

    db = sqlite3.connect(tmp_path / "x.sqlite")
    db.execute("CREATE TABLE t (a INTEGER, b REAL)")
    rows = [(i * 7 % 101, i / 3) for i in range(1000)]
    db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    a, b = fetch_columns(db.execute("SELECT a, b FROM t"), (np.uint64, np.float64), chunk=64)
    assert a.dtype == np.uint64 and a.tolist() == [r[0] for r in rows]
    assert b.tolist() == [r[1] for r in rows]
    db.close()
