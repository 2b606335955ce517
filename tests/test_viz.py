"""Tests for mbl_seg.viz: colours, overlays, panels and the slice browser (Agg backend)."""

import base64

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import rgb_to_hsv
from numpy.testing import assert_array_equal

from mbl_seg import viz

VS = (40, 4, 4)  # nm (z, y, x); 2D panels use (y, x)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def volume():
    """A (6, 32, 40) uint8 raw with three objects and an unlabelled corner."""
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (6, 32, 40), dtype=np.uint8)
    labels = np.zeros((6, 32, 40), np.uint64)
    labels[:, :16, 4:], labels[:, 16:, :20], labels[:, 16:, 20:] = 1, 2, 3
    return raw, labels


def _png(browser) -> bytes:
    (output,) = browser.children[-1].outputs
    return base64.b64decode(output["data"]["image/png"])


def _control(browser, description):
    return next(w for box in browser.children[:-1] for w in box.children
                if w.description == description)


# --- colours ---------------------------------------------------------------

def test_colors_depend_on_the_id_only():
    a = viz.label_colors([5, 17, 99])
    b = viz.label_colors(np.array([17, 123456789, 5], dtype=np.int32))
    assert_array_equal(a[1], b[0])
    assert_array_equal(a[0], b[2])
    assert not np.array_equal(a[0], a[1])
    assert a.shape == (3, 4) and np.all(a[:, 3] == 1)
    assert not np.array_equal(viz.label_colors([17], seed=1), viz.label_colors([17]))


def test_background_is_transparent_and_colors_are_bright():
    assert_array_equal(viz.label_colors([0]), [[0, 0, 0, 0]])
    hsv = rgb_to_hsv(viz.label_colors(np.arange(1, 500))[:, :3])
    assert hsv[:, 1].min() >= 0.6 - 1e-6 and hsv[:, 2].min() >= 0.8 - 1e-6
    assert np.ptp(hsv[:, 0]) > 0.9  # hues spread over the whole circle


def test_label_colors_refuses_bad_ids():
    with pytest.raises(ValueError, match="non-negative"):
        viz.label_colors([3, -1])
    with pytest.raises(TypeError, match="integer"):
        viz.label_colors([0.5])


def test_label_rgba_matches_a_loop_over_pixels(volume):
    labels = volume[1][0].copy()
    labels[0, 0] = 2**40  # a large id
    rgba = viz.label_rgba(labels, alpha=0.3, seed=2)
    assert rgba.shape == labels.shape + (4,) and rgba.dtype == np.float32
    for (y, x), i in np.ndenumerate(labels):
        expected = viz.label_colors([i], seed=2)[0]
        expected[3] = 0.3 if i else 0.0
        np.testing.assert_allclose(rgba[y, x], expected, rtol=1e-6)


def test_label_rgba_colour_does_not_depend_on_other_labels(volume):
    labels = volume[1][0]
    alone = viz.label_rgba(np.where(labels == 2, labels, 0))
    assert_array_equal(alone[labels == 2], viz.label_rgba(labels)[labels == 2])


def test_label_rgba_refuses_bad_input(volume):
    labels = volume[1][0]
    with pytest.raises(TypeError, match="probability map"):
        viz.label_rgba(labels.astype(float))
    with pytest.raises(ValueError, match="alpha"):
        viz.label_rgba(labels, alpha=1.5)


# --- overlay ---------------------------------------------------------------

def test_overlay_draws_raw_and_labels(tmp_path, volume):
    raw, labels = volume
    ax = viz.overlay(raw[0], labels[0], title="section 0")
    assert ax.get_title() == "section 0" and not ax.get_xticks().size
    grey, colours = ax.images
    assert grey.get_clim() == (0, 255)  # uint8: fixed range, not stretched
    assert colours.get_array().shape == labels[0].shape + (4,)
    ax.figure.savefig(tmp_path / "o.png")
    floats = viz.overlay(raw[0] / 300.0)
    assert floats.images[0].get_clim() == pytest.approx((raw[0].min() / 300, raw[0].max() / 300))


def test_overlay_boundaries_colour_only_the_outlines(volume):
    raw, labels = volume
    ax = viz.overlay(raw[0], labels[0], boundaries=True)
    opaque = ax.images[1].get_array()[..., 3] > 0
    assert opaque[15, 10] and opaque[16, 10]  # the border between objects 1 and 2
    assert not opaque[5, 20] and not opaque[25, 10]  # inside objects
    assert opaque.sum() < labels[0].size // 4


