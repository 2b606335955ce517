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
