"""Class-balanced BCE and the MALIS loss: hand computations, invariants and gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mbl_seg.losses import balance_weights, balanced_bce, malis_loss
from mbl_seg.malis import malis_weights
from mbl_seg.targets import affinities


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# --- balanced BCE ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 1, 8), (2, 3, 4, 4), (1, 2, 2, 4, 4)])
def test_balanced_classes_give_plain_bce(shape):
    logits = torch.randn(shape, generator=_gen(0))
    target = torch.zeros(shape)
    target.view(-1)[::2] = 1.0  # exactly half positive
    assert torch.allclose(balanced_bce(logits, target),
                          F.binary_cross_entropy_with_logits(logits, target))


def test_balanced_bce_matches_a_hand_computation():
    logits = torch.tensor([[[2.0, -1.0, 0.5, 0.0]]])
    target = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])  # 1 in 4 positive: w = 2, 2/3
    bce = [np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0)), np.log1p(np.exp(0.5)), np.log(2)]
    want = (2 * bce[0] + 2 / 3 * (bce[1] + bce[2] + bce[3])) / 4
    assert balanced_bce(logits, target).item() == pytest.approx(want, rel=1e-6)


def test_each_class_contributes_half():
    target = (torch.rand(2, 1, 16, 16, generator=_gen(1)) < 0.15).float()
    w = balance_weights(target)
    assert w[target == 1].sum().item() == pytest.approx(w[target == 0].sum().item(), rel=1e-5)
    assert w.mean().item() == pytest.approx(1.0, rel=1e-5)


def test_absent_class_gives_finite_loss_and_gradient():
    for fill in (0.0, 1.0):
        logits = torch.randn(1, 1, 4, 4, generator=_gen(2), requires_grad=True)
        target = torch.full((1, 1, 4, 4), fill)
        loss = balanced_bce(logits, target)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
        # the one class present gets weight 0.5: half the plain BCE
        assert loss.item() == pytest.approx(
            0.5 * F.binary_cross_entropy_with_logits(logits, target).item(), rel=1e-5)
    assert balance_weights(torch.zeros(1, 1, 3), max_weight=4.0).max() == 0.5


def test_mask_excludes_voxels():
    logits = torch.randn(1, 1, 6, 6, generator=_gen(3), requires_grad=True)
    target = (torch.rand(1, 1, 6, 6, generator=_gen(4)) < 0.3).float()
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., :3] = 1
    loss = balanced_bce(logits, target, mask=mask)
    cropped = balanced_bce(logits[..., :3], target[..., :3])
    assert loss.item() == pytest.approx(cropped.item(), rel=1e-6)
    loss.backward()
    assert (logits.grad[..., 3:] == 0).all() and logits.grad[..., :3].abs().sum() > 0
    # garbage under the mask changes nothing
    target2 = target.clone()
    target2[..., 3:] = 1 - target2[..., 3:]
    assert balanced_bce(logits, target2, mask=mask).item() == pytest.approx(loss.item())
    # a (b, 1, ...) mask broadcasts over channels
    two = balanced_bce(logits.repeat(1, 2, 1, 1), target.repeat(1, 2, 1, 1), mask=mask)
    assert two.item() == pytest.approx(loss.item(), rel=1e-6)


def test_balanced_bce_is_stable_for_large_logits_and_half_precision():
    logits = torch.tensor([[[100.0, -100.0, 30.0]]], requires_grad=True)
    target = torch.tensor([[[0.0, 1.0, 1.0]]])
    loss = balanced_bce(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert balanced_bce(logits.detach().half(), target).dtype == torch.float32


def test_balanced_bce_validates_inputs():
    with pytest.raises(ValueError, match="same shape"):
        balanced_bce(torch.zeros(1, 1, 4), torch.zeros(1, 1, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        balanced_bce(np.zeros((1, 1, 4)), torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="broadcast"):
        balanced_bce(torch.zeros(1, 1, 4), torch.zeros(1, 1, 4), mask=torch.ones(3))


# --- MALIS loss -----------------------------------------------------------------------------


def _case(seed, shape=(5, 6)):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=(2, *shape)).astype(np.int64)
    affs = torch.rand((2, len(shape), *shape), generator=_gen(seed), dtype=torch.float64)
    return affs, labels


@pytest.mark.parametrize("constrained", [False, True])
def test_malis_loss_equals_the_formula_on_the_counts(constrained):
    affs, labels = _case(0)
    loss = malis_loss(affs, labels, constrained=constrained)
    total, pairs = 0.0, 0
    for i in range(2):
        a = affs[i].numpy().astype(np.float32)
        pos, neg = malis_weights(a, labels[i], constrained=constrained)
        if constrained:
            gt = affinities(labels[i].astype(np.uint64))
            total += ((pos + neg) * (gt - a) ** 2).sum()
        else:
            total += (pos * (1 - a) ** 2 + neg * a**2).sum()
        pairs += pos.sum() + neg.sum()
    assert loss.item() == pytest.approx(total / pairs, rel=1e-5)


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_malis_gradient_matches_finite_differences(constrained, shape):
    affs, labels = _case(1, shape)
    affs.requires_grad_(True)
    # counts are constants: small perturbations (< the gaps between affinities) keep the sort
    gap = np.diff(np.sort(affs.detach().numpy().ravel())).min()
    eps = min(1e-6, gap / 4)
    assert torch.autograd.gradcheck(lambda a: malis_loss(a, labels, constrained=constrained),
                                    (affs,), eps=eps, atol=1e-4, rtol=1e-3)


def test_malis_gradient_sits_on_the_maximin_edges_only():
    labels = torch.tensor([[[1, 1, 1], [1, 2, 2]]])
    affs = torch.rand((1, 2, 2, 3), generator=_gen(5), requires_grad=True)
    malis_loss(affs, labels, constrained=False).backward()
    a = affs.detach()[0].numpy()
    pos, neg = malis_weights(a, labels[0].numpy())
    want = 2 * (pos * (a - 1) + neg * a) / (pos.sum() + neg.sum())
    np.testing.assert_allclose(affs.grad[0].numpy(), want, rtol=1e-5, atol=1e-7)
    assert (affs.grad[0].numpy()[(pos + neg) == 0] == 0).all()
    assert ((pos + neg) > 0).sum() == 5  # a spanning tree of 6 voxels has 5 edges


def test_perfect_affinities_give_zero_constrained_loss():
    labels = np.array([[[1, 1, 0, 2], [1, 1, 0, 2], [3, 3, 3, 2]]])
    gt = torch.from_numpy(affinities(labels[0].astype(np.uint64)))[None]
    assert malis_loss(gt, labels).item() == 0.0
    assert malis_loss(1 - gt, labels).item() > 0.5
    assert malis_loss(torch.zeros(1, 2, 3, 4), np.zeros((1, 3, 4), int)).item() == 0.0


def test_malis_loss_validates_inputs():
    with pytest.raises(ValueError, match="one channel per"):
        malis_loss(torch.zeros(1, 3, 4, 4), np.ones((1, 4, 4), int))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        malis_loss(torch.full((1, 2, 4, 4), 3.0), np.ones((1, 4, 4), int))
    with pytest.raises(TypeError, match="float torch.Tensor"):
        malis_loss(np.zeros((1, 2, 4, 4)), np.ones((1, 4, 4), int))


@pytest.mark.parametrize("target", [torch.full((1, 1, 2, 2), 255.0), torch.full((1, 1, 2, 2), -1.0),
                                    torch.full((1, 1, 2, 2), float("nan"))])
def test_balanced_bce_refuses_targets_outside_zero_one(target):
    with pytest.raises(ValueError, match=r"target must hold values in \[0, 1\]"):
        balanced_bce(torch.zeros(1, 1, 2, 2), target)


# --- MALIS on a batch: items in parallel -----------------------------------------------------


@pytest.mark.parametrize("constrained", [False, True])
def test_malis_loss_in_parallel_is_bitwise_the_serial_loss(constrained):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, size=(5, 12, 10)).astype(np.int64)
    base = torch.rand((5, 2, 12, 10), generator=_gen(3))
    results = []
    for workers in (1, 2, 5, None):
        affs = base.clone().requires_grad_(True)
        loss = malis_loss(affs, labels, constrained=constrained, workers=workers)
        loss.backward()
        results.append((loss.detach(), affs.grad))
    for loss, grad in results[1:]:
        assert torch.equal(loss, results[0][0])
        assert torch.equal(grad, results[0][1])


def test_malis_loss_counts_the_items_of_a_batch_on_several_threads(monkeypatch):
    import threading

    import mbl_seg.losses as losses

    threads, real = set(), losses.weighted_edges
    barrier = threading.Barrier(2, timeout=10)  # two items must be counted at the same time

    def recording(*args, **kwargs):
        threads.add(threading.current_thread().name)
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(losses, "weighted_edges", recording)
    labels = np.ones((2, 4, 4), np.int64)
    malis_loss(torch.rand((2, 2, 4, 4), generator=_gen(0)), labels, workers=2)
    assert len(threads) == 2


def test_malis_kernels_release_the_gil():
    import mbl_seg._malis_kernels as kernels

    for name in ("_sorted_edges", "_kruskal"):
        assert getattr(kernels, name).targetoptions.get("nogil"), name


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_malis_loss_refuses_bad_worker_counts(workers):
    with pytest.raises(ValueError, match="workers must be a positive int"):
        malis_loss(torch.zeros(1, 2, 3, 4), np.ones((1, 3, 4), int), workers=workers)


# --- LSD and multi-task losses ---------------------------------------------------------------


def test_lsd_loss_is_the_masked_mean_squared_error_of_the_sigmoid():
    from mbl_seg.losses import lsd_loss

    logits = torch.tensor([[[[0.0, 100.0, -100.0]]]])
    target = torch.tensor([[[[0.5, 0.0, 0.0]]]])
    assert lsd_loss(logits, target).item() == pytest.approx(1 / 3, abs=1e-6)
    mask = torch.tensor([[[[1.0, 0.0, 1.0]]]])
    assert lsd_loss(logits, target, mask=mask).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        lsd_loss(logits, target[..., :2])


def test_mtlsd_loss_adds_the_weighted_heads_and_crops_to_a_valid_output():
    from mbl_seg.losses import (LSD_WEIGHT, batch_affinity_loss, batch_lsd_loss,
                                batch_mtlsd_loss)

    g = torch.Generator().manual_seed(0)
    batch = {"affs": (torch.rand((1, 3, 6, 8, 8), generator=g) > 0.5).float(),
             "affs_mask": torch.ones((1, 3, 6, 8, 8)),
             "lsds": torch.rand((1, 10, 6, 8, 8), generator=g),
             "lsds_mask": torch.ones((1, 1, 6, 8, 8))}
    logits = torch.randn((1, 13, 2, 4, 4), generator=g, requires_grad=True)
    loss = batch_mtlsd_loss(logits, batch)
    expected = (batch_affinity_loss(logits[:, :3], batch)
                + LSD_WEIGHT * batch_lsd_loss(logits[:, 3:], batch))
    assert loss.item() == pytest.approx(expected.item())
    loss.backward()
    assert logits.grad[:, :3].abs().sum() > 0 and logits.grad[:, 3:].abs().sum() > 0
    with pytest.raises(ValueError, match="13 channels"):
        batch_mtlsd_loss(logits[:, :3], batch)
