"""Training losses of the course: class-balanced BCE, the MALIS loss, the LSD loss.

* :func:`balanced_bce` — boundaries are rare (often 10-20 % of the voxels), so a
  plain BCE is happy predicting "no boundary" everywhere. Weighting each class
  by its inverse frequency makes both classes count half.
* :func:`malis_loss` — MALIS (Turaga et al. 2009) and constrained MALIS (Funke
  et al. 2018): put the loss on the edges that decide whether two voxels end
  up together after thresholding (their maximin edges), weighted by how many
  voxel pairs each edge decides. The pair counts come from
  :func:`mbl_seg.malis.malis_weights` (numpy, no gradient); the gradient flows
  through the affinities only — that is how MALIS is trained.

* :func:`lsd_loss` — local shape descriptors are numbers in [0, 1], not
  classes: the mean squared error of the sigmoid of the network's output.
* :func:`batch_affinity_loss`, :func:`batch_lsd_loss`, :func:`batch_mtlsd_loss` —
  the losses of the 3D networks of notebooks 05 and 06, on a batch of
  :class:`mbl_seg.pipeline.Pipeline` (targets cropped to a valid net's output).

Used in: notebooks/02_deep_boundaries, notebooks/04_malis, notebooks/06_lsds
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from .malis import weighted_edges
from .models import center_crop

__all__ = ["balance_weights", "balanced_bce", "malis_loss", "lsd_loss", "batch_affinity_loss",
           "batch_lsd_loss", "batch_mtlsd_loss", "LSD_WEIGHT"]


def balance_weights(target: torch.Tensor, *, mask: torch.Tensor | None = None,
                    max_weight: float = 10.0) -> torch.Tensor:
    """Per-voxel weights that make both classes contribute half of a loss.

    With ``f`` = the fraction of positive target (soft targets count
    fractionally) among the valid voxels of the whole batch::

        w_pos = min(0.5 / f, max_weight)      w_neg = min(0.5 / (1 - f), max_weight)
        w = mask * (target * w_pos + (1 - target) * w_neg)

    Balanced classes (f = 0.5) give w = 1 everywhere. An absent class never
    makes an inf: its weight is clipped and nothing uses it.

    Parameters
    ----------
    target : (b, c, ...) torch.Tensor of float
        Targets in [0, 1] (1 = boundary), any number of spatial dimensions.
    mask : torch.Tensor, optional
        1 = use the voxel, 0 = ignore it; broadcastable to ``target``.
    max_weight : float, optional
        Largest weight a class can get (default 10: a class rarer than 5 %
        is not weighted further up).

    Returns
    -------
    torch.Tensor
        float32 weights shaped like ``target``, 0 where masked.

    Examples
    --------
    >>> balance_weights(torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]))  # (b, c, x): 1 in 4 positive
    tensor([[[2.0000, 0.6667, 0.6667, 0.6667]]])

    Used in: notebooks/02_deep_boundaries
    """
    target = _as_float_tensor(target, "target")
    if not max_weight > 0:
        raise ValueError(f"max_weight must be positive, got {max_weight}")
    valid = _mask_like(mask, target)
    with torch.no_grad():
        n_valid = valid.sum().clamp(min=1.0)
        frac_pos = (target.detach() * valid).sum() / n_valid
        w_pos = (0.5 / frac_pos).clamp(max=max_weight)
        w_neg = (0.5 / (1 - frac_pos)).clamp(max=max_weight)
        return valid * (target.detach() * w_pos + (1 - target.detach()) * w_neg)


def balanced_bce(logits: torch.Tensor, target: torch.Tensor, *,
                 mask: torch.Tensor | None = None, max_weight: float = 10.0) -> torch.Tensor:
    """Binary cross-entropy on logits, each class weighted by its inverse frequency.

    ``loss = sum(w * bce(logits, target)) / number of valid voxels`` with the
    weights ``w`` of :func:`balance_weights`: equal to the plain mean BCE when
    the classes are balanced. Computed in float32 from logits
    (``binary_cross_entropy_with_logits``: stable, and safe under autocast).

    Parameters
    ----------
    logits : (b, c, ...) torch.Tensor
        Network outputs before the sigmoid, any number of spatial dimensions.
    target : torch.Tensor
        Targets in [0, 1], same shape as ``logits`` (1 = boundary).
    mask : torch.Tensor, optional
        1 = use the voxel, 0 = ignore it; broadcastable to ``target``.
    max_weight : float, optional
        Clip of the class weights (default 10).

    Returns
    -------
    torch.Tensor
        A scalar; gradients flow through ``logits``.

    Examples
    --------
    >>> logits = torch.zeros(1, 1, 2, 2)
    >>> target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    >>> round(balanced_bce(logits, target).item(), 4)  # log(2): every voxel has bce log(2)
    0.6931

    Used in: notebooks/02_deep_boundaries
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    target = _as_float_tensor(target, "target")
    if logits.shape != target.shape:
        raise ValueError(f"logits and target must have the same shape (b, c, ...), "
                         f"got {tuple(logits.shape)} and {tuple(target.shape)}")
    if target.numel() and (not torch.isfinite(target).all() or target.min() < 0
                           or target.max() > 1):
        raise ValueError("target must hold values in [0, 1] (1 = boundary / same object), got "
                         f"a range of [{target.min().item():g}, {target.max().item():g}]; "
                         "labels or 0-255 images are not targets")
    weights = balance_weights(target, mask=mask, max_weight=max_weight)
    n_valid = _mask_like(mask, target).sum().clamp(min=1.0)
    loss = F.binary_cross_entropy_with_logits(logits.float(), target, weight=weights,
                                              reduction="sum")
    return loss / n_valid


