import subprocess
import sys

from mbl_seg.cli import main


def test_check_prints_mode(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "mode" in out and "torch" in out


def test_data_command(tmp_path, monkeypatch, capsys):
    from mbl_seg import data

    monkeypatch.setitem(data.DATASETS, "fly/train", ("fly", (8, 32, 32), 1))
    assert main(["data", "fly/train", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "course.zarr" / "fly" / "train" / "raw").exists()


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "mbl_seg", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "exercises" in result.stdout
