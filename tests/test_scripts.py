"""The repository's scripts: the one that makes the shipped checkpoints runs end to end."""

import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mbl_seg import data
from mbl_seg.autocontext import AutoContext
from mbl_seg.checkpoints import load_pretrained
from mbl_seg.data import list_pretrained, pretrained
from mbl_seg.models import UNet
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
    assert "05_affs3d_fly" in list_pretrained()
    for name in list_pretrained():
        net, note = load_pretrained(name)
        # ACRLSD ships its context network only (the LSD network is another shipped file)
        trained = net.context_network if isinstance(net, AutoContext) else net
        info = load_checkpoint(pretrained(name), trained)
        assert note["iterations"] == info["iteration"] > 0
        assert note.get("iterations_total", note["iterations"]) >= note["iterations"]
        assert note["command"].startswith("python scripts/train_course_models.py")
        assert net.out_channels == {"affs": 3, "lsd": 10, "mtlsd": 13, "acrlsd": 3,
                                    "boundaries2d": 1, "affs2d": 4, "malis2d": 2}[
            note.get("model", "affs")]
        assert net.dims == (2 if note.get("model", "").endswith("2d") else 3)
        assert pretrained(name).stat().st_size < 8e6  # small enough to commit
        assert all(torch.isfinite(p).all() for p in net.parameters())


def test_the_script_trains_lsd_networks_and_fine_tunes_on_a_few_sections(tmp_path, monkeypatch):
    script = _script()
    load = script.data.load_dataset

    def small_validation(name):  # the scoring is tested above; keep this test quick
        volume = load(name)
        if not name.endswith("validation"):
            return volume
        return volume._replace(raw=volume.raw[:12, :64, :64], labels=volume.labels[:12, :64, :64])

    monkeypatch.setattr(script.data, "load_dataset", small_validation)
    common = ["--iterations", "1", "--workers", "0", "--runs", str(tmp_path / "runs"),
              "--out", str(tmp_path / "models")]
    assert script.main(["--model", "mtlsd", "--validate-every", "1", *common]) == 0
    note = json.loads((tmp_path / "models" / "06_mtlsd_fly.json").read_text())
    assert note["model"] == "mtlsd" and {"voi_split", "lsd_mse"} <= set(note["validation"])
    # the validation curve: iteration, VOI and the LSD head's MSE and offset correlations
    assert [point["iteration"] for point in note["validation_curve"]] == [1]
    assert {"voi_split", "lsd_mse_interior", "offset_r_z", "offset_r_y", "offset_r_x"} <= set(
        note["validation_curve"][0])
    assert -1 <= note["validation"]["offset_r_y"] <= 1
    # fine-tune the fly network on 4 zebrafish sections (mirrored in z to fit its patch)
    (tmp_path / "models" / "06_mtlsd_fly.pt").rename(tmp_path / "start.pt")
    (tmp_path / "models" / "06_mtlsd_fly.json").rename(tmp_path / "start.json")
    monkeypatch.setattr(script.data, "pretrained", lambda name: tmp_path / "start.pt")
    assert script.main(["--model", "mtlsd", "--domain", "zebrafish", "--start-from",
                        "06_mtlsd_fly", "--sections", "4", *common]) == 0
    tuned = json.loads((tmp_path / "models" / "06_mtlsd_fly_tuned_zebrafish.json").read_text())
    assert tuned["training_sections"] == 4 and tuned["start_from"] == "06_mtlsd_fly"
    assert tuned["voxel_size"] == [36.0, 12.0, 12.0]
    assert [e["iterations"] for e in tuned["earlier_training"]] == [1]


