import numpy as np
import pytest

from mbl_seg.rag import BINS, dense_ids, edge_quantile, region_graph
from mbl_seg.targets import nearest_offsets, offset_slices


def _random_case(shape, n_ids, seed, background=True):
    rng = np.random.default_rng(seed)
    # blocky fragments: random ids on a coarse grid, upsampled, so that contact faces are big
    coarse = rng.integers(0 if background else 1, n_ids + 1, size=tuple(-(-s // 3) for s in shape))
    frags = coarse
    for axis, s in enumerate(shape):
        frags = np.repeat(frags, 3, axis=axis).take(range(s), axis=axis)
    affs = rng.random((len(shape),) + tuple(shape)).astype(np.float32)
    return affs, frags.astype(np.uint64)


def _brute_force(affs, frags, offsets):
    """Every contact voxel pair, one by one: {(u, v): [affinities]}."""
    contacts = {}
    for k, offset in enumerate(offsets):
        for index in np.ndindex(frags.shape):
            partner = tuple(i + o for i, o in zip(index, offset))
            if any(p < 0 or p >= s for p, s in zip(partner, frags.shape)):
                continue
            u, v = int(frags[index]), int(frags[partner])
            if u == v or u == 0 or v == 0:
                continue
            contacts.setdefault((min(u, v), max(u, v)), []).append(float(affs[k][index]))
    return contacts


@pytest.mark.parametrize("shape,seed", [((12, 15), 0), ((5, 7, 8), 1), ((6, 9, 9), 2)])
def test_graph_equals_the_contacts_counted_one_by_one(shape, seed):
    affs, frags = _random_case(shape, 9, seed)
    graph = region_graph(affs, frags)
    expected = _brute_force(affs, frags, nearest_offsets(len(shape)))
    assert [tuple(e) for e in graph.edges.tolist()] == sorted(expected)
    for k, pair in enumerate(sorted(expected)):
        values = np.array(expected[pair])
        assert graph.contacts[k] == len(values)
        assert graph.affinity_sum[k] == pytest.approx(values.sum(), rel=1e-6)
        assert graph.histogram[k].sum() == len(values)
    sizes = {int(i): int((frags == i).sum()) for i in np.unique(frags) if i}
    assert graph.sizes == sizes


def test_long_range_offsets_are_contacts_too():
    affs, frags = _random_case((10, 12), 5, 3)
    offsets = [(-1, 0), (0, -1), (0, -3), (-2, 0)]
    affs = np.concatenate([affs, affs[::-1]])
    graph = region_graph(affs, frags, offsets=offsets)
    expected = _brute_force(affs, frags, offsets)
    assert graph.contacts.tolist() == [len(expected[p]) for p in sorted(expected)]


def test_background_has_no_edges_and_no_size():
    frags = np.array([[1, 0, 2], [1, 0, 2]], np.uint64)
    graph = region_graph(np.ones((2, 2, 3), np.float32), frags)
    assert graph.edges.shape == (0, 2)
    assert graph.sizes == {1: 2, 2: 2}


def test_relabelling_the_fragments_relabels_the_graph():
    affs, frags = _random_case((6, 9, 9), 8, 4)
    graph = region_graph(affs, frags)
    shift = np.uint64(10**12)  # large ids take the sorting path of dense_ids
    moved = region_graph(affs, np.where(frags > 0, frags + shift, 0).astype(np.uint64))
    assert np.array_equal(moved.edges, graph.edges + shift)
    assert np.array_equal(moved.contacts, graph.contacts)
    assert np.allclose(moved.affinity_sum, graph.affinity_sum)
    assert np.array_equal(moved.histogram, graph.histogram)


@pytest.mark.parametrize("ids", [[0, 1, 2, 5], [3, 2**40, 7], [2**63 + 5, 0]])
def test_dense_ids_agree_with_unique(ids):
    rng = np.random.default_rng(0)
    frags = np.array(ids, np.uint64)[rng.integers(0, len(ids), (4, 5))]
    found, dense = dense_ids(frags)
    expected, inverse = np.unique(frags, return_inverse=True)
    assert np.array_equal(found, expected)
    assert np.array_equal(dense, inverse.reshape(frags.shape))


@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_histogram_quantile_equals_sorting_the_contacts(q):
    rng = np.random.default_rng(5)
    # affinities on the bin centres, as uint8 predictions are: then the histogram is exact
    affs = ((rng.integers(0, BINS, (2, 20, 20)) + 0.5) / BINS).astype(np.float32)
    frags = (np.arange(20)[:, None] // 5 * 4 + np.arange(20)[None, :] // 5 + 1).astype(np.uint64)
    graph = region_graph(affs, frags)
    contacts = _brute_force(affs, frags, nearest_offsets(2))
    for k, pair in enumerate(map(tuple, graph.edges.tolist())):
        values = np.sort(contacts[pair])
        rank = min(int(np.floor(q * len(values))), len(values) - 1)
        assert graph.quantile(q)[k] == pytest.approx(values[rank], abs=1e-6)


def test_quantile_needs_a_histogram_and_a_fraction():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        edge_quantile(np.ones((1, 4), np.int32), 1.5)
    graph = region_graph(np.ones((2, 2, 2), np.float32), np.array([[1, 2], [1, 2]], np.uint64),
                         bins=None)
    assert graph.histogram is None
    with pytest.raises(ValueError, match="histogram"):
        graph.quantile(0.5)


def test_bad_inputs_are_explained():
    frags = np.ones((4, 5), np.uint64)
    with pytest.raises(ValueError, match="do not match"):
        region_graph(np.ones((2, 4, 6), np.float32), frags)
    with pytest.raises(ValueError, match="offsets"):
        region_graph(np.ones((3, 4, 5), np.float32), frags)
    with pytest.raises(TypeError):
        region_graph(np.ones((2, 4, 5), np.float32), frags.astype(np.float32))
    with pytest.raises(ValueError):
        region_graph(np.full((2, 4, 5), 3.0, np.float32), frags)


def test_offset_slices_pair_each_voxel_with_its_partner():
    # the convention the graph relies on: affs[k][a] links fragments[a] and fragments[b]
    a, b = offset_slices((3, 4), (0, -1))
    grid = np.arange(12).reshape(3, 4)
    assert np.all(grid[a] - grid[b] == 1)


def test_same_object_follows_each_fragments_largest_overlap():
    from mbl_seg.rag import same_object

    frags = np.array([[1, 1, 1, 2, 2, 3, 3, 4]], np.uint64)
    truth = np.array([[7, 7, 8, 8, 8, 8, 0, 0]], np.uint64)  # 3 is half background: tie
    graph = region_graph(np.ones((2, 1, 8), np.float32), frags)
    same = dict(zip(map(tuple, graph.edges.tolist()), same_object(graph, frags, truth).tolist()))
    assert same[(1, 2)] is False  # 1 is mostly 7, 2 is 8
    assert same[(3, 4)] is False  # 4 is background: never "the same object"
    with pytest.raises(ValueError, match="same shape"):
        same_object(graph, frags, truth[:, :4])


@pytest.mark.parametrize("bins", [None, BINS])
def test_graph_of_a_volume_is_the_combined_graphs_of_its_pieces(bins):
    """Cut the contacts among pieces (each counted once): combine gives the whole graph back."""
    from mbl_seg.rag import combine

    affs, frags = _random_case((9, 10, 11), 12, 7)
    whole = region_graph(affs, frags, bins=bins)
    parts = []
    for k, offset in enumerate(nearest_offsets(3)):
        for lo, hi in ((0, 5), (4, 10)):  # two slabs along y that overlap by the one row a
            # contact from row 4 to row 5 needs; contacts are counted from their later voxel
            a = affs[k:k + 1, :, lo:hi]
            f = frags[:, lo:hi].copy()
            if lo > 0 and offset[1] == 0:  # the first row of the second slab only lends partners
                a = a[:, :, 1:]
                f = f[:, 1:]
            parts.append(region_graph(a, f, offsets=[offset], bins=bins))
    combined = combine(parts)
    assert combined.edges.tolist() == whole.edges.tolist()
    assert combined.contacts.tolist() == whole.contacts.tolist()
    np.testing.assert_allclose(combined.affinity_sum, whole.affinity_sum, rtol=1e-12)
    if bins is None:
        assert combined.histogram is None
    else:
        assert np.array_equal(combined.histogram, whole.histogram)


def test_combine_sums_sizes_and_refuses_what_is_not_a_graph():
    from mbl_seg.rag import combine

    g = region_graph(np.ones((2, 1, 3)), np.array([[1, 1, 2]], np.uint64))
    assert combine([g, g]).sizes == {1: 4, 2: 2}
    assert combine([g, g]).contacts.tolist() == [2]
    with pytest.raises(TypeError, match="RegionGraph"):
        combine([])
    with pytest.raises(TypeError, match="RegionGraph"):
        combine([g, "graph"])


def test_the_contact_buffers_grow_and_the_graph_stays_the_same(monkeypatch):
    """The compiled pass fills buffers section by section; when they are full it grows them
    and does the section again: the graph must not change (tiny buffers force it)."""
    from mbl_seg import _rag_kernels

    rng = np.random.default_rng(3)
    frags = rng.integers(1, 50, (6, 20, 20)).astype(np.uint64)
    affs = rng.random((3, 6, 20, 20)).astype(np.float32)
    expected = region_graph(affs, frags)
    monkeypatch.setattr(_rag_kernels, "FIRST_CAPACITY", 7)
    grown = region_graph(affs, frags)
    assert np.array_equal(grown.edges, expected.edges)
    assert np.array_equal(grown.contacts, expected.contacts)
    assert np.allclose(grown.affinity_sum, expected.affinity_sum, rtol=0, atol=1e-9)
    assert np.array_equal(grown.histogram, expected.histogram)
