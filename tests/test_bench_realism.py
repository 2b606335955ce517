"""Tests for bench/realism.py on tiny hand-made volumes (no real data)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import realism

PX = 8.0  # nm


def membrane_image(signed_px: np.ndarray, *, fwhm_nm: float = 30.0, depth: float = 0.5):
    """Plateau 200 with a Gaussian dip of known FWHM at signed distance 0 (px)."""
    sigma = fwhm_nm / (2 * np.sqrt(2 * np.log(2)))
    return 200 * (1 - depth * np.exp(-(signed_px * PX) ** 2 / (2 * sigma**2)))


def discs(radius_px=(30.0, 18.0), size=160):
    """Dense labels: two discs (ids 1, 2) in a surround (id 3); signed px to the nearest rim."""
    yy, xx = np.indices((size, size)).astype(float)
    centres = [(size * 0.3 + 0.3, size * 0.32 - 0.2), (size * 0.72, size * 0.7 + 0.4)]
    signed = [np.hypot(yy - cy, xx - cx) - r for (cy, cx), r in zip(centres, radius_px)]
    labels = np.full((size, size), 3, np.uint64)
    for i, s in enumerate(signed):
        labels[s < 0] = i + 1
    return labels, np.min(np.abs(signed), axis=0)


def test_label_edges_both_sides_and_zeros():
    labels = np.array([[1, 1, 2, 2],
                       [1, 1, 0, 2],
                       [1, 1, 1, 2]])
    expected = np.array([[0, 1, 1, 0],
                         [0, 1, 1, 1],
                         [0, 0, 1, 1]], bool)
    assert_array_equal(realism.label_edges(labels), expected)


@pytest.mark.parametrize("zero_line", [False, True])
def test_contact_distance_straight_contact(zero_line):
    labels = np.ones((12, 12), int)
    labels[:, 6:] = 2
    if zero_line:  # a 1 px line of 0 centred on column 6
        labels[:, 6] = 0
        labels[:, 7:] = 2
        expected = [2, 1, 0.25, 1, 2]  # columns 4..8, px from the centre of column 6
    else:  # contact on the edge between columns 5 and 6
        expected = [1.5, 0.5, 0.5, 1.5, 2.5]
    distance, valid = realism.contact_distance(labels, PX)
    assert_allclose(distance[6, 4:9], np.array(expected) * PX)
    assert valid.all()


def test_contact_distance_ignores_wide_gaps():
    labels = np.zeros((10, 40), int)
    labels[:, :5], labels[:, 35:] = 1, 2  # a 30 px (240 nm) gap: not a membrane
    assert not realism.contact_distance(labels, PX)[1].any()


def test_profile_width_depth_of_a_gaussian():
    d = np.linspace(0, 100, 401)
    width, depth = realism.profile_width_depth(d, membrane_image(d / PX, fwhm_nm=28.0,
                                                                 depth=0.4))
    assert_allclose([width, depth], [28.0, 0.4], rtol=1e-3)


def test_components_areas_circles_and_border():
    labels, _ = discs()
    area, inscribed, on_border = realism.components(labels, PX)
    assert_array_equal(np.sort(on_border), [False, False, True])  # the surround touches
    order = np.argsort(-area[~on_border])
    r_nm = np.array([30.0, 18.0]) * PX
    assert_allclose(area[~on_border][order], np.pi * r_nm**2, rtol=0.03)
    # pixel edges: a rasterised disc's inscribed circle comes out 1-2 px narrow
    assert_allclose(inscribed[~on_border][order], 2 * r_nm, atol=2 * PX)


def test_weighted_median():
    assert realism.weighted_median(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 5.0])) == 2.0


@pytest.mark.parametrize("zero_rim", [False, True])
def test_volume_stats_on_two_discs(zero_rim):
    labels, rim_px = discs()
    raw = membrane_image(rim_px)
    if zero_rim:  # real-data convention: a 1 px line of 0 on the membranes
        labels = np.where(realism.label_edges(labels) & (rim_px < 0.5), 0, labels)
    raw = np.repeat(raw[None], 3, axis=0).round().astype(np.uint8)
    stats = realism.volume_stats(raw, np.repeat(labels[None], 3, axis=0), (PX, PX, PX))
    assert_allclose(stats["membrane_width_nm"], 30.0, rtol=0.15)
    assert_allclose(stats["membrane_depth"], 0.5, atol=0.05)
    # the off-border discs only: 480 and 288 nm wide; the 480 nm one holds more area
    assert_allclose(stats["median_diameter_nm"], (480 + 288) / 2, rtol=0.03)
    assert_allclose(stats["weighted_median_diameter_nm"], 480, rtol=0.03)
    # no disc is wider than 500 nm, the surround (touching the border) is
    surround = 1 - np.pi * (30.0**2 + 18.0**2) / 160**2
    assert_allclose(stats["wide_area_pct"], 100 * surround, rtol=0.03)
    assert 0.5 < stats["boundary_interior"] < 1 and stats["contrast_to_noise"] > 1
    assert stats["dark_interior_pct"] == 0
    assert np.isfinite(stats["spectrum_slope"])


def test_parse_spec():
    assert realism.parse_spec("a/b.npz:8") == (Path("a/b.npz"), None, (8.0, 8.0, 8.0))
    assert realism.parse_spec("b.npz#raw_test,labels_test:50,4,4") == (
        Path("b.npz"), "raw_test,labels_test", (50.0, 4.0, 4.0))
    assert realism.parse_spec("c.zarr#fly/test") == (Path("c.zarr"), "fly/test", None)


def test_load_volume_stacks_npz_pairs(tmp_path):
    path = tmp_path / "v.npz"
    a = np.zeros((2, 5, 6), np.uint8)
    np.savez(path, raw=a, labels=a + 1, raw_test=a, labels_test=a + 2, other=a)
    name, raw, labels, vs = realism.load_volume(f"{path}:10")
    assert (name, raw.shape, vs) == ("v", (4, 5, 6), (10.0, 10.0, 10.0))
    assert_array_equal(np.unique(labels), [1, 2])
    assert realism.load_volume(f"{path}#raw_test,labels_test:10")[2].max() == 2
