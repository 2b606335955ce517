"""Issue 26, item 4: small defects of the block-wise machinery, each with its reproducer."""

import sqlite3

import numpy as np
import pytest

from mbl_seg import blockwise
from mbl_seg.agglomeration import agglomerate_graph
from mbl_seg.graphdb import GraphDB
from mbl_seg.rag import RegionGraph, combine, region_graph
from mbl_seg.segment import fragments


def _graph(sizes, edges=()):
    edges = np.array(edges, np.uint64).reshape(-1, 2)
    return RegionGraph(edges, np.ones(len(edges), np.int64), np.full(len(edges), 0.9), None,
                       dict(sizes))


def test_sizes_of_a_fragment_several_blocks_report_are_summed_as_combine_does(tmp_path):
    db = GraphDB(tmp_path / "graph.sqlite")
    one, two = _graph({1: 5, 2: 3}, [(1, 2)]), _graph({2: 4, 3: 1}, [(2, 3)])
    db.write_block(0, one)
    db.write_block(1, two)
    assert db.region_graph().sizes == combine([one, two]).sizes == {1: 5, 2: 7, 3: 1}


def test_agglomerating_an_empty_graph_gives_empty_tables():
    ids, segments = next(agglomerate_graph(_graph({}), thresholds=[0.5]))
    assert ids.size == 0 and segments.size == 0


def test_later_stages_on_a_fresh_folder_say_what_to_run_first(tmp_path):
    raw = np.zeros((8, 32, 32), np.uint8)
    with pytest.raises(ValueError, match="edges"):
        blockwise.run(raw, tmp_path / "run", voxel_size=(8, 8, 8), block_shape=(8, 32, 32),
                      stages=["agglomerate", "relabel"], progress=False, multiprocessing=False)


def test_graph_files_are_closed_after_each_use(tmp_path, monkeypatch):
    """Every connection GraphDB opens is closed (Python 3.13 warns about each one left open)."""
    import mbl_seg.graphdb

    opened = []

    class Tracked(sqlite3.Connection):
        closed = False

        def close(self):
            self.closed = True
            super().close()

    real = sqlite3.connect

    def connect(*args, **kwargs):
        opened.append(real(*args, factory=Tracked, **kwargs))
        return opened[-1]

    monkeypatch.setattr(mbl_seg.graphdb.sqlite3, "connect", connect)
    db = GraphDB(tmp_path / "graph.sqlite")
    db.write_block(0, _graph({1: 2}))
    db.region_graph()
    log = blockwise.RunLog(tmp_path / "run.sqlite")
    log.runs()
    with pytest.raises(KeyError):
        log.read_lookup("none")
    assert len(opened) == 6 and all(c.closed for c in opened)


def test_a_file_that_is_not_a_graph_is_named(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database, just some notes " * 100)
    with pytest.raises(ValueError, match="notes.txt"):
        GraphDB(text)


def test_a_block_shape_with_a_zero_is_refused():
    with pytest.raises(ValueError, match="block"):
        blockwise.BlockGrid((10, 10, 10), (0, 5, 5))


@pytest.mark.parametrize("shape", [(3, 6, 8, 2), (3, 6, 8, 1), (2, 8, 2)])
def test_channels_first_input_with_a_small_last_axis_is_accepted(shape):
    affs = np.ones(shape, np.float32)
    spatial = shape[1:]
    frags = fragments(affs, voxel_size=(8,) * len(spatial))
    assert frags.shape == spatial
    graph = region_graph(affs, frags)
    assert graph.sizes


def test_the_fragments_stage_keeps_the_background_zero(tmp_path, monkeypatch):
    """Voxels without a fragment (0) stay 0 in the block-wise fragments."""
    import mbl_seg.segment

    real = mbl_seg.segment.fragments

    def with_background(affs, **kwargs):
        out = real(affs, **kwargs)
        out[..., :4] = 0  # e.g. outside a mask
        return out

    monkeypatch.setattr(mbl_seg.segment, "fragments", with_background)
    raw = np.random.default_rng(0).integers(0, 256, (8, 32, 32), dtype=np.uint8)
    run = blockwise.run(raw, tmp_path / "run", voxel_size=(8, 8, 8), block_shape=(8, 32, 32),
                        stages=["predict", "fragments"], progress=False, multiprocessing=False,
                        device="cpu")
    frags = run.array("fragments")[...]
    assert (frags[..., :4] == 0).all() and (frags[..., 4:] > 0).all()