def malis_loss(affs: torch.Tensor, labels, *, constrained: bool = True,
               workers: int | None = None) -> torch.Tensor:
    """The MALIS loss of predicted nearest-neighbour affinities.

    For every edge ``e``, ``pos[e]`` / ``neg[e]`` pairs of labelled voxels (same
    / different objects) have ``e`` as their maximin edge (see
    :func:`mbl_seg.malis.malis_weights`). The loss is a weighted squared error::

        unconstrained:  sum_e pos[e] * (1 - a[e])**2 + neg[e] * a[e]**2
        constrained:    sum_e (pos[e] + neg[e]) * (gt[e] - a[e])**2

    divided by the number of pairs, ``sum_e pos[e] + neg[e]``, so the loss is
    in [0, 1] (the mean over pairs of the squared error of their maximin edge).
    In the constrained variant ``pos`` comes from the positive pass and ``neg``
    from the negative pass, and each edge is pulled to its ground-truth
    affinity ``gt`` (the two forms differ only where an object is cut in two
    inside the patch). Pair counts are constants: gradients flow through
    ``affs`` only.

    Parameters
    ----------
    affs : (b, ndim, [z,] y, x) torch.Tensor
        Predicted affinities in [0, 1] (after the sigmoid), course convention:
        channel ``k`` links each voxel with its neighbour at -1 along axis ``k``.
    labels : (b, [z,] y, x) torch.Tensor or ndarray of int
        Ground-truth objects, 0 = background (in no pair).
    constrained : bool, optional
        True (default): constrained MALIS (Funke et al. 2018), False: the
        original MALIS (Turaga et al. 2009).
    workers : int, optional
        Threads counting the pairs of the batch items in parallel (the compiled
        passes release the GIL); default: one per item, at most one per CPU
        core this process may use. 1: one item after the other. The result
        does not depend on it.

    Returns
    -------
    torch.Tensor
        A scalar (0 when no batch item has two labelled voxels).

    Examples
    --------
    >>> affs = torch.tensor([[[[0.0, 0.0, 0.0]], [[0.0, 0.9, 0.2]]]], requires_grad=True)
    >>> loss = malis_loss(affs, torch.tensor([[[1, 1, 2]]]))
    >>> round(loss.item(), 4)  # (1 * 0.1**2 + 2 * 0.2**2) / 3 pairs
    0.03

    Used in: notebooks/04_malis
    """
    affs, labels = _check_malis_inputs(affs, labels)
    workers = _malis_workers(workers, affs.shape[0])
    flat = affs.reshape(affs.shape[0], -1)
    with torch.no_grad():
        probs = affs.detach().float().cpu().numpy()

    def count(i: int):
        return weighted_edges(probs[i], labels[i], constrained=constrained)

    # Items are independent; the results are summed in item order below, so the
    # loss is bitwise the same whatever the number of workers.
    if workers == 1:
        weighted = [count(i) for i in range(affs.shape[0])]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="mbl_seg-malis") as pool:
            weighted = list(pool.map(count, range(affs.shape[0])))
    dtype = torch.promote_types(affs.dtype, torch.float32)  # half precision: sum in float32
    total, n_pairs = affs.new_zeros((), dtype=dtype), 0.0
    for i, (edges, counts, targets) in enumerate(weighted):
        n_pairs += float(counts.sum())
        a = flat[i][torch.from_numpy(edges).to(affs.device)].to(dtype)
        w = torch.from_numpy(counts).to(a.device, dtype)
        t = torch.from_numpy(targets).to(a.device, dtype)
        total = total + (w * (t - a) ** 2).sum()
    return total / max(n_pairs, 1.0)


