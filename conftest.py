import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Figures render headless in tests, doctests and CI.
os.environ.setdefault("MPLBACKEND", "Agg")

# `python -m mbl_seg` runs the CLI on import: not a module to doctest.
collect_ignore = ["mbl_seg/__main__.py"]

# Each solution notebook runs as on a fresh clone: nbval starts its kernel with an empty
# checkpoint folder of its own ($MBL_SEG_CHECKPOINTS, see mbl_seg.env.Setup.checkpoint), so
# no notebook leans on what an earlier one trained, and nobody's checkpoints/ is touched.
_CHECKPOINTS_VARIABLE = "MBL_SEG_CHECKPOINTS"
# With $MBL_SEG_RECORD_CHECKS_DIR set, each notebook's kernel records the values its checks
# compared in <dir>/<notebook>.jsonl ($MBL_SEG_RECORD_CHECKS, see mbl_seg.checks.results):
# `bench/spread.py --merge-dir` adds them to the spread measured over seeds and threads.
_RECORD_DIR_VARIABLE, _RECORD_VARIABLE = "MBL_SEG_RECORD_CHECKS_DIR", "MBL_SEG_RECORD_CHECKS"


def _notebook_of(item) -> Path | None:
    """The solution notebook an nbval cell belongs to, else None."""
    parent = getattr(item, "parent", None)
    if type(parent).__name__ != "IPyNbFile":
        return None
    path = Path(str(parent.path))
    return path if path.parent.name == "solutions" else None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    notebook = _notebook_of(item)
    if notebook is not None and item.parent.kernel is None:  # its kernel starts now
        item.parent._mbl_seg_previous = os.environ.get(_CHECKPOINTS_VARIABLE)
        item.parent._mbl_seg_folder = tempfile.mkdtemp(prefix=f"checkpoints_{notebook.stem}_")
        os.environ[_CHECKPOINTS_VARIABLE] = item.parent._mbl_seg_folder
        if os.environ.get(_RECORD_DIR_VARIABLE):
            os.environ[_RECORD_VARIABLE] = str(Path(os.environ[_RECORD_DIR_VARIABLE])
                                               / f"{notebook.stem}.jsonl")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    notebook = _notebook_of(item)
    folder = getattr(item.parent, "_mbl_seg_folder", None) if notebook else None
    if folder and (nextitem is None or nextitem.parent is not item.parent):  # its last cell
        previous = item.parent._mbl_seg_previous
        if previous is None:
            os.environ.pop(_CHECKPOINTS_VARIABLE, None)
        else:
            os.environ[_CHECKPOINTS_VARIABLE] = previous
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get(_RECORD_DIR_VARIABLE):
            os.environ.pop(_RECORD_VARIABLE, None)
