from pathlib import Path

import pytest

from mbl_seg import env


def test_cpu_means_fast(monkeypatch):
    monkeypatch.delenv("MBL_SEG_MODE", raising=False)
    assert env.select_mode(device="cpu") == "fast"
    assert env.select_mode(device="cuda") == "full"


def test_overrides(monkeypatch):
    monkeypatch.setenv("MBL_SEG_MODE", "full")
    assert env.select_mode(device="cpu") == "full"
    assert env.select_mode("fast", device="cpu") == "fast"
    cfg = env.setup(device="cpu", verbose=False)
    assert cfg.mode == "full" and cfg.pick(1, 2) == 2 and not cfg.amp


def test_bad_mode_and_device(monkeypatch):
    monkeypatch.delenv("MBL_SEG_DEVICE", raising=False)
    with pytest.raises(ValueError, match="mode"):
        env.select_mode("turbo", device="cpu")
    with pytest.raises(ValueError, match="device"):
        env.select_device("tpu")


def test_report_has_the_essentials():
    info = env.report()
    for key in ("python", "torch", "zarr", "device", "mode", "memory"):
        assert info[key]


def test_checkpoints_go_to_the_notebooks_folder_or_the_one_the_environment_names(monkeypatch,
                                                                                 tmp_path):
    monkeypatch.delenv("MBL_SEG_CHECKPOINTS", raising=False)
    cfg = env.Setup("cpu", "fast", False)
    assert cfg.checkpoint("02_unet2d") == Path("checkpoints/02_unet2d_fast.pt")
    assert env.Setup("cuda", "full", True).checkpoint("05_affs", ".zarr").name == "05_affs_full.zarr"
    monkeypatch.setenv("MBL_SEG_CHECKPOINTS", str(tmp_path))
    assert cfg.checkpoint("02_unet2d") == tmp_path / "02_unet2d_fast.pt"


@pytest.mark.parametrize("name, suffix", [("", ".pt"), ("../x", ".pt"), ("a", "pt")])
def test_a_checkpoint_name_is_a_plain_file_name(name, suffix):
    with pytest.raises(ValueError, match="checkpoint name|suffix"):
        env.Setup("cpu", "fast", False).checkpoint(name, suffix)


def test_a_checkpoint_name_that_is_not_a_str_is_a_type_error():
    with pytest.raises(TypeError, match="a str like '02_unet2d', got int"):
        env.Setup("cpu", "fast", False).checkpoint(3)


def test_threads_and_seed_come_from_the_environment_and_arguments_win(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("MBL_SEG_THREADS", "1")
    monkeypatch.setenv("MBL_SEG_SEED", "3")
    try:
        cfg = env.setup(mode="fast", device="cpu", verbose=False)
        assert torch.get_num_threads() == 1 and cfg.seed == 3
        assert env.setup(mode="fast", device="cpu", seed=5, verbose=False).seed == 5
    finally:
        torch.set_num_threads(before)
    monkeypatch.delenv("MBL_SEG_THREADS")
    monkeypatch.delenv("MBL_SEG_SEED")
    assert env.select_threads() is None and env.select_seed() == 0


@pytest.mark.parametrize("variable, value", [("MBL_SEG_THREADS", "0"), ("MBL_SEG_THREADS", "two"),
                                             ("MBL_SEG_SEED", "-1"), ("MBL_SEG_SEED", "1.5")])
def test_a_bad_thread_count_or_seed_says_what_was_expected(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=f"{variable}.*whole number.*{value!r}"):
        env.setup(mode="fast", device="cpu", verbose=False)


def test_the_setup_line_names_the_thread_count_and_a_seed_other_than_0(monkeypatch, capsys):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("MBL_SEG_THREADS", "1")
    try:
        env.setup(mode="fast", device="cpu", seed=2)
    finally:
        torch.set_num_threads(before)
    assert "seed: 2 | torch threads: 1" in capsys.readouterr().out


def test_a_run_with_another_seed_keeps_its_own_checkpoints():
    first, other = env.Setup("cpu", "fast", False), env.Setup("cpu", "fast", False, seed=1)
    assert first.checkpoint("02_unet2d") != other.checkpoint("02_unet2d")
