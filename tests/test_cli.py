import subprocess
import sys

import pytest

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


def test_make_lab_roots_jupyter_at_the_repository_and_allows_root():
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["make", "-n", "lab"], cwd=root, capture_output=True, text=True)
    line = [ln for ln in done.stdout.splitlines() if "jupyter lab" in ln][-1]
    # solutions/ must be reachable from the notebooks ("Stuck? see solutions/")
    assert "--ServerApp.root_dir=." in line and "default_url=/lab/tree/notebooks" in line
    assert ("--allow-root" in line) == (os.getuid() == 0)


@pytest.mark.parametrize("cpu", [False, True])
def test_make_installs_the_pinned_torch_and_the_cpu_build_when_asked(tmp_path, cpu):
    """`make ... CPU=1` takes torch from PyTorch's CPU index; the default asks the default index."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("Makefile", "pyproject.toml"):  # a copy without .venv: make plans the setup
        shutil.copy(root / name, tmp_path / name)
    done = subprocess.run(["make", "-n", "setup", *(["CPU=1"] if cpu else [])], cwd=tmp_path,
                          capture_output=True, text=True)
    torch_line = next(ln for ln in done.stdout.splitlines() if '"torch==' in ln)
    assert "torch==2.13.0" in torch_line
    assert ("--index-url https://download.pytorch.org/whl/cpu" in torch_line) == cpu
    lines = done.stdout.splitlines()
    assert lines.index(torch_line) < next(i for i, ln in enumerate(lines) if "-e " in ln)


def test_run_writes_an_executed_copy_and_leaves_the_solution_alone(tmp_path, monkeypatch):
    from pathlib import Path

    from mbl_seg import notebooks

    calls = []
    monkeypatch.setattr(notebooks, "execute_notebook",
                        lambda path, output=None, **kw: calls.append((Path(path), output)))
    monkeypatch.chdir(tmp_path)
    nb = tmp_path / "solutions" / "00_x.ipynb"
    assert main(["run", str(nb)]) == 0
    assert calls[-1] == (nb, Path("executed") / "00_x.ipynb")
    assert main(["run", str(nb), "--output-dir", "out"]) == 0
    assert calls[-1] == (nb, Path("out") / "00_x.ipynb")
    assert main(["run", str(nb), "--in-place"]) == 0
    assert calls[-1] == (nb, None)  # only when asked


def test_notebook_commands_without_the_lab_extra_say_what_to_install(monkeypatch, capsys):
    """A hosted runtime installs mbl_seg without JupyterLab and the notebook runners."""
    monkeypatch.delitem(sys.modules, "mbl_seg.notebooks", raising=False)
    monkeypatch.setitem(sys.modules, "nbformat", None)  # import nbformat -> ModuleNotFoundError
    assert main(["exercises", "--check"]) == 1
    err = capsys.readouterr().err
    assert "needs nbformat" in err and "mbl-seg[lab]" in err


def test_the_leaderboards_help_names_every_method(capsys):
    from mbl_seg.leaderboard import METHODS

    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    missing = [key for key in METHODS if f" {key} " not in f" {shown} "]
    assert not missing, f"--methods help does not name {missing}"
