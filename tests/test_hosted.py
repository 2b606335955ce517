"""mbl_seg.hosted: the notebooks' first cell, on a hosted runtime and locally.

The last tests run the first cell as on a fresh Colab runtime: a wheel of this
repository, a new virtual environment with nothing but torch in it (as Colab has
torch already), no make and no clone, and a fake ``google.colab``.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import time
import types
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from mbl_seg import cli, hosted
from mbl_seg.data import DATASETS, list_pretrained

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "05_affs3d_fly"


@pytest.fixture
def not_hosted(monkeypatch):
    """No hosted runtime in sight, whatever machine the tests run on."""
    for name in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


@pytest.fixture
def fake_colab(monkeypatch, not_hosted):
    """A ``google.colab`` module whose widget-manager switch counts its calls."""
    calls = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("on")
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = sys.modules.get("google") or types.ModuleType("google")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    return calls


@pytest.fixture
def small_datasets():
    """Two small course datasets instead of the six real ones (seconds, not 20 s).

    The registry is restored as it was, in its order (monkeypatch's delitem would put the
    names back in reverse order, and list_datasets() lists them in registry order)."""
    saved = dict(DATASETS)
    DATASETS.clear()
    DATASETS.update({"fly/train": ("fly", (16, 48, 48), 1),
                     "zebrafish/test": ("zebrafish", (16, 48, 48), 13)})
    try:
        yield ("fly/train", "zebrafish/test")
    finally:
        DATASETS.clear()
        DATASETS.update(saved)


# --- is_hosted, setup ------------------------------------------------------------------


@pytest.mark.parametrize("variable, value, runtime", [
    (None, None, None),
    ("COLAB_RELEASE_TAG", "release-colab_20250101", "colab"),
    ("KAGGLE_KERNEL_RUN_TYPE", "Interactive", "kaggle"),
    ("KAGGLE_KERNEL_RUN_TYPE", "", None),  # set but empty: not Kaggle
])
def test_is_hosted_names_the_runtime_from_its_variables(monkeypatch, not_hosted, variable,
                                                        value, runtime):
    if variable:
        monkeypatch.setenv(variable, value)
    assert hosted.is_hosted() == runtime


def test_is_hosted_knows_colab_by_its_module(fake_colab):
    assert hosted.is_hosted() == "colab"


def test_setup_does_nothing_locally(tmp_path, monkeypatch, not_hosted, capsys):
    monkeypatch.setenv("MBL_SEG_DATA", str(tmp_path / "data"))
    done = hosted.setup()
    assert done == hosted.HostedSetup(runtime=None, acted=False)
    assert not (tmp_path / "data").exists() and list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")


def test_setup_loads_no_library_locally(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE")}
    env["MBL_SEG_DATA"] = str(tmp_path / "data")
    code = ("import sys, mbl_seg.hosted\nmbl_seg.hosted.setup()\n"
            "print(sorted(m for m in ('torch', 'numpy', 'zarr', 'tqdm') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    assert not (tmp_path / "data").exists()


def test_setup_on_colab_turns_widgets_on_and_makes_the_data(tmp_path, monkeypatch, fake_colab,
                                                             small_datasets, capsys):
    monkeypatch.setenv("MBL_SEG_DATA", str(tmp_path / "data"))
    done = hosted.setup()
    store = tmp_path / "data" / "course.zarr"
    assert (done.runtime, done.acted, done.widgets) == ("colab", True, True)
    assert fake_colab == ["on"]
    assert done.data == store and done.datasets == small_datasets
    assert all((store / name / "raw").is_dir() for name in small_datasets)
    assert SHIPPED in done.checkpoints and done.checkpoints == tuple(list_pretrained())
    assert done.restart == () and done.versions["mbl_seg"] and done.versions["torch"]
    out = capsys.readouterr().out
    assert "on colab" in out and "widget manager is on" in out
    assert "2 datasets made in" in out and str(store) in out
    assert f"shipped networks: {len(done.checkpoints)} (" in out

    # again (the cell run a second time): the data are checked, not made again
    stamps = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    again = hosted.setup()
    assert again.data == store and fake_colab == ["on", "on"]
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == stamps
    assert "2 datasets checked in" in capsys.readouterr().out


def test_a_copy_without_the_shipped_networks_is_told_how_to_get_them(tmp_path, monkeypatch,
                                                                     fake_colab, small_datasets,
                                                                     capsys):
    import mbl_seg.data

    monkeypatch.setenv("MBL_SEG_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(mbl_seg.data, "list_pretrained", lambda: [])
    done = hosted.setup()
    assert done.acted and done.checkpoints == ()
    out = capsys.readouterr().out
    assert "shipped networks: none in" in out and "pip wheel --no-deps ." in out


@pytest.mark.parametrize("how", ["kaggle", "forced"])
def test_setup_elsewhere_makes_the_data_without_colab_widgets(tmp_path, monkeypatch, not_hosted,
                                                              small_datasets, capsys, how):
    monkeypatch.setenv("MBL_SEG_DATA", str(tmp_path / "data"))
    if how == "kaggle":
        monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    done = hosted.setup(force=how == "forced", verbose=False)
    assert done.acted and not done.widgets
    assert done.runtime == ("kaggle" if how == "kaggle" else None)
    assert done.datasets == small_datasets and (done.data / "fly/train" / "labels").is_dir()
    assert capsys.readouterr().out == ""  # verbose=False


def test_setup_asks_for_a_restart_when_pip_replaced_a_loaded_library(tmp_path, monkeypatch,
                                                                    not_hosted, capsys):
    monkeypatch.setenv("MBL_SEG_DATA", str(tmp_path / "data"))
    old = types.ModuleType("old_pytest")
    old.__version__ = "0.0.1"  # loaded; the installed distribution (pytest) is newer
    monkeypatch.setitem(sys.modules, "old_pytest", old)
    monkeypatch.setattr(hosted, "_WATCHED", {"old_pytest": "pytest"})
    done = hosted.setup(force=True)
    assert done.acted and done.restart == (
        f"old_pytest 0.0.1 loaded, {metadata.version('pytest')} installed",)
    assert done.data is None and not (tmp_path / "data").exists()
    assert "restart the runtime" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    ({"force": "yes"}, "force must be True or False, got str"),
    ({"verbose": 1}, "verbose must be True or False, got int"),
])
def test_setup_refuses_what_is_not_a_bool(kwargs, message):
    with pytest.raises(TypeError, match=message):
        hosted.setup(**kwargs)


# --- the first cell ------------------------------------------------------------------------


def test_the_first_cell_is_short_and_runs_on_the_standard_library_until_mbl_seg_exists():
    cell = hosted.first_cell_source()
    lines = cell.splitlines()
    assert len(lines) <= 15 and lines[0].startswith("# ") and not cell.endswith("\n")
    assert all(len(line) <= 99 for line in lines)
    assert json.dumps(hosted.INSTALL_SOURCE) in cell and '"MBL_SEG_SOURCE"' in cell
    tree = ast.parse(cell)
    imported = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module)
    assert imported[-1] == "mbl_seg.hosted"
    before = {name.split(".")[0] for name in imported[:-1]}
    assert before and before <= set(sys.stdlib_module_names), before
    # the last statement is the setup call; its result is not shown (the `;`)
    assert isinstance(tree.body[-1], ast.Expr) and lines[-1].split("#")[0].rstrip().endswith(";")


def test_the_cli_prints_the_first_cell(capsys):
    assert cli.main(["first-cell"]) == 0
    assert capsys.readouterr().out == hosted.first_cell_source() + "\n"


def test_every_solution_notebook_starts_with_the_first_cell():
    cell = hosted.first_cell_source()
    notebooks = sorted((ROOT / "solutions").glob("*.ipynb"))
    assert notebooks
    wrong = []
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        source = first["source"]
        if (source if isinstance(source, str) else "".join(source)) != cell:
            wrong.append(path.name)
    assert not wrong, f"their first code cell is not `mbl-seg first-cell`: {wrong}"


# --- a fresh hosted runtime ----------------------------------------------------------------


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 900), check=False, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _environment(venv: Path, **extra) -> dict[str, str]:
    """This process's environment without its venv, Python, mbl_seg or hosted settings."""
    drop = ("MBL_SEG_", "COLAB_", "KAGGLE_", "PYTHON", "VIRTUAL_ENV", "CONDA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = str(venv / "bin")  # the venv's own tools only: no make
    env["PIP_COMPILE"] = "0"  # no .pyc for all of torch and jupyterlab (saves ~10 s here)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of this repository, built from a copy (the repository gets no build/)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "mbl_seg", source / "mbl_seg",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheels")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", out, source])
    (built,) = out.glob("mbl_seg-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new virtual environment with torch only, as a hosted runtime has it."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    _run([sys.executable, "-m", "venv", venv])
    # this environment's torch build (here the CPU wheel), never an unpinned one
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q",
          f"torch=={metadata.version('torch')}"], env=_environment(venv))
    return venv


