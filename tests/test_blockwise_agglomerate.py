"""Agglomeration per block, then a global threshold (blockwise ``agglomeration="blocks"``)."""

import numpy as np
import pytest

from mbl_seg import blockwise, evaluate
from mbl_seg.agglomeration import agglomerate, merge_history
from mbl_seg.blockwise._agglomerate import components, join_scores
from mbl_seg.data.synthetic import synthetic_volume
from mbl_seg.rag import region_graph

SHAPE = (16, 64, 64)
SETTINGS = {"threshold": 0.55, "min_size": 20, "progress": False, "device": "cpu"}


@pytest.mark.parametrize("seed", range(8))
def test_join_scores_are_the_score_of_the_first_merge_that_joins_an_edge(seed):
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
    for a, b, score in zip(history.a.tolist(), history.b.tolist(), history.score):
        old = region[b] if b in region else b
        for i, r in region.items():
            if r == region[b] or r == old:
                region[i] = region[a]
        for e, (u, v) in enumerate(edges.tolist()):
            if expected[e] == np.inf and region[u] == region[v]:
                expected[e] = score
    assert np.array_equal(got, expected)


def test_components_below_the_threshold_are_the_agglomeration_when_scores_rise():
    """On a graph whose merge scores only rise, components of the join scores below t are
    exactly the agglomeration at t."""
    frags = np.repeat(np.arange(1, 9, dtype=np.uint64), 3)[None, :]  # a chain of 8 fragments
    affs = np.ones((2, 1, 24), np.float32)
    affs[1, 0, 3::3] = np.linspace(0.95, 0.3, 7)  # contact i: affinity falling along the chain
    history = merge_history(affs, frags)
    assert (np.diff(history.score) >= 0).all()
    edges = region_graph(affs, frags, bins=None).edges
    scores = join_scores(edges, *history)
    for t in (0.1, 0.3, 0.5, 0.7):
        (expected,) = agglomerate(affs, frags, thresholds=[t])
        segments = components(np.unique(frags), edges[:, 0], edges[:, 1], scores, t)
        got = segments[np.searchsorted(np.unique(frags), frags)]
        assert evaluate.voi(expected, got).split + evaluate.voi(expected, got).merge < 1e-12


@pytest.fixture(scope="module")
def blocks_run(tmp_path_factory):
    volume = synthetic_volume(SHAPE, "fly", seed=31)
    directory = tmp_path_factory.mktemp("blocks") / "run"
    graph = blockwise.run(volume.raw, directory, voxel_size=volume.voxel_size,
                          block_shape=(8, 32, 32), workers=2, **SETTINGS)
    blocks = blockwise.run(volume.raw, directory, voxel_size=volume.voxel_size,
                           block_shape=(8, 32, 32), workers=2, agglomeration="blocks",
                           stages=["agglomerate", "relabel"], **SETTINGS)
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
    assert all(row.peak_rss > 10 * 2**20 for row in rows.values())  # a Python process's memory


def test_one_block_over_the_volume_gives_the_whole_graph_agglomeration(tmp_path):
    """With a single block the local agglomeration is the whole one (up to the order of merges
    whose scores fall again, which a threshold on merge scores cannot express)."""
    volume = synthetic_volume((8, 32, 32), "fly", seed=5)
    options = {**SETTINGS, "block_shape": (8, 32, 32), "multiprocessing": False}
    graph = blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size, **options)
    blocks = blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size,
                           agglomeration="blocks", stages=["agglomerate", "relabel"], **options)
    between = evaluate.voi(graph.segmentation(), blocks.segmentation())
    assert between.split + between.merge < 0.05, between


def test_a_bad_agglomeration_is_explained(tmp_path):
    volume = synthetic_volume((8, 32, 32), "fly", seed=5)
    with pytest.raises(ValueError, match="agglomeration must be 'graph'.*got 'block'"):
        blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size,
                      block_shape=(8, 32, 32), agglomeration="block", **SETTINGS)
