"""The repository's scripts: the one that makes the shipped checkpoints runs end to end."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from mbl_seg.data import list_pretrained, pretrained
from mbl_seg.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "train_course_models", ROOT / "scripts" / "train_course_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_script_makes_a_loadable_checkpoint_and_a_note(tmp_path):
    script = _script()
    args = ["--iterations", "2", "--workers", "0", "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "models")]
    assert script.main(args) == 0
    note = json.loads((tmp_path / "models" / "05_affs3d_fly.json").read_text())
    assert note["iterations"] == 2 and note["command"].endswith(" ".join(args))
    assert {"voi_split", "voi_merge", "arand"} <= set(note["validation"])
    net = script.course_net((8.0, 8.0, 8.0))
    info = load_checkpoint(tmp_path / "models" / "05_affs3d_fly.pt", net)
    assert info["iteration"] == 2 and info["config"] == net.config
    assert script.main(args) == 1  # a shipped checkpoint is never replaced without --force


def test_every_shipped_checkpoint_loads_into_its_network_and_says_how_it_was_made():
    script = _script()
    assert "05_affs3d_fly" in list_pretrained()
    for name in list_pretrained():
        domain = name.rsplit("_", 1)[-1]
        voxel_size = {"fly": (8.0, 8.0, 8.0), "zebrafish": (36.0, 12.0, 12.0)}[domain]
        net = script.course_net(voxel_size)
        info = load_checkpoint(pretrained(name), net)
        note = json.loads(pretrained(name).with_suffix(".json").read_text())
        assert note["iterations"] == info["iteration"] > 0
        assert note["command"].startswith("python scripts/train_course_models.py")
        assert pretrained(name).stat().st_size < 8e6  # small enough to commit
        assert all(torch.isfinite(p).all() for p in net.parameters())


def test_an_unknown_checkpoint_is_named_with_what_there_is():
    with pytest.raises(FileNotFoundError, match="no shipped checkpoint 'nope'.*train_course"):
        pretrained("nope")
    with pytest.raises(TypeError, match="str"):
        pretrained(5)
