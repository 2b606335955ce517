import matplotlib.pyplot as plt
import numpy as np
import pytest

from mbl_seg import viz


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture
def volume():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 255, (6, 32, 40), dtype=np.uint8)
    labels = np.zeros((6, 32, 40), np.uint64)
    labels[:, :16], labels[:, 16:, :20], labels[:, 16:, 20:] = 1, 2, 3
    return raw, labels


def test_colors_depend_on_the_id_only():
    a = viz.label_colors([5, 17, 99])
    b = viz.label_colors([17, 123456789, 5])
    np.testing.assert_array_equal(a[1], b[0])
    np.testing.assert_array_equal(a[0], b[2])
    assert not np.array_equal(a[0], a[1])
    assert viz.label_colors([0])[0, 3] == 0


def test_label_rgba(volume):
    _, labels = volume
    rgba = viz.label_rgba(labels[0], alpha=0.3)
    assert rgba.shape == labels[0].shape + (4,) and rgba.dtype == np.float32
    assert np.allclose(rgba[labels[0] > 0, 3], 0.3)
    with pytest.raises(TypeError):
        viz.label_rgba(labels[0].astype(float))


def test_panels_render_and_save(tmp_path, volume):
    raw, labels = volume
    pred = np.random.default_rng(1).random(raw.shape).astype(np.float32)
    affs = np.random.default_rng(2).random((3,) + raw.shape).astype(np.float32)
    fig = viz.show_panels(raw=raw, ground_truth=labels, boundary_map=pred,
                          affinities=affs, segmentation=labels + 1, z=2)
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert [ax.get_title() for ax in fig.axes][:2] == ["raw", "ground truth"]
    # anisotropic cut through y, 2D input
    viz.show_panels(raw=raw, labels=labels, axis=1, voxel_size=(40, 4, 4)).savefig(tmp_path / "y.png")
    viz.show_panels(raw=raw[0], labels=labels[0]).savefig(tmp_path / "2d.png")
    viz.show_sections(raw, labels, voxel_size=(40, 4, 4)).savefig(tmp_path / "s.png")


def test_panel_errors(volume):
    raw, labels = volume
    with pytest.raises(ValueError, match="same"):
        viz.show_panels(raw=raw, labels=labels[:, :10])
    with pytest.raises(ValueError, match="outside"):
        viz.show_panels(raw=raw, z=6)
    with pytest.raises(ValueError, match="dimensions"):
        viz.overlay(raw[None])


def test_slice_browser_reacts(volume):
    raw, labels = volume
    browser = viz.slice_browser(raw, labels, voxel_size=(8, 8, 8))
    (axis_w, show_w), (index_w, alpha_w), out = [c.children for c in browser.children[:2]] + [
        browser.children[2]]
    before = len(out.outputs)
    index_w.value = 1
    axis_w.value = 2
    assert index_w.max == raw.shape[2] - 1
    assert len(out.outputs) >= before
    with pytest.raises(ValueError, match="shape"):
        viz.slice_browser(raw, labels[:, :3])
