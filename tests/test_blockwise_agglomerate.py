"""Agglomeration per block, then a global threshold (blockwise ``agglomeration="blocks"``)."""

import numpy as np
import pytest

from mbl_seg import blockwise, evaluate
from mbl_seg.agglomeration import agglomerate, merge_history
from mbl_seg.blockwise._agglomerate import components, join_scores
from mbl_seg.data.synthetic import synthetic_volume
from mbl_seg.graphdb import GraphDB
from mbl_seg.rag import region_graph

SHAPE = (16, 64, 64)
SETTINGS = {"threshold": 0.55, "min_size": 20, "progress": False, "device": "cpu"}


@pytest.mark.parametrize("seed", range(8))
def test_join_scores_are_the_level_of_the_first_merge_that_joins_an_edge(seed):
    """Brute force: replay the merges one by one and look at every edge after each."""
    rng = np.random.default_rng(seed)
    frags = rng.integers(1, 30, (8, 8)).astype(np.uint64)
    frags = np.repeat(np.repeat(frags, 2, 0), 2, 1)
    affs = rng.random((2, 16, 16)).astype(np.float32)
    history = merge_history(affs, frags)
    edges = region_graph(affs, frags, bins=None).edges
    got = join_scores(edges, *history)
    region = {int(i): int(i) for i in np.unique(frags)}
    expected = np.full(len(edges), np.inf)
    level = -np.inf
    for a, b, score in zip(history.a.tolist(), history.b.tolist(), history.score):
        level = max(level, score)  # agglomeration to t stops at the first merge scored >= t
        old = region[b] if b in region else b
        for i, r in region.items():
            if r == region[b] or r == old:
                region[i] = region[a]
        for e, (u, v) in enumerate(edges.tolist()):
            if expected[e] == np.inf and region[u] == region[v]:
                expected[e] = level
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("scoring", ["mean", "quantile"])
@pytest.mark.parametrize("seed", range(6))
def test_components_of_levels_below_t_are_the_agglomeration_at_t(seed, scoring, tmp_path):
    """Exactly, also where merge scores fall again (pooled edges): the reason for levels.

    Through the graph file, as the global step reads them: the edges below ``t``.
    """
    rng = np.random.default_rng(seed)
    frags = np.repeat(np.repeat(rng.integers(1, 40, (10, 10)), 2, 0), 2, 1).astype(np.uint64)
    affs = rng.random((2, 20, 20)).astype(np.float32)
    history = merge_history(affs, frags, scoring=scoring)
    edges = region_graph(affs, frags, bins=None).edges
    db = GraphDB(tmp_path / "graph.sqlite")
    db.write_scores("levels", 0, edges, join_scores(edges, *history))
    ids = np.unique(frags)
    for t in (0.2, 0.4, 0.5, 0.6, 0.8):
        (expected,) = agglomerate(affs, frags, thresholds=[t], scoring=scoring)
        u, v, _ = db.read_scores("levels", below=t)
        got = components(ids, u, v)[np.searchsorted(ids, frags)]
        apart = evaluate.voi(expected, got)
        assert apart.split + apart.merge < 1e-12, (t, apart)


@pytest.fixture(scope="module")
def blocks_run(tmp_path_factory):
    volume = synthetic_volume(SHAPE, "fly", seed=31)
    directory = tmp_path_factory.mktemp("blocks") / "run"
    graph = blockwise.run(volume.raw, directory, voxel_size=volume.voxel_size,
                          block_shape=(8, 32, 32), workers=2, **SETTINGS)
    blocks = blockwise.run(volume.raw, directory, voxel_size=volume.voxel_size,
                           block_shape=(8, 32, 32), workers=2, agglomeration="blocks",
                           stages=["agglomerate", "relabel"], measure_memory=True, **SETTINGS)
    return volume, graph, blocks


def test_blocks_mode_is_close_to_the_whole_graph_and_as_good(blocks_run):
    volume, graph, blocks = blocks_run
    assert blocks.segmentation_name.startswith("segmentation_blocks_")
    between = evaluate.voi(graph.segmentation(), blocks.segmentation())
    assert between.split + between.merge < 0.5, between
    ours = evaluate.voi(volume.labels, blocks.segmentation())
    theirs = evaluate.voi(volume.labels, graph.segmentation())
    assert abs((ours.split + ours.merge) - (theirs.split + theirs.merge)) < 0.3, (ours, theirs)


def test_blocks_mode_runs_a_scores_step_per_block_and_one_global_step(blocks_run):
    _, _, blocks = blocks_run
    rows = {t.task: t for t in blockwise.throughput(blocks.blocks())}
    assert list(rows) == ["scores", "segments", "relabel"]
    assert rows["scores"].blocks == 8 and rows["segments"].blocks == 1
    assert rows["scores"].memory > 0 and rows["segments"].memory > 0  # measured there
    assert rows["relabel"].memory == 0  # and only there


def test_one_block_over_the_volume_gives_the_whole_graph_agglomeration(tmp_path):
    """With a single block the local agglomeration is the whole one: the same segments."""
    volume = synthetic_volume((8, 32, 32), "fly", seed=5)
    options = {**SETTINGS, "block_shape": (8, 32, 32), "multiprocessing": False}
    graph = blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size, **options)
    blocks = blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size,
                           agglomeration="blocks", stages=["agglomerate", "relabel"], **options)
    assert _same_partition(graph.segmentation(), blocks.segmentation())


def _same_partition(a, b) -> bool:
    table = evaluate.contingency_table(a, b)
    return (len(np.unique(table.gt_ids)) == len(table.gt_ids)
            and len(np.unique(table.seg_ids)) == len(table.seg_ids))


def test_a_bad_agglomeration_is_explained(tmp_path):
    volume = synthetic_volume((8, 32, 32), "fly", seed=5)
    with pytest.raises(ValueError, match="agglomeration must be 'graph'.*got 'block'"):
        blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size,
                      block_shape=(8, 32, 32), agglomeration="block", **SETTINGS)


def test_memory_is_measured_only_when_asked(blocks_run):
    _, graph, _ = blocks_run
    assert all(r.memory == 0 for r in graph.blocks())  # tracemalloc slows the steps: opt-in