@pytest.fixture(scope="module")
def colab(fresh_venv, wheel, tmp_path_factory):
    """The first cell, run once in the fresh venv on a (fake) Colab runtime."""
    where = tmp_path_factory.mktemp("colab")
    output = where / "fake" / "google" / "colab" / "output.py"  # google: a namespace package
    output.parent.mkdir(parents=True)
    (output.parent / "__init__.py").write_text("")
    output.write_text("import os\nfrom pathlib import Path\n\n\n"
                      "def enable_custom_widget_manager():\n"
                      "    Path(os.environ['FAKE_COLAB_MARKER']).write_text('on')\n")
    work = where / "content"  # the notebook's folder: not a clone
    work.mkdir()
    env = _environment(fresh_venv, MBL_SEG_SOURCE=wheel, COLAB_RELEASE_TAG="test",
                       PYTHONPATH=where / "fake", MBL_SEG_DATA=where / "data",
                       FAKE_COLAB_MARKER=where / "widgets-on")
    python = fresh_venv / "bin" / "python"
    before = _run([python, "-c", "import importlib.util as u; print(u.find_spec('mbl_seg'))"],
                  cwd=work, env=env)
    start = time.perf_counter()
    done = _run([python, "-c", hosted.first_cell_source()], cwd=work, env=env)
    return types.SimpleNamespace(where=where, work=work, env=env, python=python, done=done,
                                 before=before.stdout.strip(),
                                 seconds=time.perf_counter() - start)


