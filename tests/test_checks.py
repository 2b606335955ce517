"""Every self-check passes a right answer and gives the specific hint for typical mistakes."""

import numpy as np
import pytest

from mbl_seg import checks
from mbl_seg.evaluate import arand_from_table, voi_from_table


def _h(p):
    p = p[p > 0]
    return -(p * np.log2(p)).sum()


def voi_right(table):
    p = table / table.sum()
    joint, gt, seg = _h(p.ravel()), _h(p.sum(1)), _h(p.sum(0))
    return joint - gt, joint - seg


def voi_swapped(table):
    split, merge = voi_right(table)
    return merge, split


def voi_nats(table):
    split, merge = voi_right(table)
    return split * np.log(2), merge * np.log(2)


def voi_unnormalised(table):
    p = table.astype(float)
    joint, gt, seg = _h(p.ravel()), _h(p.sum(1)), _h(p.sum(0))
    return joint - gt, joint - seg


def voi_nan(table):
    p = table / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        joint = -(p * np.log2(p)).sum()
    return joint - _h(p.sum(1)), joint - _h(p.sum(0))


def voi_marginals(table):
    p = table / table.sum()
    return _h(p.sum(0)), _h(p.sum(1))


def voi_todo(table):
    raise NotImplementedError


def voi_crash(table):
    return table.nonexistent


def test_voi_check_passes_right_answers(capsys):
    assert checks.check_voi_from_table(voi_right)
    assert checks.check_voi_from_table(voi_from_table)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, hint",
    [
        (voi_swapped, "swapped"),
        (voi_nats, "nats"),
        (voi_unnormalised, "normalise"),
        (voi_nan, "0 * log(0)"),
        (voi_marginals, "entropies H(seg) and H(gt)"),
        (voi_todo, "not implemented yet"),
        (voi_crash, "AttributeError"),
        (lambda t: 1.0, "two numbers"),
    ],
)
def test_voi_check_names_the_mistake(fn, hint, capsys):
    result = checks.check_voi_from_table(fn)
    assert not result.passed
    assert hint in result.message
    assert "❌" in capsys.readouterr().out


def test_check_does_not_let_student_modify_inputs():
    def mutating(table):
        table[...] = 0
        return voi_right(np.ones((1, 1)))

    checks.check_voi_from_table(mutating, verbose=False)
    # the reference tables are untouched
    assert all(t.sum() > 0 for t in checks._TABLES)


def test_arand_check():
    assert checks.check_arand_from_table(arand_from_table, verbose=False)

    def f_score(table):
        return 1 - arand_from_table(table)

    def counts_not_pairs(table):
        p = table / table.sum()
        prec = (p**2).sum() / (p.sum(0) ** 2).sum()
        rec = (p**2).sum() / (p.sum(1) ** 2).sum()
        return 1 - 2 * prec * rec / (prec + rec)

    assert "1 - F-score" in checks.check_arand_from_table(f_score, verbose=False).message
    wrong = checks.check_arand_from_table(counts_not_pairs, verbose=False)
    assert not wrong.passed and "pairs" in wrong.message