def test_overlay_refuses_volumes_and_mismatches(volume):
    raw, labels = volume
    with pytest.raises(ValueError, match=r"2D section \(y, x\).*raw\[z\]"):
        viz.overlay(raw)
    with pytest.raises(ValueError, match="same shape"):
        viz.overlay(raw[0], labels[0, :10])
    with pytest.raises(ValueError, match="raw, labels or both"):
        viz.overlay(None)
    with pytest.raises(TypeError, match="numpy array"):
        viz.overlay(raw[0].tolist())


# --- panels ----------------------------------------------------------------

def test_panels_render_and_save(tmp_path, volume):
    raw, labels = volume
    pred = np.random.default_rng(1).random(raw.shape).astype(np.float32)
    affs = np.random.default_rng(2).random((3,) + raw.shape).astype(np.float32)
    fig = viz.show_panels(voxel_size=VS, raw=raw, gt=labels, boundary_map=pred, affs=affs,
                          segmentation=labels + 1, z=2)
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 5000
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["raw", "ground truth", "boundary map"]
    assert titles[3].startswith("affinities\n(RGB") and "segmentation" in titles
    assert len(fig.axes) == 6  # five panels and the probability map's colour bar
    assert fig.axes[2].images[0].get_clim() == (0, 1)
    assert "z = 2" in fig.get_suptitle()


def test_panels_default_to_the_middle_section(volume):
    raw, _ = volume
    fig = viz.show_panels(voxel_size=VS, raw=raw)
    assert "z = 3" in fig.get_suptitle()
    assert_array_equal(fig.axes[0].images[0].get_array(), raw[3])


def test_panels_anisotropic_cut_keeps_true_proportions(tmp_path, volume):
    raw, labels = volume
    fig = viz.show_panels(raw=raw, labels=labels, axis=1, z=5, voxel_size=(40, 4, 4))
    assert fig.axes[0].get_aspect() == pytest.approx(10.0)
    assert_array_equal(fig.axes[0].images[0].get_array(), raw[:, 5, :])
    assert "zx section at y = 5" in fig.get_suptitle() and "(20 nm)" in fig.get_suptitle()
    fig.savefig(tmp_path / "y.png")


def test_panels_2d_and_channel_variants(tmp_path, volume):
    raw, labels = volume
    viz.show_panels(voxel_size=VS, raw=raw[0], labels=labels[0], boundaries=True).savefig(
        tmp_path / "2d.png")
    affs_2d = np.random.default_rng(0).random((2,) + raw.shape[1:])
    fig = viz.show_panels(voxel_size=VS, raw=raw[0], affs=affs_2d)
    assert fig.axes[1].images[0].get_array().shape == raw.shape[1:] + (3,)
    # a single-channel network output is a probability map, with its colour bar
    fig = viz.show_panels(voxel_size=VS, seg=labels,
                          prediction=np.zeros((1,) + raw.shape, np.float32))
    assert len(fig.axes) == 3 and fig.axes[0].get_title() == "segmentation"
    # floats outside [0, 1] are auto-ranged
    fig = viz.show_panels(voxel_size=VS,
                          distance=np.broadcast_to(np.linspace(-5, 5, 40), raw.shape).copy())
    assert fig.axes[0].images[0].get_clim() == (-5, 5)
    fig.savefig(tmp_path / "d.png")


