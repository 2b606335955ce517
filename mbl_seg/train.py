"""Training a network: the loop of every training notebook, with checkpoints and exact resume.

A run is a model, a batch function, a loss and a seed. Batch ``i`` is
``make_batch(np.random.default_rng([seed, i]))`` (or batch ``i`` of a batch
source such as :class:`mbl_seg.pipeline.BatchSource`, made from ``(seed, i)``
by DataLoader workers) and torch's random state (dropout) is reseeded from
``(seed, i)`` before iteration ``i``, so an iteration does not depend on
whether the run was interrupted: 20 iterations in one go, or 10, a
checkpoint, and 10 more, give the same weights on CPU.

The network should never wait: a background thread makes the next batches
while the current one trains (``prefetch``; the same batches, in the same
order, as without it), on a GPU into pinned memory copied asynchronously, and
the losses stay on the GPU for a few iterations before they are read back
(each read waits for the GPU to finish).

A checkpoint is one file holding the model, optimizer and gradient-scaler
states, the iteration, the loss and validation histories, the seed and a small
config; it is written atomically (a temporary file, then ``os.replace``), so an
interrupted save never leaves a broken checkpoint behind. Stopping a run
(Ctrl-C, the notebook's stop button) loses only the iterations since the last
save: calling `train` again with the same arguments resumes from there.

Used in: notebooks/02_deep_boundaries and every later notebook that trains a network.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoints import (
    CHECKPOINT_NAME,
    _checkpoint_file,
    _config,
    _History,
    _save,
    _start,
    load_checkpoint,
)
from ._feed import _Batches, _host_batch, _is_source, _tensor  # noqa: F401 - tests use them
from ._validate import as_metrics
from .env import select_device, use_amp

__all__ = ["TrainResult", "train", "load_checkpoint", "CHECKPOINT_NAME"]

_POSTFIX_WINDOW = 20  # the progress bar shows the mean loss of the last 20 iterations
_GPU_LOSS_READS = 20  # on a GPU, read the losses back every 20 iterations, not every step


class TrainResult(NamedTuple):
    """What `train` returns.

    ``model`` (trained, in eval mode), ``losses`` (one float per iteration, from
    iteration 1, earlier runs of a resumed checkpoint included), ``validation``
    (``(iteration, {metric: value})`` pairs), ``iterations_done``, ``checkpoint``
    (the file, or None), ``seconds`` (wall time of this call), ``data_wait``
    (seconds of it the training loop spent waiting for batches) and
    ``seconds_total`` (wall time of all the training up to ``iterations_done``, the
    calls before a resumed checkpoint included, as far as their checkpoints recorded it).
    """

    model: torch.nn.Module
    losses: list[float]
    validation: list[tuple[int, dict[str, float]]]
    iterations_done: int
    checkpoint: Path | None
    seconds: float
    data_wait: float
    seconds_total: float = 0.0


def train(model: torch.nn.Module, make_batch: Callable[[np.random.Generator], dict],
          loss_fn: Callable[[Any, dict], torch.Tensor], *, iterations: int,
          optimizer: Callable | None = None, device: str | None = None, amp: bool | None = None,
          seed: int = 0, checkpoint: str | os.PathLike | None = None,
          save_every: int | None = None, resume: bool = True, overwrite: bool = False,
          validate: Callable | None = None, validate_every: int | None = None,
          input_key: str = "raw", deterministic: bool | None = None, prefetch: int = 2,
          progress: bool = True) -> TrainResult:
    """Train ``model`` for ``iterations`` steps, resuming from ``checkpoint`` if it exists.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``; its initial weights are the caller's business.
    make_batch : callable ``(rng: np.random.Generator) -> dict[str, ndarray]``, or a batch source
        One batch, e.g. ``{"raw": (b, c, [z,] y, x) float32, "target": ..., "mask": ...}``,
        drawn only from ``rng`` (it runs on a background thread: no global random
        state). Float arrays become float32 tensors, integer arrays (labels)
        int64, booleans stay boolean. Or an object with a method
        ``batches(seed, start, stop)`` giving batches ``start .. stop - 1`` in
        order, batch ``i`` made from ``(seed, i)`` only, e.g.
        :class:`mbl_seg.pipeline.BatchSource` (DataLoader worker processes). Its
        ``config`` (a ``make_batch.config`` too) goes into the checkpoint.
    loss_fn : callable ``(outputs, batch) -> scalar tensor``
        ``outputs = model(batch[input_key])``; ``batch`` is the dict as tensors
        on the device (so the loss can crop targets to a valid-padded output).
    iterations : int
        The total to reach, counting iterations a resumed checkpoint already did.
    optimizer : callable ``(params) -> torch.optim.Optimizer``, optional
        A factory, e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``; default Adam, lr 1e-4.
        On resume the checkpoint's optimizer state (learning rate included) wins.
    device : {"cpu", "cuda", "cuda:N", "mps"}, optional
        Default: CUDA, else MPS, else CPU (see `mbl_seg.env.select_device`).
    amp : bool, optional
        Mixed precision (autocast + gradient scaling); default on CUDA only.
    seed : int
        Seeds batches and dropout; part of the run's identity in the checkpoint.
    checkpoint : path, optional
        A file, or a directory (then ``<dir>/checkpoint.pt``). None: no checkpoint.
    save_every : int, optional
        Save every so many iterations (default: 10 saves per run) and at the end.
    resume : bool
        Continue from an existing checkpoint of the same run (same model class,
        structure and settings, optimizer and its settings, batches, loss
        function and seed); a checkpoint of another run is never overwritten
        silently: it raises ``FileExistsError`` and says what differs.
    overwrite : bool
        With ``resume=False``: start afresh and replace an existing checkpoint.
    validate : callable ``(model) -> float or dict[str, float]``, optional
        Called in eval mode under ``torch.no_grad()``; the results are kept.
    validate_every : int, optional
        Validate every so many iterations (default: 10 times per run) and at the end.
    input_key : str
        The batch entry fed to the network.
    deterministic : bool, optional
        Use torch's deterministic algorithms during training (restored afterwards);
        default: on CPU only, since on a GPU it costs speed and cannot make AMP exact
        (off, cuDNN picks its fastest convolutions: ``cudnn.benchmark``).
    prefetch : int
        Batches made ahead on a background thread while the network trains
        (default 2); 0: each batch is made on the training thread when it is
        needed. The batches, and so the results, are the same either way. (A
        batch source's workers make batches ahead too; this thread takes them.)
    progress : bool
        Show a progress bar (running loss, last validation) and one-line messages.

    Returns
    -------
    TrainResult
        ``(model, losses, validation, iterations_done, checkpoint, seconds, data_wait)``.

    Examples
    --------
    >>> model = torch.nn.Conv2d(1, 1, 3, padding=1)
    >>> def make_batch(rng):
    ...     raw = rng.random((2, 1, 8, 8), dtype=np.float32)
    ...     return {"raw": raw, "target": 1 - raw}
    >>> def loss_fn(outputs, batch):
    ...     return torch.nn.functional.mse_loss(outputs, batch["target"])
    >>> result = train(model, make_batch, loss_fn, iterations=3, device="cpu", progress=False)
    >>> result.iterations_done, len(result.losses)
    (3, 3)
    """
    _check_args(model, make_batch, loss_fn, validate, iterations=iterations, seed=seed,
                save_every=save_every, validate_every=validate_every,
                resume=resume, overwrite=overwrite, prefetch=prefetch)
    seed, iterations = int(seed), int(iterations)  # numpy ints would not load weights-only
    device = select_device(device)
    amp = use_amp(amp, device)
    path = _checkpoint_file(checkpoint)
    model.to(device)
    opt = _make_optimizer(optimizer, model)
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=amp)
    config = _config(model, opt, input_key, make_batch, loss_fn)
    history = _start(path, model, opt, scaler, config, seed=seed, resume=resume,
                     overwrite=overwrite, verbose=progress, iterations=iterations)
    started, waited = time.perf_counter(), 0.0
    history.clock = (started, history.seconds)  # training time so far = before + this call
    if history.iteration < iterations:
        every = {"save": save_every or _tenth(iterations),
                 "validate": validate_every or _tenth(iterations)}
        if deterministic is None:
            deterministic = device == "cpu"
        batches = _Batches(make_batch, seed=seed, start=history.iteration, stop=iterations,
                           input_key=input_key, ahead=int(prefetch),
                           pin=torch.device(device).type == "cuda")
        with _reproducible(device, deterministic), batches:
            _loop(model, opt, scaler, batches, loss_fn, history, iterations=iterations,
                  seed=seed, device=device, amp=amp, input_key=input_key, validate=validate,
                  every=every, path=path, config=config, progress=progress)
        waited = batches.waited
    model.eval()
    return TrainResult(model, history.losses, history.validation, history.iteration, path,
                       time.perf_counter() - started, waited, history.seconds)


def _loop(model, opt, scaler, batches: _Batches, loss_fn, history: _History, *,
          iterations: int, seed: int, device: str, amp: bool, input_key: str, validate,
          every: dict, path: Path | None, config: dict, progress: bool) -> None:
    """Iterations ``history.iteration + 1 .. iterations``, with validation and saves."""
    model.train()
    reads = _loss_reads(device)
    pending = []  # the losses not read yet: 0-d tensors on the device
    with tqdm(total=iterations, initial=history.iteration, desc="training", unit="it",
              disable=not progress, dynamic_ncols=True) as bar:
        for index in range(history.iteration, iterations):
            # Global torch seeding is unavoidable for dropout inside the user's model;
            # `_reproducible` forks the RNG, so the caller's random state is restored.
            torch.manual_seed(_torch_seed(seed, index))
            batch = {key: value.to(device, non_blocking=True)
                     for key, value in batches.next().items()}
            pending.append(_step(model, opt, scaler, batch, loss_fn, amp=amp,
                                 input_key=input_key, iteration=index + 1, check=reads == 1))
            history.iteration = done = index + 1
            save = path is not None and (done % every["save"] == 0 or done == iterations)
            read = len(pending) >= reads or save or done == iterations
            if read:
                _read_losses(pending, history, amp=amp)
            validated = validate is not None and (done % every["validate"] == 0
                                                  or done == iterations)
            if validated:
                history.validation.append((done, _validate(model, validate)))
            history.seconds = history.clock[1] + time.perf_counter() - history.clock[0]
            if save:
                _save(path, model, opt, scaler, history, seed=seed, config=config)
            if read or validated:
                bar.set_postfix(_postfix(history), refresh=False)
            bar.update(1)


def _step(model, opt, scaler, batch: dict, loss_fn, *, amp: bool, input_key: str,
          iteration: int, check: bool) -> torch.Tensor:
    """One optimisation step; returns the loss, detached, where it was computed.

    ``check``: read the loss now and stop before the update if it is not finite.
    """
    opt.zero_grad(set_to_none=True)
    device_type = batch[input_key].device.type
    with torch.autocast(device_type, enabled=amp):
        loss = loss_fn(model(batch[input_key]), batch)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError("loss_fn must return a scalar torch tensor (e.g. `bce(out, t).mean()`), "
                        f"got {type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")
    value = loss.detach().reshape(()).float()
    if check and not amp:
        _check_finite([float(value)], iteration)
    scaler.scale(loss.reshape(())).backward()
    scaler.step(opt)
    scaler.update()
    return value


def _loss_reads(device: str) -> int:
    """Read the losses back every so many iterations: each read makes the CPU wait for a GPU."""
    return 1 if torch.device(device).type == "cpu" else _GPU_LOSS_READS


def _read_losses(pending: list[torch.Tensor], history: _History, *, amp: bool) -> None:
    """Move the losses of the last ``len(pending)`` iterations into the history (one read)."""
    if not pending:
        return
    values = torch.stack(pending).tolist()
    pending.clear()
    if not amp:
        _check_finite(values, history.iteration - len(values) + 1)
    history.losses.extend(values)


def _check_finite(values: list[float], first: int) -> None:
    """Raise at the first loss that is not finite; ``first`` is the iteration of ``values[0]``.

    Under AMP an overflow is normal (the scaler skips that step): not checked there.
    """
    for iteration, value in enumerate(values, start=first):
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss is {value} at iteration {iteration}: training diverged (try a "
                "smaller learning rate) or the loss divided by zero (an empty mask?)")


def _validate(model, validate) -> dict[str, float]:
    model.eval()
    try:
        with torch.no_grad():
            value = validate(model)
    finally:
        model.train()
    return as_metrics(value, "validate")


def _postfix(history: _History) -> dict[str, str]:
    shown = {}
    if history.losses:
        shown["loss"] = f"{np.mean(history.losses[-_POSTFIX_WINDOW:]):.4g}"
    if history.validation:
        name, value = next(iter(history.validation[-1][1].items()), ("", 0.0))
        if name:
            shown[name] = f"{value:.4g}"
    return shown


@contextlib.contextmanager
def _reproducible(device: str, deterministic: bool):
    """Fork torch's random state and set the algorithm choice, restoring both afterwards.

    Deterministic: torch's deterministic algorithms. Otherwise, on CUDA, cuDNN
    times its convolution algorithms once per input shape and keeps the fastest.
    """
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.benchmark)
    kind = torch.device(device).type
    devices = [] if kind == "cpu" else [device]
    with torch.random.fork_rng(devices=devices, device_type=None if kind == "cpu" else kind):
        try:
            if deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
                torch.backends.cudnn.benchmark = False
            elif kind == "cuda":
                torch.backends.cudnn.benchmark = True
            yield
        finally:
            torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
            torch.backends.cudnn.benchmark = previous[2]


def _torch_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index, 1]).generate_state(1, np.uint64)[0] >> 1)


# --- the loss curve -------------------------------------------------------------------------


def _check_args(model, make_batch, loss_fn, validate, *, iterations, seed, save_every,
                validate_every, resume, overwrite, prefetch) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters")
    if not callable(make_batch) and not _is_source(make_batch):
        raise TypeError("make_batch must be a function (rng) -> batch, or a batch source with "
                        ".batches(seed, start, stop) such as mbl_seg.pipeline.BatchSource, "
                        f"got {type(make_batch).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function, got {type(loss_fn).__name__}")
    if validate is not None and not callable(validate):
        raise TypeError(f"validate must be a function (model) -> metrics, got {validate!r}")
    _positive_int(iterations, "iterations")
    for name, value in (("save_every", save_every), ("validate_every", validate_every)):
        if value is not None:
            _positive_int(value, name)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) or prefetch < 0:
        raise ValueError(f"prefetch must be an int >= 0 (batches made ahead; 0: none), "
                         f"got {prefetch!r}")
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True contradict each other: to start "
                         "afresh over an existing checkpoint pass resume=False, overwrite=True")


def _positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")




def _make_optimizer(factory, model) -> torch.optim.Optimizer:
    if factory is None:
        return torch.optim.Adam(model.parameters(), lr=1e-4)
    if isinstance(factory, torch.optim.Optimizer) or not callable(factory):
        raise TypeError("optimizer must be a factory such as "
                        "`lambda params: torch.optim.Adam(params, lr=1e-3)` (train builds it "
                        f"after moving the model to the device), got {type(factory).__name__}")
    opt = factory(model.parameters())
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"the optimizer factory returned {type(opt).__name__}, not an Optimizer")
    return opt


def _tenth(iterations: int) -> int:
    return max(1, -(-iterations // 10))