def test_acrlsd_reads_a_shipped_lsd_network_and_training_on_keeps_the_history(tmp_path,
                                                                             monkeypatch):
    script = _script()
    models = tmp_path / "models"
    monkeypatch.setattr(importlib.import_module("mbl_seg.data.pretrained"), "MODELS_DIR", models)
    load = script.data.load_dataset

    def small(name):  # quick: a small validation volume
        volume = load(name)
        if not name.endswith("validation"):
            return volume
        return volume._replace(raw=volume.raw[:12, :64, :64], labels=volume.labels[:12, :64, :64])

    monkeypatch.setattr(script.data, "load_dataset", small)
    common = ["--workers", "0", "--runs", str(tmp_path / "runs"), "--out", str(models)]
    assert script.main(["--model", "lsd", "--iterations", "1", *common]) == 0
    # a patch taller than fly/train's 64 sections: only with the faces mirrored
    acrlsd = ["--model", "acrlsd", "--lsd-from", "06_lsd_fly", "--iterations", "1",
              "--patch", "88", "88", "88", *common]
    with pytest.raises(ValueError, match="--mirror-faces"):
        script.main(acrlsd)
    assert script.main([*acrlsd, "--mirror-faces"]) == 0
    net, note = load_pretrained("06_acrlsd_fly")
    assert isinstance(net, AutoContext) and note["lsd_network"]["name"] == "06_lsd_fly"
    assert {"voi_split", "arand"} <= set(note["validation"]) and note["mirror_faces"]
    # started as an affinity network, the context network predicts what that one predicts
    affinity_net = script.course_net((8.0, 8.0, 8.0), seed=3)
    pair = script.course_net((8.0, 8.0, 8.0), model="acrlsd", lsd_from="06_lsd_fly")
    script.context_from_affinities(pair.context_network, affinity_net)
    x = torch.rand(1, 1, *pair.valid_input_shape(near=(100, 100, 100)))
    assert torch.allclose(pair(x), affinity_net(x[:, :, 20:-20, 20:-20, 20:-20]), atol=1e-5)
    assert (models / "06_acrlsd_fly.pt").stat().st_size < 1e6  # no LSD weights inside
    # the context network started from an affinity network file: that training counts
    assert script.main(["--model", "affs", "--iterations", "1", *common]) == 0
    for suffix in (".pt", ".json"):
        (models / f"05_affs3d_fly{suffix}").rename(tmp_path / f"affs{suffix}")
    assert script.main([*acrlsd, "--mirror-faces", "--context-from", str(tmp_path / "affs.pt"),
                        "--name", "06_acrlsd_on_affs"]) == 0
    branched = json.loads((models / "06_acrlsd_on_affs.json").read_text())
    assert [e["iterations"] for e in branched["earlier_training"]] == [1]
    assert branched["iterations_total"] == 2 and branched["context_from"].endswith("affs.pt")
    # train the shipped LSD network on: its note keeps the first call
    assert script.main(["--model", "lsd", "--start-from", "06_lsd_fly", "--name", "06_lsd_fly",
                        "--force", "--iterations", "2", *common]) == 0
    on = json.loads((models / "06_lsd_fly.json").read_text())
    assert [e["iterations"] for e in on["earlier_training"]] == [1]
    assert on["iterations_total"] == 3 and on["start_from"] == "06_lsd_fly"
    assert on["hours_total"] >= on["hours_this_run"] > 0
    assert "lsd_relative_mse_interior" in on["validation"]
    with pytest.raises(ValueError, match="retrain it"):  # ACRLSD read the old LSDs
        load_pretrained("06_acrlsd_fly")
    # train on from a network file kept elsewhere (work in progress, not shipped)
    (models / "06_lsd_fly.pt").rename(tmp_path / "wip.pt")
    (models / "06_lsd_fly.json").rename(tmp_path / "wip.json")
    assert script.main(["--model", "lsd", "--start-from", str(tmp_path / "wip.pt"),
                        "--name", "06_lsd_fly", "--iterations", "1", *common]) == 0
    assert json.loads((models / "06_lsd_fly.json").read_text())["iterations_total"] == 4


def test_mirrored_faces_supervise_every_section():
    script = _script()
    volume = data.load_dataset("fly/train")
    net = script.course_net((8.0, 8.0, 8.0))
    patch = net.valid_input_shape(near=(96, 96, 96))
    source = script.mirrored_faces(volume, net, patch)
    pad = (patch[0] - net.output_shape(patch)[0]) // 2
    assert source.raw.shape[0] == volume.raw.shape[0] + 2 * pad
    np.testing.assert_array_equal(source.labels[pad:-pad], volume.labels)
    np.testing.assert_array_equal(source.raw[pad - 1], volume.raw[0])  # mirrored
    np.testing.assert_array_equal(source.labels[-pad], volume.labels[-1])
    # the first output section of the lowest patch is the volume's first section
    assert source.labelled_box == ((0, 0, 0), source.raw.shape)


