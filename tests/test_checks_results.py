import math

import pytest

from mbl_seg.checks import expect_between, expect_less


def test_expect_between_passes_inside_and_fails_outside_without_hiding_the_value():
    assert expect_between(1.0, 0.5, 1.5, "x", verbose=False)
    assert expect_between(0.5, 0.5, 1.5, "x", verbose=False)
    result = expect_between(2.0, 0.5, 1.5, "x", verbose=False)
    assert not result and "2" in result.message
    assert not expect_between(math.nan, 0, 1, "x", verbose=False)
    with pytest.raises(ValueError):
        expect_between(1, 2, 1, "x")
    with pytest.raises(TypeError):
        expect_between("a lot", 0, 1, "x")


def test_expect_less():
    assert expect_less(1, 2, "a < b", verbose=False)
    assert not expect_less(2, 2, "a < b", verbose=False)


def test_with_a_record_file_every_check_appends_what_it_compared(tmp_path, monkeypatch):
    import json
    import os

    path = tmp_path / "checks.jsonl"
    expect_between(0.3, 0.5, 1.5, "VOI", verbose=False)  # no variable: nothing recorded
    assert not path.exists()
    monkeypatch.setenv("MBL_SEG_RECORD_CHECKS", str(path))
    expect_between(0.3, 0.5, 1.5, "VOI", verbose=False)
    expect_less(2, 1, "A below B", verbose=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("seed", "threads")} for line in lines] == [
        {"kind": "between", "what": "VOI", "values": [0.3], "limits": [0.5, 1.5], "passed": False},
        {"kind": "less", "what": "A below B", "values": [2.0, 1.0], "limits": [], "passed": False}]
    assert lines[0]["seed"] == int(os.environ.get("MBL_SEG_SEED") or 0)


def test_expect_equal_compares_exact_values_and_refuses_measured_numbers():
    from mbl_seg.checks import expect_equal

    assert expect_equal("mean, t = 0.55", "mean, t = 0.55", "x", verbose=False)
    result = expect_equal("mean, t = 0.55", "median, t = 0.60", "x", verbose=False)
    assert not result and "'median, t = 0.60'" in result.message
    with pytest.raises(TypeError, match="expect_between or expect_less"):
        expect_equal(0.1 + 0.2, 0.3, "x")
