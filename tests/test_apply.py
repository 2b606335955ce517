"""A shipped network on a volume of one's own (mbl_seg.apply)."""

import numpy as np
import pytest

from mbl_seg import data, evaluate
from mbl_seg.apply import network_voxel_size, rescore, score_volume, segment_volume


def test_the_voxel_size_comes_from_the_note_or_its_domain():
    assert network_voxel_size({"voxel_size": [36, 12, 12]}) == (36.0, 12.0, 12.0)
    assert network_voxel_size({"validation": {"dataset": "fly/validation"}}) == (8.0, 8.0, 8.0)
    assert network_voxel_size({"validation": {"dataset": "zebrafish/validation"}}) == (
        36.0, 12.0, 12.0)
    with pytest.raises(ValueError, match="neither"):
        network_voxel_size({})


@pytest.mark.parametrize("kwargs, match", [
    ({"network": "06_lsd_fly"}, "predicts no 3D affinities"),
    ({"scoring": "max"}, "scoring must be one of"),
    ({"threshold": 1.5}, r"threshold must be in \[0, 1\]"),
])
def test_what_cannot_work_is_refused_up_front(kwargs, match):
    raw = np.zeros((8, 32, 32), np.uint8)
    with pytest.raises(ValueError, match=match):
        segment_volume(raw, (8, 8, 8), **{"threshold": 0.5, **kwargs})


def test_anisotropic_sections_are_refused_not_interpolated():
    with pytest.raises(ValueError, match="as thick as their pixels"):
        segment_volume(np.zeros((8, 32, 32), np.uint8), (40, 4, 4), threshold=0.5)


def test_a_real_crop_is_resampled_segmented_and_brought_back():
    test = data.load_dataset("fibsem/test")
    raw, labels = test.raw[:24, :64, :64], test.labels[:24, :64, :64]
    result = segment_volume(raw, test.voxel_size, threshold=0.5, device="cpu")
    assert result.factors == (1.25, 1.25, 1.25)
    assert result.affinities.shape == (3, 30, 80, 80)
    assert result.segmentation.shape == raw.shape
    assert result.report.startswith("ready: (30, 80, 80) voxels of (8, 8, 8) nm")
    assert evaluate.evaluate(labels, result.segmentation).voi_total < 3.0
    with pytest.raises(ValueError, match="Resample first"):
        segment_volume(raw, test.voxel_size, threshold=0.5, device="cpu", resample=False)


class _Crop:
    def __init__(self, ds, crop):
        self.raw, self.labels, self.voxel_size = ds.raw[crop], ds.labels[crop], ds.voxel_size


def test_rescore_is_score_volume_at_that_point_without_predicting_again():
    """Notebook 09's "fly choice" row scores section 3's prediction again (rescore)."""
    real = data.load_dataset("fibsem/test")
    test, other = _Crop(real, np.s_[:16, :48, :48]), _Crop(real, np.s_[16:32, :48, :48])
    chosen = score_volume("05_affs3d_fly", test, at=("mean", 0.5), device="cpu")
    again = rescore(chosen, test, at=("median", 0.3))
    direct = score_volume("05_affs3d_fly", test, at=("median", 0.3), device="cpu")
    assert (again.scoring, again.threshold) == ("median", 0.3)
    np.testing.assert_array_equal(again.segmentation, direct.segmentation)
    assert again.scores == direct.scores
    assert again.affinities is chosen.affinities and again.test is None
    with pytest.raises(ValueError, match="not the volume scored was made of"):
        rescore(chosen, other, at=("mean", 0.5))
    with pytest.raises(ValueError, match="scoring must be one of"):
        rescore(chosen, test, at=("max", 0.5))
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        rescore(chosen, test, at=("mean", 5))
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        score_volume("05_affs3d_fly", test, at=("mean", 5), device="cpu")
    with pytest.raises(TypeError, match="the result of score_volume"):
        rescore(chosen.affinities, test, at=("mean", 0.5))


def test_the_instructors_recipe_for_ones_own_volume_runs_as_written(tmp_path, monkeypatch):
    """docs/instructors.md's code block, on a small zarr of the real volume (10 nm)."""
    import re
    from pathlib import Path

    from mbl_seg import io

    guide = (Path(__file__).resolve().parents[1] / "docs" / "instructors.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", guide, re.S)
                 if "segment_volume" in b)
    test = data.load_dataset("fibsem/test")
    io.write_volume(tmp_path / "my_volume.zarr", "raw", test.raw[:16, :48, :48],
                    voxel_size=test.voxel_size)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(block, "instructors.md", "exec"), namespace)
    assert namespace["result"].segmentation.shape == (16, 48, 48)
    assert namespace["result"].factors == (1.25, 1.25, 1.25)


def test_a_network_you_trained_is_rebuilt_from_its_checkpoint(tmp_path):
    import torch

    from mbl_seg.apply import load_trained
    from mbl_seg.models import UNet
    from mbl_seg.train import train

    net = UNet(dims=3, depth=2, base_features=2, out_channels=3, padding="same", seed=0)

    def make_batch(rng):
        return {"raw": rng.random((1, 1, 8, 16, 16), dtype=np.float32),
                "target": rng.random((1, 3, 8, 16, 16), dtype=np.float32)}

    result = train(net, make_batch, lambda out, b: torch.nn.functional.mse_loss(out, b["target"]),
                   iterations=2, device="cpu", checkpoint=tmp_path / "mine.pt", progress=False)
    mine = load_trained(tmp_path / "mine.pt", voxel_size=(8, 8, 8))
    assert mine.note["iterations"] == 2 and mine.note["voxel_size"] == [8.0, 8.0, 8.0]
    for a, b in zip(mine.model.state_dict().values(), result.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    assert network_voxel_size(mine.note) == (8.0, 8.0, 8.0)
    with pytest.raises(FileNotFoundError, match="train the network"):
        load_trained(tmp_path / "nothing.pt", voxel_size=(8, 8, 8))
    with pytest.raises(TypeError, match="shipped network's name"):
        segment_volume(np.zeros((8, 16, 16), np.uint8), (8, 8, 8), threshold=0.5, network=3)
