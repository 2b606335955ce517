"""Time every solution notebook, executed headless from scratch, against its budget.

Each notebook runs from a fresh temporary copy (no checkpoints from earlier runs,
so every network is trained) with the course data already cached. The mode is
whatever `mbl_seg.env` picks on this machine (fast on a CPU), unless given:

    python bench/bench_notebooks.py [--mode fast|full] [notebook names ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mbl_seg
from mbl_seg.data import prepare_datasets
from mbl_seg.notebooks import execute_notebook, list_notebooks

ROOT = Path(__file__).resolve().parents[1]
# fast-mode budgets on a 2-core CPU (seconds), from the issues that introduced the notebooks
BUDGETS = {"00": 60, "01": 120, "02": 240, "03": 240, "04": 240, "05": 360, "06": 360, "07": 300, "08": 300}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="e.g. 02_deep_boundaries (default: all)")
    parser.add_argument("--mode", choices=("fast", "full"))
    args = parser.parse_args()
    prepare_datasets(progress=False)
    notebooks = [p for p in list_notebooks(ROOT / "solutions")
                 if not args.names or p.stem in args.names]
    cfg = mbl_seg.env.setup(mode=args.mode, verbose=False)
    print(f"mbl_seg {mbl_seg.__version__}, device {cfg.device}, mode {cfg.mode}")
    missed = 0
    for path in notebooks:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / path.name
            shutil.copy(path, copy)
            start = time.perf_counter()
            execute_notebook(copy, mode=cfg.mode, progress=False)
            seconds = time.perf_counter() - start
        budget = BUDGETS.get(path.stem[:2])
        verdict = "" if budget is None or cfg.mode != "fast" else (
            f"budget {budget} s: {'met' if seconds <= budget else 'MISSED'}")
        missed += bool(budget and cfg.mode == "fast" and seconds > budget)
        print(f"  {path.stem:<26} {seconds:6.1f} s   {verdict}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
