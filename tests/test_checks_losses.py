import torch

from mbl_seg.checks import check_balance_weights


def _weights(target, *, swap=False, half=0.5, per_sample=False, clip=True):
    if per_sample:
        return torch.cat([_weights(t[None]) for t in target])
    f = target.mean()
    pos, neg = half / f, half / (1 - f)
    if swap:
        pos, neg = neg, pos
    w = torch.where(target > 0.5, pos, neg)
    return w.clamp(max=10) if clip else w


def test_right_answer_passes():
    assert check_balance_weights(_weights, verbose=False)


def test_each_mistake_gets_its_hint():
    cases = {"*large* weight": dict(swap=True), "twice too large": dict(half=1.0),
             "whole batch": dict(per_sample=True), "clip the weights": dict(clip=False)}
    for hint, kwargs in cases.items():
        result = check_balance_weights(lambda t, kw=kwargs: _weights(t, **kw), verbose=False)
        assert not result.passed and hint in result.message, (hint, result.message)


def test_shape_none_and_unfinished():
    assert "shape" in check_balance_weights(lambda t: t.mean(), verbose=False).message
    assert "return" in check_balance_weights(lambda t: None, verbose=False).message

    def todo(t):
        raise NotImplementedError

    assert "not implemented" in check_balance_weights(todo, verbose=False).message
