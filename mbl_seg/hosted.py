"""The course on Colab, Kaggle and other hosted notebooks: the notebooks' first cell.

Every notebook starts with the same small cell (:func:`first_cell_source`). Where
``mbl_seg`` is not installed (a fresh Colab or Kaggle runtime, a JupyterHub without
the course) it pip-installs the package with its dependencies, from
``$MBL_SEG_SOURCE`` if an instructor set it (a git URL, a wheel or an sdist), else
from :data:`INSTALL_SOURCE`; then it calls :func:`setup`. On a hosted runtime, or
right after that install, :func:`setup` enables Colab's widget manager, makes the
course data (about 20 s on two cores; nothing is downloaded) and says what it did.
Anywhere else, as on a laptop after ``make lab``, the cell does nothing at all.

The shipped checkpoints need nothing: they are package data
(:data:`mbl_seg.data.pretrained.MODELS_DIR`).

Used in: the first cell of every notebook.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INSTALL_SOURCE", "HostedSetup", "first_cell_source", "is_hosted", "setup"]

# What the first cell pip-installs when mbl_seg is missing; $MBL_SEG_SOURCE overrides it.
# Empty while the course has no published home: the cell then asks for $MBL_SEG_SOURCE
# rather than guess a package name (which anyone could register on the package index).
# Set it to the course's git URL or index name, then `mbl-seg first-cell --insert`.
INSTALL_SOURCE = ""

# modules whose new version pip may have installed under a loaded old one:
# module name -> distribution name
_WATCHED = {
    "numpy": "numpy", "scipy": "scipy", "skimage": "scikit-image", "torch": "torch",
    "zarr": "zarr", "h5py": "h5py", "numba": "numba", "matplotlib": "matplotlib",
    "ipywidgets": "ipywidgets", "tqdm": "tqdm",
}

_CELL = '''\
# On Colab, Kaggle or a JupyterHub: install mbl_seg, make the course data. Locally: nothing.
import importlib.util, os, subprocess, sys

missing = importlib.util.find_spec("mbl_seg") is None
if missing:  # the package and its dependencies, from where your instructor put the course
    source = {source}
    if not source:
        raise RuntimeError("set MBL_SEG_SOURCE first, e.g. in a cell above: %env "
                           "MBL_SEG_SOURCE=git+https://github.com/<your course>/mbl_seg")
    print(f"installing {{source}}, a minute or two ...")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
    importlib.invalidate_caches()
import mbl_seg.hosted

mbl_seg.hosted.setup(force=missing);  # hosted: widgets and data; anywhere else: nothing'''


@dataclass(frozen=True)
class HostedSetup:
    """What :func:`setup` did.

    ``runtime``: the hosted runtime found (:func:`is_hosted`), else None; ``acted``:
    whether setup did anything; ``versions``: mbl_seg, python, torch, platform;
    ``widgets``: Colab's custom widget manager enabled; ``data``: the course data
    (``.../course.zarr``) and ``datasets`` in it; ``checkpoints``: the shipped
    networks found; ``restart``: modules loaded before pip replaced them (restart
    the runtime); ``seconds``: wall time.
    """

    runtime: str | None
    acted: bool
    versions: dict[str, str] = field(default_factory=dict)
    widgets: bool = False
    data: Path | None = None
    datasets: tuple[str, ...] = ()
    checkpoints: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()
    seconds: float = 0.0


def first_cell_source() -> str:
    """The source of every notebook's first code cell (stdlib only until mbl_seg exists).

    >>> cell = first_cell_source()
    >>> cell.startswith("# ") and "mbl_seg.hosted.setup(" in cell and len(cell.splitlines()) <= 18
    True
    """
    if INSTALL_SOURCE:
        return _CELL.format(source=f'os.environ.get("MBL_SEG_SOURCE") or {json.dumps(INSTALL_SOURCE)}')
    return _CELL.format(source='os.environ.get("MBL_SEG_SOURCE", "")')


def is_hosted() -> str | None:
    """The hosted notebook runtime this runs on: ``"colab"``, ``"kaggle"``, or None.

    Colab is known by its module ``google.colab`` (loaded in every Colab kernel) or
    its ``COLAB_RELEASE_TAG`` variable, Kaggle by ``KAGGLE_KERNEL_RUN_TYPE``.
    """
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
        return "kaggle"
    return None


def setup(force: bool = False, *, verbose: bool = True) -> HostedSetup:
    """Get a hosted runtime ready for the course; anywhere else, do nothing.

    On a hosted runtime (:func:`is_hosted`), or anywhere with ``force=True`` (the
    first cell passes it right after installing mbl_seg, e.g. on a JupyterHub):

    * on Colab, enable the custom widget manager (the notebooks' sliders, the
      Zendo game, progress bars);
    * make the course data if not there yet (:func:`mbl_seg.data.prepare_datasets`,
      into :func:`mbl_seg.data.data_dir`: ``$MBL_SEG_DATA``, else
      ``~/.cache/mbl_seg``), or check it;
    * check that the shipped checkpoints came with the package;
    * print what it did, unless ``verbose=False``.

    If pip replaced a library that the kernel had loaded already (numpy, torch...),
    it makes no data and asks for a restart of the runtime instead.

    Otherwise it returns at once, reads and writes nothing, and prints nothing.

    Parameters
    ----------
    force : bool
        Set up even where no hosted runtime is recognised.
    verbose : bool
        Print a short report (and the data's progress bar).

    Returns
    -------
    HostedSetup
        What was done; ``acted`` is False where nothing was.

    Examples
    --------
    On a laptop (no hosted runtime), nothing happens:

    >>> done = setup()
    >>> done.acted, done.data
    (False, None)
    """
    if not isinstance(force, bool):
        raise TypeError(f"force must be True or False, got {type(force).__name__}")
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True or False, got {type(verbose).__name__}")
    runtime = is_hosted()
    if runtime is None and not force:
        return HostedSetup(runtime=None, acted=False)

    start = time.perf_counter()
    versions = _versions()
    say = print if verbose else (lambda *args, **kwargs: None)
    where = runtime or "this machine"
    say(f"mbl_seg {versions['mbl_seg']} on {where} (python {versions['python']}, "
        f"torch {versions['torch']}, {versions['platform']})")

    restart = _replaced_modules()
    if restart:
        say("pip replaced libraries that were loaded already (" + ", ".join(restart) + "): "
            "restart the runtime (Colab: Runtime > Restart session), then run this cell again")
        return HostedSetup(runtime=runtime, acted=True, versions=versions, restart=restart,
                           seconds=time.perf_counter() - start)

    widgets = _enable_widgets() if runtime == "colab" else False
    if widgets:
        say("widgets: Colab's custom widget manager is on")

    from .data import DATASETS, data_dir, list_pretrained, prepare_datasets
    from .data.pretrained import MODELS_DIR

    store = Path(data_dir()) / "course.zarr"
    there = all((store / name).exists() for name in DATASETS)
    began = time.perf_counter()
    datasets = tuple(prepare_datasets(progress=verbose))
    how = "checked" if there else "made"
    say(f"course data: {len(datasets)} datasets {how} in {time.perf_counter() - began:.0f} s, "
        f"in {store}")

    checkpoints = tuple(list_pretrained())
    if checkpoints:
        say(f"shipped networks: {len(checkpoints)} ({', '.join(checkpoints)}), in {MODELS_DIR}")
    else:
        say(f"shipped networks: none in {MODELS_DIR}: this copy of mbl_seg lacks its package "
            "data, which notebooks 05-08 load; install a complete wheel (`pip wheel --no-deps .` "
            "in the course repository makes one)")
    return HostedSetup(runtime=runtime, acted=True, versions=versions, widgets=widgets,
                       data=store, datasets=datasets, checkpoints=checkpoints,
                       seconds=time.perf_counter() - start)


def _versions() -> dict[str, str]:
    """mbl_seg, python, torch (from its metadata: torch is not imported) and the platform."""
    from importlib import metadata

    from . import __version__

    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    return {"mbl_seg": __version__, "python": platform.python_version(), "torch": torch,
            "platform": f"{platform.system()} {platform.machine()}"}


def _replaced_modules() -> tuple[str, ...]:
    """Loaded libraries whose installed version is no longer the loaded one."""
    from importlib import metadata

    replaced = []
    for module_name, distribution in _WATCHED.items():
        module = sys.modules.get(module_name)
        loaded = getattr(module, "__version__", None)
        if loaded is None:
            continue
        try:
            installed = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
        if str(loaded) != installed:
            replaced.append(f"{module_name} {loaded} loaded, {installed} installed")
    return tuple(replaced)


def _enable_widgets() -> bool:
    """Turn on Colab's custom widget manager; False outside a Colab kernel."""
    try:
        from google.colab import output
    except ImportError:
        return False
    output.enable_custom_widget_manager()
    return True