def test_the_script_trains_the_2d_networks_of_notebooks_02_to_04(tmp_path):
    script = _script()
    common = ["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "models")]
    assert script.main(["--model", "malis2d", "--iterations", "3", *common]) == 0
    note = json.loads((tmp_path / "models" / "04_malis2d_fly.json").read_text())
    assert note["iterations"] == 3 and note["phases"] == {"bce": 2,
                                                          "bce_plus_constrained_malis": 1}
    assert note["validation"]["dataset"] == "fly/validation2d"
    assert {"voi_split", "voi_merge", "arand"} <= set(note["validation"])
    assert note["learning_rate"] == 1e-3 and note["patch_shape"] == [128, 128]
    # two resumable checkpoints: the warm-up, then the fine-tuning from it
    args = script._parser().parse_args(["--model", "malis2d", "--iterations", "3", *common])
    args.lr = script.LR_2D  # main's default for the 2D networks
    run = script.run_id(args)
    assert {p.name for p in (tmp_path / "runs").iterdir()} >= {f"04_malis2d_fly_{run}_warmup.pt",
                                                                 f"04_malis2d_fly_{run}.pt"}
    net = script.course_net_2d("malis2d")
    info = load_checkpoint(tmp_path / "models" / "04_malis2d_fly.pt", net)
    assert info["iteration"] == 3 and info["config"] == net.config and len(info["losses"]) == 3
    assert script.main(["--model", "boundaries2d", "--iterations", "1", *common]) == 0
    assert json.loads((tmp_path / "models" / "02_boundaries2d_fly.json").read_text())[
        "offsets"] is None
    assert script.main(["--model", "boundaries2d", "--iterations", "1", *common]) == 1
    assert script.main(["--model", "affs2d", "--sections", "4", *common]) == 2  # 3D only
    assert script.main(["--model", "malis2d", "--iterations", "1", *common]) == 2  # 2 phases


def test_the_2d_batches_are_the_notebooks_batches():
    script = _script()
    volume = data.load_dataset("fly/train2d")
    rng = np.random.default_rng(0)
    batch = script.course_batches_2d(volume, "affs2d")(rng)
    assert batch["raw"].shape == (4, 1, 128, 128) and batch["affs"].shape == (4, 4, 128, 128)
    assert batch["mask"][:, 2, :4].sum() == 0 and batch["mask"][:, 2, 4:].all()  # (-4, 0)
    malis = script.course_batches_2d(volume, "malis2d")(rng)
    assert malis["labels"].dtype == np.uint64 and malis["affs"].shape[1] == 2
    assert script.course_batches_2d(volume, "boundaries2d")(rng)["target"].shape == (
        4, 1, 128, 128)


def test_a_few_sections_are_mirrored_to_fit_the_patch_and_masked_out_of_the_loss():
    script = _script()
    volume = data.load_dataset("zebrafish/train")
    net = script.course_net((8.0, 8.0, 8.0))
    source = script.first_sections(volume, 4, net)
    assert source.raw.shape[0] >= net.valid_input_shape(near=script.PATCH_NEAR)[0]
    pad = (source.raw.shape[0] - 4) // 2
    np.testing.assert_array_equal(source.raw[pad:pad + 4], volume.raw[:4])
    assert source.mask[:pad].sum() == 0 and source.mask[pad:pad + 4].all()
    np.testing.assert_array_equal(source.raw[pad - 1], volume.raw[0])  # mirrored


def test_an_unknown_checkpoint_is_named_with_what_there_is():
    with pytest.raises(FileNotFoundError, match="no shipped checkpoint 'nope'.*train_course"):
        pretrained("nope")
    with pytest.raises(TypeError, match="str"):
        pretrained(5)


def test_validation_scores_the_lsds_in_the_interior_of_the_bar():
    # a 48-section volume (as fly/validation and fly/test) is scored 16 sections off its
    # z faces, not whole in z
    script = _script()
    volume = data.load_dataset("fly/validation")
    volume = volume._replace(raw=volume.raw[:, :64, :64], labels=volume.labels[:, :64, :64])
    net = UNet(dims=3, depth=2, base_features=2, out_channels=10, seed=0)
    target = script.lsds(volume.labels, sigma=script.SIGMA, voxel_size=volume.voxel_size,
                         downsample=script.DOWNSAMPLE)
    means = np.full(10, 0.5)
    scores = script.validation_scores(net, volume, model="lsd", device="cpu", target=target,
                                      means=means)
    out = script.predict_blocks(net, volume.raw, device="cpu", progress=False)
    quality = script.lsd_quality(out, target, means=means, margin=(16, 24, 24))
    assert scores["lsd_mse_interior"] == pytest.approx(quality.mse, rel=1e-5)
    assert scores["lsd_relative_mse_interior"] == pytest.approx(quality.relative_mse, rel=1e-5)
    assert scores["offset_r_z"] == pytest.approx(quality.offset_r[0], abs=1e-6)


def test_the_same_command_resumes_its_run_and_another_starts_its_own():
    script = _script()
    parse = script._parser().parse_args
    base = ["--model", "lsd", "--iterations", "10"]
    assert script.run_id(parse(base)) == script.run_id(parse([*base[:-1], "20"]))  # more
    others = [["--lr", "1e-4"], ["--patch", "96", "96", "96"], ["--mirror-faces"],
              ["--seed", "1"], ["--start-from", "05_affs3d_fly"], ["--domain", "zebrafish"]]
    ids = {script.run_id(parse([*base, *other])) for other in others}
    assert len(ids) == len(others) and script.run_id(parse(base)) not in ids
