"""bench/spread.py: the spread of each checked value over runs, against the allowed range."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
spread = importlib.import_module("spread")


def _record(what, kind, values, limits, passed, seed, threads):
    return {"notebook": "04_malis", "what": what, "kind": kind, "values": values,
            "limits": limits, "passed": passed, "seed": seed, "threads": threads}


def test_one_row_per_check_with_the_smallest_and_largest_value_and_the_passes():
    records = [_record("ARAND", "between", [0.30], [0.12, 0.4], True, 0, 1),
               _record("ARAND", "between", [0.42], [0.12, 0.4], False, 1, 2),
               _record("MALIS merges less", "less", [0.5, 0.8], [], True, 0, 1),
               _record("MALIS merges less", "less", [0.9, 0.7], [], False, 1, 2)]
    rows = spread.summarise(records)
    assert [(r["what"], r["values"], r["passed"]) for r in rows] == [
        ("ARAND", [0.30, 0.42], 1), ("MALIS merges less", [0.8 - 0.5, 0.7 - 0.9], 1)]
    # a later record's range (the notebook's now) judges every run
    later = spread.summarise([*records, _record("ARAND", "between", [0.2], [0.1, 0.5], True, 2, 1)])
    assert later[0]["limits"] == [0.1, 0.5] and later[0]["passed"] == 3
    text = spread.table(rows)
    assert "| 04 | ARAND | 2 | 0.3 - 0.42 | 0.24 to 0.48 | 0.12 to 0.4 | 1/2 |" in text
    assert ("| 04 | MALIS merges less (margin) | 2 | -0.2 - 0.3 | FAILS in some run | margin > 0 "
            "| 1/2 |") in text


def test_doctests():
    import doctest

    assert doctest.testmod(spread).failed == 0
