"""What an executed notebook keeps: its outputs without snapshots of progress bars.

A progress bar in a running notebook is a widget that updates; saved to a file it is
only its first state, "0%| | 0/150", which a static copy of the notebook (GitHub, an
exported page) shows as if nothing had run. The course's executed solutions are read
that way, so :func:`drop_progress_snapshots` removes those outputs before a notebook
is saved. Other widgets (the slice browser, the Zendo game) stay.

Used in: :func:`mbl_seg.notebooks.execute_notebook`, tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["drop_progress_snapshots", "is_progress_snapshot"]

WIDGET = "application/vnd.jupyter.widget-view+json"
# tqdm's text: "desc:  40%|████      | 4/10 [00:01<00:02, 3.1it/s]"
_BAR = re.compile(r"\d+%\|.*\| *\d+/\d+ \[")


def is_progress_snapshot(output: Mapping) -> bool:
    """Whether a cell output is a saved progress-bar widget (its text is a tqdm bar).

    >>> is_progress_snapshot({"output_type": "display_data", "data": {
    ...     WIDGET: {}, "text/plain": "training:   0%|          | 0/60 [00:00<?, ?it/s]"}})
    True
    >>> is_progress_snapshot({"output_type": "stream", "text": "60 iterations"})
    False
    """
    data = output.get("data", {})
    text = data.get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else text
    return WIDGET in data and bool(_BAR.search(text))


def drop_progress_snapshots(nb) -> int:
    """Remove every progress-bar snapshot from the outputs of ``nb`` (in place); how many."""
    dropped = 0
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        kept = [o for o in cell.get("outputs", []) if not is_progress_snapshot(o)]
        dropped += len(cell["outputs"]) - len(kept)
        cell["outputs"] = kept
    return dropped
