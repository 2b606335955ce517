"""Every self-check passes right answers and names the mistake in typical wrong ones."""

import numpy as np
import pytest

from mbl_seg import checks
from mbl_seg.checks import metrics as checks_metrics
from mbl_seg.evaluate import arand_from_table, voi_from_table


def _h(p):
    p = p[p > 0]
    return -(p * np.log2(p)).sum()


def _parts(table):
    """Joint, gt and seg entropies in bits of a dense table (what a student computes)."""
    p = table / table.sum()
    return _h(p.ravel()), _h(p.sum(1)), _h(p.sum(0))


# --- VOI: one right and several typical wrong implementations --------------------------------


def voi_right(table):
    joint, h_gt, h_seg = _parts(table)
    return joint - h_gt, joint - h_seg


def voi_right_loops(table):
    """The same, with explicit loops, returning a list."""
    n = table.sum()
    split = merge = 0.0
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            if table[i, j]:
                p = table[i, j] / n
                split -= p * np.log2(table[i, j] / table[i].sum())
                merge -= p * np.log2(table[i, j] / table[:, j].sum())
    return [split, merge]


def voi_swapped(table):
    split, merge = voi_right(table)
    return merge, split


def voi_natural_log(table):
    split, merge = voi_right(table)
    return split * np.log(2), merge * np.log(2)


def voi_unnormalised(table):
    p = table.astype(float)
    joint, h_gt, h_seg = _h(p.ravel()), _h(p.sum(1)), _h(p.sum(0))
    return joint - h_gt, joint - h_seg


def voi_joint(table):
    joint, _, _ = _parts(table)
    return joint, joint


def voi_mutual_information(table):
    joint, h_gt, h_seg = _parts(table)
    return h_gt + h_seg - joint, h_gt + h_seg - joint


def voi_nan_on_zeros(table):
    p = table / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        joint = -(p * np.log2(p)).sum()
    return joint - _h(p.sum(1)), joint - _h(p.sum(0))


def voi_marginals(table):
    _, h_gt, h_seg = _parts(table)
    return h_seg, h_gt


def voi_todo(table):
    raise NotImplementedError("TODO: compute split and merge")


def voi_crash(table):
    return table.nonexistent


def test_voi_check_passes_right_answers(capsys):
    for fn in (voi_right, voi_right_loops, voi_from_table):
        result = checks.check_voi_from_table(fn)
        assert result.passed and result
        assert str(result).startswith("✅ voi_from_table: correct — ")
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize(
    "fn, hint",
    [
        (voi_swapped, "swapped"),
        (voi_natural_log, "nats"),
        (voi_unnormalised, "normalise the table"),
        (voi_joint, "joint entropy"),
        (voi_mutual_information, "mutual information"),
        (voi_nan_on_zeros, "0 * log(0)"),
        (voi_marginals, "entropies H(seg) and H(gt)"),
        (voi_todo, "not implemented yet — fill in the TODO"),
        (voi_crash, "AttributeError"),
        (lambda table: 1.0, "should return 2 numbers"),
        (lambda table: (0.0, 0.0), "turn counts into probabilities"),
    ],
)
def test_voi_check_names_the_mistake(fn, hint, capsys):
    result = checks.check_voi_from_table(fn)
    assert not result.passed and not result
    assert hint in result.message
    assert capsys.readouterr().out == f"❌ voi_from_table: {result.message}\n"


def test_messages_are_deterministic_and_show_the_table():
    first = checks.check_voi_from_table(voi_swapped, verbose=False)
    second = checks.check_voi_from_table(voi_swapped, verbose=False)
    assert first == second
    assert "for the table [[4, 4]]" in first.message
    assert "split, merge = (0.0000, 1.0000), expected (1.0000, 0.0000)" in first.message
    assert "0x" not in checks.check_voi_from_table(voi_crash, verbose=False).message

    def crash_with_address(table):
        raise ValueError(f"bad object {object()!r}")

    message = checks.check_voi_from_table(crash_with_address, verbose=False).message
    assert message.startswith("your function raised ValueError: bad object <object object>")


def test_check_does_not_let_student_modify_inputs():
    def mutating(table):
        table[...] = 0
        return 0.0, 0.0

    checks.check_voi_from_table(mutating, verbose=False)
    assert all(t.sum() > 0 for t in checks_metrics._TABLES)
    assert checks.check_voi_from_table(voi_right, verbose=False)


# --- ARAND ----------------------------------------------------------------------------------


def _pairs(table, minus):
    t = table.astype(float)
    together = (t**2).sum() - minus
    return together / ((t.sum(0) ** 2).sum() - minus), together / ((t.sum(1) ** 2).sum() - minus)


def arand_right(table):
    precision, recall = _pairs(table, table.sum())
    return 1 - 2 * precision * recall / (precision + recall)


def arand_f_score(table):
    return 1 - arand_right(table)


def arand_self_pairs(table):
    precision, recall = _pairs(table, 0)
    return 1 - 2 * precision * recall / (precision + recall)


def arand_average(table):
    precision, recall = _pairs(table, table.sum())
    return 1 - (precision + recall) / 2


def arand_precision_only(table):
    return 1 - _pairs(table, table.sum())[0]


def test_arand_check_passes_right_answers():
    assert checks.check_arand_from_table(arand_right, verbose=False)
    assert checks.check_arand_from_table(arand_from_table, verbose=False)
    assert checks.check_arand_from_table(lambda t: np.float32(arand_right(t)), verbose=False)


@pytest.mark.parametrize(
    "fn, hint",
    [
        (arand_f_score, "you returned the F-score"),
        (arand_self_pairs, "pairs of distinct voxels"),
        (arand_average, "not their average"),
        (arand_precision_only, "1 - precision or 1 - recall alone"),
        (lambda table: 0.5, "count pairs"),
        (lambda table: (0.5, 0.5), "should return one number"),
        (lambda table: None, "forget the `return`"),
        (lambda table: table.sum() / 0, "nan or inf"),
        (lambda table: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_arand_check_names_the_mistake(fn, hint):
    with np.errstate(divide="ignore", invalid="ignore"):
        result = checks.check_arand_from_table(fn, verbose=False)
    assert not result.passed
    assert hint in result.message
    assert str(result).startswith("❌ arand_from_table: ")


def test_result_prints_once_in_notebooks():
    result = checks.check_arand_from_table(arand_right, verbose=False)
    assert repr(result) == str(result)
    assert result._ipython_display_() is None  # the check printed it already
