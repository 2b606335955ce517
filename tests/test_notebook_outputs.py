"""Executed solutions keep no progress-bar snapshots ("0/150" in a static copy)."""

import json
from pathlib import Path

import pytest

from mbl_seg.notebook_outputs import WIDGET, drop_progress_snapshots, is_progress_snapshot

ROOT = Path(__file__).resolve().parents[1]


def _bar(text):
    return {"output_type": "display_data", "metadata": {}, "data": {WIDGET: {"model_id": "x"},
                                                                     "text/plain": text}}


def test_only_progress_bars_are_dropped():
    browser = {"output_type": "display_data", "metadata": {},
               "data": {WIDGET: {}, "text/plain": "VBox(children=(Output(),))"}}
    printed = {"output_type": "stream", "name": "stdout", "text": "60 iterations\n"}
    nb = {"cells": [{"cell_type": "code", "outputs": [
        _bar("training:   0%|          | 0/60 [00:00<?, ?it/s]"), printed,
        _bar(["predict ▶ ♻=0:   0%|          | 0/18 [00:00<?, ?block/s]"]), browser]},
        {"cell_type": "markdown", "source": "0%| | 0/1 ["}]}
    assert drop_progress_snapshots(nb) == 2
    assert nb["cells"][0]["outputs"] == [printed, browser]
    assert not is_progress_snapshot({"output_type": "stream", "text": "  0%| | 0/3 [00:00"})


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_solutions_show_no_progress_bar_snapshot(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = [i for i, cell in enumerate(nb["cells"]) for out in cell.get("outputs", [])
             if is_progress_snapshot(out)]
    assert not found, f"cells {found} keep a progress bar's first state (0/N)"