def test_the_wheel_ships_the_checkpoints(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in list_pretrained():
        assert {f"mbl_seg/data/models/{model}.pt", f"mbl_seg/data/models/{model}.json"} <= names
    assert f"mbl_seg/data/models/{SHIPPED}.pt" in names and "mbl_seg/hosted.py" in names


def test_the_fresh_environment_has_no_mbl_seg_and_no_make(colab, fresh_venv):
    assert colab.before == "None"  # before the first cell
    assert shutil.which("make", path=colab.env["PATH"]) is None
    assert not (colab.work / "pyproject.toml").exists()
    cfg = (fresh_venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg


def test_the_first_cell_installs_the_course_on_a_fresh_colab(colab, fresh_venv):
    out = colab.done.stdout
    assert out.startswith(f"installing {colab.env['MBL_SEG_SOURCE']}")
    assert (colab.where / "widgets-on").read_text() == "on"
    store = colab.where / "data" / "course.zarr"
    assert all((store / name / "raw").is_dir() for name in DATASETS)
    assert f"{len(DATASETS)} datasets made" in out and str(store) in out
    assert f"shipped networks: {len(list_pretrained())} (" in out
    code = ("import mbl_seg, importlib.metadata as m\n"
            "print(mbl_seg.__file__)\nprint(m.version('torch'))")
    where = _run([colab.python, "-c", code], cwd=colab.work, env=colab.env).stdout.split()
    assert Path(where[0]).is_relative_to(fresh_venv)  # installed there, not this repository
    assert where[1] == metadata.version("torch")  # pip kept the torch it found
    print(f"first cell on a fresh runtime: {colab.seconds:.0f} s")


def test_a_shipped_network_loads_in_the_fresh_environment(colab, fresh_venv):
    code = (f"from mbl_seg.checkpoints import load_pretrained\nfrom mbl_seg.data import pretrained\n"
            f"net, note = load_pretrained({SHIPPED!r})\n"
            f"print(type(net).__name__, net.training, pretrained({SHIPPED!r}))\n"
            "print(note['command'])")
    out = _run([colab.python, "-c", code], cwd=colab.work, env=colab.env).stdout.splitlines()
    kind, training, path = out[0].split()
    assert (kind, training) == ("UNet", "False")
    assert Path(path).is_relative_to(fresh_venv) and Path(path).is_file()
    assert out[1].startswith("python scripts/train_course_models.py")


def test_running_the_first_cell_again_installs_nothing(colab):
    env = dict(colab.env, MBL_SEG_SOURCE=str(colab.where / "no-such.whl"))  # pip would fail
    start = time.perf_counter()
    done = _run([colab.python, "-c", hosted.first_cell_source()], cwd=colab.work, env=env)
    seconds = time.perf_counter() - start
    assert "installing" not in done.stdout
    assert f"{len(DATASETS)} datasets checked" in done.stdout
    print(f"the first cell again: {seconds:.1f} s (first time {colab.seconds:.0f} s)")


def test_the_first_cell_does_nothing_where_mbl_seg_is_installed(colab, fresh_venv):
    data = colab.where / "local-data"
    env = _environment(fresh_venv, MBL_SEG_SOURCE=colab.where / "no-such.whl",
                       MBL_SEG_DATA=data)  # no hosted runtime, no google.colab
    before = sorted(p.name for p in colab.work.iterdir())
    done = _run([colab.python, "-c", hosted.first_cell_source()], cwd=colab.work, env=env)
    assert (done.stdout, sorted(p.name for p in colab.work.iterdir())) == ("", before)
    assert not data.exists()


def test_without_a_source_the_cell_says_what_to_set(tmp_path, monkeypatch):
    """While the course has no published home (INSTALL_SOURCE empty), a fresh runtime is told
    to set $MBL_SEG_SOURCE instead of pip installing a guessed name."""
    monkeypatch.setattr(hosted, "INSTALL_SOURCE", "")
    venv = tmp_path / "bare"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    done = subprocess.run([str(venv / "bin" / "python"), "-c", hosted.first_cell_source()],
                          cwd=tmp_path, env=_environment(venv), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0 and "installing" not in done.stdout
    assert "RuntimeError: set MBL_SEG_SOURCE first" in done.stderr, done.stderr[-2000:]


def test_a_published_home_becomes_the_default_and_the_environment_still_wins(monkeypatch):
    monkeypatch.setattr(hosted, "INSTALL_SOURCE", "git+https://example.org/course/mbl_seg")
    cell = hosted.first_cell_source()
    assert ('os.environ.get("MBL_SEG_SOURCE") or "git+https://example.org/course/mbl_seg"'
            in cell)