def lsd_loss(logits: torch.Tensor, target: torch.Tensor, *,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between ``sigmoid(logits)`` and LSD targets, over the masked voxels.

    Parameters
    ----------
    logits : (b, c, ...) torch.Tensor
        Network outputs before the sigmoid (one channel per descriptor).
    target : torch.Tensor
        LSDs in [0, 1] (:func:`mbl_seg.targets.lsds`), the same shape as ``logits``.
    mask : torch.Tensor, optional
        1 = use the voxel, 0 = ignore it; broadcastable to ``target`` (e.g. the
        ``(b, 1, ...)`` ``lsds_mask`` of :class:`mbl_seg.pipeline.LSDs`).

    Returns
    -------
    torch.Tensor
        A scalar: the sum of squared errors over used voxels and channels,
        divided by their number.

    Examples
    --------
    >>> round(lsd_loss(torch.zeros(1, 2, 1, 2), torch.ones(1, 2, 1, 2)).item(), 4)  # (1 - 0.5)²
    0.25

    Used in: notebooks/06_lsds
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    target = _as_float_tensor(target, "target")
    if logits.shape != target.shape:
        raise ValueError(f"logits and target must have the same shape (b, c, ...), "
                         f"got {tuple(logits.shape)} and {tuple(target.shape)}")
    weights = _mask_like(mask, target)
    errors = (torch.sigmoid(logits.float()) - target) ** 2
    return (errors * weights).sum() / weights.sum().clamp(min=1.0)


LSD_WEIGHT = 5.0  # an MSE of values in [0, 1] is ~10x smaller than a BCE: weigh it up


def batch_affinity_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    """Class-balanced BCE of affinity logits against ``batch["affs"]`` where ``affs_mask`` is 1.

    The targets and mask are cropped to the logits (a valid network's output
    is smaller than its input). Used in: notebooks/05_3d_unet, 06_lsds.
    """
    shape = logits.shape[2:]
    return balanced_bce(logits, center_crop(batch["affs"], shape),
                        mask=center_crop(batch["affs_mask"], shape))


def batch_lsd_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    """:func:`lsd_loss` against ``batch["lsds"]`` where ``lsds_mask`` is 1, cropped to the logits.

    Used in: notebooks/06_lsds.
    """
    shape = logits.shape[2:]
    return lsd_loss(logits, center_crop(batch["lsds"], shape),
                    mask=center_crop(batch["lsds_mask"], shape))


def batch_mtlsd_loss(logits: torch.Tensor, batch: dict, *,
                     lsd_weight: float = LSD_WEIGHT) -> torch.Tensor:
    """Multi-task loss of one network with two heads: affinities (channels 0-2) and LSDs (3-12).

    ``batch_affinity_loss(logits[:, :3]) + lsd_weight * batch_lsd_loss(logits[:, 3:])``.
    The LSD head is there to make the network learn about each object's shape
    beyond the membrane in front of it; only the affinities are segmented.

    Used in: notebooks/06_lsds.
    """
    if logits.ndim < 3 or logits.shape[1] != 13:
        raise ValueError(f"an MTLSD network outputs 13 channels (3 affinities, then 10 LSDs), "
                         f"got logits of shape {tuple(logits.shape)}")
    return (batch_affinity_loss(logits[:, :3], batch)
            + lsd_weight * batch_lsd_loss(logits[:, 3:], batch))


# --- input checks ---------------------------------------------------------------------------


def _as_float_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 3:
        raise ValueError(f"{name} must be (b, c, ...) with at least one spatial axis, "
                         f"got shape {tuple(x.shape)}")
    return x.float()


def _mask_like(mask, target: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(target)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor (1 = use, 0 = ignore), "
                        f"got {type(mask).__name__}")
    try:
        return torch.broadcast_to((mask != 0).to(target.dtype), target.shape)
    except RuntimeError:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                         f"target shape {tuple(target.shape)}") from None


def _malis_workers(workers, n_items: int) -> int:
    if workers is None:
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count() or 1)
        return max(1, min(n_items, cores))
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive int (threads) or None, got {workers!r}")
    return int(min(workers, max(n_items, 1)))


def _check_malis_inputs(affs, labels) -> tuple[torch.Tensor, np.ndarray]:
    if not isinstance(affs, torch.Tensor) or not affs.is_floating_point():
        raise TypeError(f"affs must be a float torch.Tensor of probabilities, "
                        f"got {type(affs).__name__} {getattr(affs, 'dtype', '')}")
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"labels must be a torch.Tensor or numpy array, "
                        f"got {type(labels).__name__}")
    spatial = tuple(affs.shape[2:])
    if affs.ndim not in (4, 5) or affs.shape[1] != len(spatial) or labels.shape != (
            affs.shape[0], *spatial):
        raise ValueError(
            "affs must be (b, ndim, [z,] y, x) nearest-neighbour affinities (one channel per "
            f"axis) and labels (b, [z,] y, x); got {tuple(affs.shape)} and {labels.shape}")
    return affs, labels