def test_panel_errors(volume):
    raw, labels = volume
    with pytest.raises(ValueError, match=r"raw has \(6, 32, 40\), labels has \(6, 10, 40\)"):
        viz.show_panels(voxel_size=VS, raw=raw, labels=labels[:, :10])
    with pytest.raises(ValueError, match="outside 0..5"):
        viz.show_panels(voxel_size=VS, raw=raw, z=6)
    with pytest.raises(ValueError, match=r"\(z, y, x\) or \(y, x\)"):
        viz.show_panels(voxel_size=VS, raw=raw[None])
    with pytest.raises(ValueError, match="2D"):
        viz.show_panels(voxel_size=VS, raw=raw[0], z=1)
    with pytest.raises(ValueError, match="axis"):
        viz.show_panels(voxel_size=VS, raw=raw, axis=3)
    with pytest.raises(ValueError, match=r"at most 3.*\[:3\]"):
        viz.show_panels(voxel_size=VS, affs=np.zeros((6,) + raw.shape, np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        viz.show_panels(voxel_size=VS, raw=raw.tolist())
    with pytest.raises(ValueError, match="at least one panel"):
        viz.show_panels()


# --- slice browser ---------------------------------------------------------

def test_slice_browser_reacts_to_its_controls(volume):
    raw, labels = volume
    pred = np.random.default_rng(1).random(raw.shape).astype(np.float32)
    browser = viz.slice_browser(raw, labels, voxel_size=(40, 4, 4), prediction=pred)
    assert plt.get_fignums() == []  # drawn off pyplot: nothing shows twice
    section, axis = _control(browser, "section"), _control(browser, "cut along")
    first = _png(browser)
    assert first.startswith(b"\x89PNG") and section.value == 3
    section.value = 1
    second = _png(browser)
    assert second != first
    axis.value = 2
    assert (section.max, section.value) == (raw.shape[2] - 1, raw.shape[2] // 2)
    assert _png(browser) != second
    _control(browser, "show labels").value = False
    _control(browser, "opacity").value = 0.9
    assert len(browser.children[-1].outputs) == 1


def test_slice_browser_without_labels_and_errors(volume):
    raw, labels = volume
    browser = viz.slice_browser(raw, voxel_size=VS)
    assert _control(browser, "show labels").disabled
    with pytest.raises(ValueError, match="shape"):
        viz.slice_browser(raw, labels[:, :3], voxel_size=VS)
    with pytest.raises(ValueError, match=r"\(z, y, x\) volume"):
        viz.slice_browser(raw[0], voxel_size=VS)
    with pytest.raises(TypeError, match="integer"):
        viz.slice_browser(raw, labels.astype(np.float32), voxel_size=VS)
    with pytest.raises(ValueError, match="axis"):
        viz.slice_browser(raw, axis=3, voxel_size=VS)


# --- voxel size, scale bar, matched colours, errors ---------------------------


def test_figures_need_a_voxel_size(volume):
    raw, labels = volume
    with pytest.raises(TypeError, match="voxel_size="):
        viz.show_panels(raw=raw, labels=labels)
    with pytest.raises(TypeError, match="voxel_size="):
        viz.slice_browser(raw, labels)
    with pytest.raises(ValueError, match="voxel_size"):
        viz.show_panels(raw=raw, voxel_size=(40, 4))


@pytest.mark.parametrize("nm, expected", [(7.0, 5.0), (10.0, 10.0), (456.0, 200.0),
                                          (999.0, 500.0), (2600.0, 2000.0)])
def test_scale_bar_lengths_are_round(nm, expected):
    from mbl_seg.viz._panels import _nice_length
    assert _nice_length(nm) == expected


def test_scale_bar_is_drawn_in_nm(volume):
    raw, labels = volume
    fig = viz.show_panels(raw=raw, labels=labels, voxel_size=(40, 4, 4))
    texts = [t.get_text() for t in fig.axes[0].findobj(plt.Text)]
    assert "20 nm" in texts  # 40 px x 4 nm = 160 nm wide, a fifth is 32 -> 20 nm
    fig = viz.show_panels(raw=raw[0], voxel_size=(40, 100, 100))  # 4000 nm wide
    assert "500 nm" in [t.get_text() for t in fig.axes[0].findobj(plt.Text)]


def test_matched_labels_give_a_correct_segment_its_neurons_colour():
    gt = np.array([[1, 1, 1, 2, 2, 2, 0, 0]], np.uint64)
    seg = np.array([[8, 8, 9, 5, 5, 5, 4, 4]], np.uint64)
    colours = viz.matched_labels(seg, gt)
    assert colours[0, :2].tolist() == [1, 1] and colours[0, 3:6].tolist() == [2, 2, 2]
    assert colours[0, 2] not in (0, 1, 2)  # a split piece keeps a colour of its own
    assert colours[0, 6] not in (0, 1, 2)  # a segment on unknown ground truth too
    assert len(np.unique(colours)) == len(np.unique(seg))  # no two segments share a colour


def test_show_panels_match_colours_the_segmentation_like_the_ground_truth(volume):
    raw, labels = volume
    seg = (labels + 100) * (labels > 0)
    fig = viz.show_panels(raw=raw, gt=labels, seg=seg, match="gt", voxel_size=VS)
    gt_image, seg_image = (ax.get_images()[-1].get_array() for ax in fig.axes[1:3])
    assert_array_equal(gt_image, seg_image)
    with pytest.raises(ValueError, match="label panel"):
        viz.show_panels(raw=raw, gt=labels, match="raw", voxel_size=VS)


def test_error_map_marks_merges_and_split_pieces():
    gt = np.array([[1, 1, 1, 1, 2, 2, 3, 3, 0]], np.uint64)
    seg = np.array([[5, 5, 5, 6, 7, 7, 7, 7, 7]], np.uint64)
    assert viz.error_map(gt, seg, min_voxels=1).tolist() == [[0, 0, 0, 2, 1, 1, 1, 1, 0]]
    assert not viz.error_map(gt, gt).any()  # a segmentation with itself: no errors


def test_show_errors_counts_what_it_paints(volume):
    raw, labels = volume
    seg = labels.copy()
    seg[labels == 3] = 2  # merge 2 and 3
    seg[:, :8, 4:] = 9  # split 1
    fig = viz.show_errors(labels, seg, raw=raw, voxel_size=VS, z=2)
    assert fig.axes[2].get_title() == "errors: 1 merging segment, 1 split piece"


def test_a_segment_border_one_voxel_off_is_not_a_merge():
    gt = np.zeros((20, 40), np.uint64)
    gt[:, :20], gt[:, 20:] = 1, 2
    seg = gt.copy()
    seg[:, 20] = 1  # the border one column into neuron 2: 20 voxels, 5 % of it
    assert not viz.error_map(gt, seg).any()
    assert viz.error_map(gt, seg, min_fraction=0.0).max() == 1  # counted by voxels alone


# --- LSD panels ------------------------------------------------------------------------------


def test_lsd_panels_group_the_channels_as_rgb_triplets_and_a_size_map():
    lsds = np.random.default_rng(0).random((10, 3, 8, 8)).astype(np.float32)
    panels = viz.lsd_panels(lsds, "truth ")
    assert list(panels) == ["truth offsets zyx", "truth variances zz yy xx",
                            "truth correlations zy zx yx", "truth size"]
    assert_array_equal(panels["truth correlations zy zx yx"], lsds[6:9])
    assert_array_equal(panels["truth size"], lsds[9])
    two_d = viz.lsd_panels(lsds[:6, 0])
    assert two_d["correlation yx"].shape == (8, 8) and two_d["offsets yx"].shape == (2, 8, 8)
    fig = viz.show_panels(voxel_size=(8, 8, 8), z=1, **panels)
    assert len(fig.axes) >= 4
    plt.close(fig)


@pytest.mark.parametrize("bad, error", [(np.zeros((9, 2, 4, 4), np.float32), ValueError),
                                        (np.zeros((10, 4, 4), np.float32), ValueError),
                                        (np.zeros((10, 2, 4, 4), np.uint8), TypeError)])
def test_lsd_panels_refuse_what_is_not_lsds(bad, error):
    with pytest.raises(error, match="lsds"):
        viz.lsd_panels(bad)


def test_show_batch_shows_lsd_offsets_and_their_mask():
    batch = {"raw": np.zeros((1, 4, 8, 8), np.float32),
             "lsds": np.full((10, 4, 8, 8), 0.5, np.float32),
             "lsds_mask": np.ones((1, 4, 8, 8), np.float32)}
    fig = viz.show_batch(batch, voxel_size=(8, 8, 8), z=1)
    titles = [ax.get_title() for ax in fig.axes]
    assert "LSD offsets (RGB = z, y, x)" in titles and "LSD mask (window known)" in titles
    plt.close(fig)


# --- agglomeration: split/merge curves and the threshold slider ----------------------------

def _sweep(n=4):
    from mbl_seg.agglomeration import Sweep

    t = np.linspace(0.1, 0.9, n)
    return Sweep(t, np.linspace(2.0, 0.1, n), np.linspace(0.3, 3.0, n), np.zeros(n),
                 np.arange(n, 0, -1) * 10)


def test_split_merge_curve_marks_the_best_or_the_chosen_threshold():
    fig = viz.plot_split_merge({"mean": _sweep()}, {"watershed": (1.0, 0.8)})
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    best = _sweep().thresholds[np.argmin(_sweep().voi_split + _sweep().voi_merge)]
    assert texts == [f"best t = {best:g}"]
    assert "watershed" in [t.get_text() for t in ax.get_legend().get_texts()]
    fig = viz.plot_split_merge({"mean": _sweep()}, chosen={"mean": 0.9}, limit=2.0)
    assert [t.get_text() for t in fig.axes[0].texts] == ["chosen t = 0.9"]
    assert fig.axes[0].get_xlim() == (0.0, 2.0)


def test_split_merge_curve_explains_bad_input():
    with pytest.raises(TypeError, match="dict"):
        viz.plot_split_merge([_sweep()])
    with pytest.raises(TypeError, match="sweep"):
        viz.plot_split_merge({"mean": np.zeros(3)})
    with pytest.raises(ValueError, match="VOI split, VOI merge"):
        viz.plot_split_merge({"mean": _sweep()}, {"watershed": (1.0, 0.8, 3.0)})
    with pytest.raises(TypeError, match="chosen"):
        viz.plot_split_merge({"mean": _sweep()}, chosen=0.5)


def test_threshold_explorer_redraws_when_the_slider_moves():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 255, (12, 16)).astype(np.uint8)
    truth = np.repeat(np.arange(4, dtype=np.uint64), 4)[None, :].repeat(12, axis=0)
    segs = [rng.integers(0, k + 2, (12, 16)).astype(np.uint64) for k in range(4)]
    box = viz.threshold_explorer(raw, segs, _sweep(), truth=truth, voxel_size=(4, 4),
                                 points={"watershed": (1.0, 1.0)})
    assert plt.get_fignums() == []
    slider, out = box.children
    first = _png(box)
    assert first.startswith(b"\x89PNG")
    assert slider.value == 0.1  # starts at the best threshold
    slider.value = slider.options[-1][1]
    assert _png(box) != first
    with pytest.raises(ValueError, match="one segmentation per threshold"):
        viz.threshold_explorer(raw, segs[:3], _sweep(), voxel_size=(4, 4))
    with pytest.raises(ValueError, match="shape"):
        viz.threshold_explorer(raw, [s[:5] for s in segs], _sweep(), voxel_size=(4, 4))
    with pytest.raises(TypeError, match="voxel_size"):
        viz.threshold_explorer(raw, segs, _sweep())


def _records():
    from mbl_seg.blockwise import BlockRecord

    return [BlockRecord(1, task, b, w, 100 + w, t, t + 1.0, 8 * 16 * 16)
            for task, w0, t0 in (("predict", 0, 0.0), ("fragments", 2, 5.0))
            for b, (w, t) in enumerate(zip([w0, w0 + 1, w0, w0 + 1],
                                           [t0, t0, t0 + 1.2, t0 + 1.1]))]


def test_block_grid_and_timeline_show_every_block():
    from mbl_seg.blockwise import BlockGrid
    from mbl_seg.viz import plot_block_grid, plot_timeline

    grid = BlockGrid((8, 32, 32), (8, 16, 16))
    raw = np.zeros((8, 32, 32), np.uint8)
    fig = plot_block_grid(raw, grid, _records(), z=3)
    assert len(fig.axes) == 2
    assert all(len(ax.patches) == 4 for ax in fig.axes)  # one tinted square per block
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "block 3\nworker 1" in labels  # the worker numbers of the timeline
    fig = plot_timeline(_records())
    assert len(fig.axes[0].patches) == 8  # one bar per block
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["predict",
                                                                           "fragments"]


def test_block_figures_explain_bad_input():
    from mbl_seg.blockwise import BlockGrid
    from mbl_seg.viz import plot_block_grid, plot_timeline

    grid = BlockGrid((8, 32, 32), (8, 16, 16))
    with pytest.raises(ValueError, match="no block records"):
        plot_timeline([])
    with pytest.raises(TypeError, match="BlockRecord"):
        plot_timeline([("predict", 0)])
    with pytest.raises(ValueError, match="differ"):
        plot_block_grid(np.zeros((8, 16, 16)), grid, _records())
    with pytest.raises(ValueError, match="section"):
        plot_block_grid(np.zeros((8, 32, 32)), grid, _records(), z=9)


def test_panel_titles_fit_their_panels_even_when_many_are_shown():
    lsds = np.random.default_rng(1).random((10, 3, 16, 16)).astype(np.float32)
    fig = viz.show_panels(voxel_size=(8, 8, 8), z=1, raw=np.zeros((3, 16, 16), np.uint8),
                          **viz.lsd_panels(lsds, "truth: "), **viz.lsd_panels(lsds, "MTLSD: "),
                          figsize=(18, 2.6))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if ax.get_title():  # colour bars have none
            width = ax.title.get_window_extent(renderer).width
            assert width <= 1.15 * ax.get_window_extent(renderer).width, ax.get_title()
    plt.close(fig)
