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
