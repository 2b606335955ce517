"""Training a network: the loop of every training notebook, with checkpoints and exact resume.

A run is a model, a batch function, a loss and a seed. Batch ``i`` is
``make_batch(np.random.default_rng([seed, i]))`` and torch's random state
(dropout) is reseeded from ``(seed, i)`` before iteration ``i``, so an
iteration does not depend on whether the run was interrupted: 20 iterations in
one go, or 10, a checkpoint, and 10 more, give the same weights on CPU.

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
import os
import time
from collections.abc import Callable, Mapping
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
from .env import select_device, use_amp

__all__ = ["TrainResult", "train", "load_checkpoint", "plot_losses", "CHECKPOINT_NAME"]

_POSTFIX_WINDOW = 20  # the progress bar shows the mean loss of the last 20 iterations


class TrainResult(NamedTuple):
    """What `train` returns.

    ``model`` (trained, in eval mode), ``losses`` (one float per iteration, from
    iteration 1, earlier runs of a resumed checkpoint included), ``validation``
    (``(iteration, {metric: value})`` pairs), ``iterations_done``, ``checkpoint``
    (the file, or None) and ``seconds`` (wall time of this call).
    """

    model: torch.nn.Module
    losses: list[float]
    validation: list[tuple[int, dict[str, float]]]
    iterations_done: int
    checkpoint: Path | None
    seconds: float


def train(model: torch.nn.Module, make_batch: Callable[[np.random.Generator], dict],
          loss_fn: Callable[[Any, dict], torch.Tensor], *, iterations: int,
          optimizer: Callable | None = None, device: str | None = None, amp: bool | None = None,
          seed: int = 0, checkpoint: str | os.PathLike | None = None,
          save_every: int | None = None, resume: bool = True, overwrite: bool = False,
          validate: Callable | None = None, validate_every: int | None = None,
          input_key: str = "raw", deterministic: bool | None = None,
          progress: bool = True) -> TrainResult:
    """Train ``model`` for ``iterations`` steps, resuming from ``checkpoint`` if it exists.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``; its initial weights are the caller's business.
    make_batch : callable ``(rng: np.random.Generator) -> dict[str, ndarray]``
        One batch, e.g. ``{"raw": (b, c, [z,] y, x) float32, "target": ..., "mask": ...}``,
        drawn only from ``rng``. Float arrays become float32 tensors, integer
        arrays (labels) int64, booleans stay boolean.
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
        structure, parameter shapes, optimizer class and seed); a checkpoint of
        another run is never overwritten silently: it raises ``FileExistsError``.
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
        default: on CPU only, since on a GPU it costs speed and cannot make AMP exact.
    progress : bool
        Show a progress bar (running loss, last validation) and one-line messages.

    Returns
    -------
    TrainResult
        ``(model, losses, validation, iterations_done, checkpoint, seconds)``.

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
                resume=resume, overwrite=overwrite)
    seed, iterations = int(seed), int(iterations)  # numpy ints would not load weights-only
    device = select_device(device)
    amp = use_amp(amp, device)
    path = _checkpoint_file(checkpoint)
    model.to(device)
    opt = _make_optimizer(optimizer, model)
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=amp)
    config = _config(model, opt, input_key, make_batch)
    history = _start(path, model, opt, scaler, config, seed=seed, resume=resume,
                     overwrite=overwrite, verbose=progress, iterations=iterations)
    started = time.perf_counter()
    if history.iteration < iterations:
        every = {"save": save_every or _tenth(iterations),
                 "validate": validate_every or _tenth(iterations)}
        if deterministic is None:
            deterministic = device == "cpu"
        with _reproducible(device, deterministic):
            _loop(model, opt, scaler, make_batch, loss_fn, history, iterations=iterations,
                  seed=seed, device=device, amp=amp, input_key=input_key, validate=validate,
                  every=every, path=path, config=config, progress=progress)
    model.eval()
    return TrainResult(model, history.losses, history.validation, history.iteration, path,
                       time.perf_counter() - started)


def _loop(model, opt, scaler, make_batch, loss_fn, history: _History, *, iterations: int,
          seed: int, device: str, amp: bool, input_key: str, validate, every: dict,
          path: Path | None, config: dict, progress: bool) -> None:
    """Iterations ``history.iteration + 1 .. iterations``, with validation and saves."""
    model.train()
    with tqdm(total=iterations, initial=history.iteration, desc="training", unit="it",
              disable=not progress, dynamic_ncols=True) as bar:
        for index in range(history.iteration, iterations):
            # Global torch seeding is unavoidable for dropout inside the user's model;
            # `_reproducible` forks the RNG, so the caller's random state is restored.
            torch.manual_seed(_torch_seed(seed, index))
            batch = _batch(make_batch, np.random.default_rng([seed, index]), device, input_key)
            loss = _step(model, opt, scaler, batch, loss_fn, amp=amp, input_key=input_key,
                         iteration=index + 1)
            history.losses.append(loss)
            history.iteration = done = index + 1
            if validate is not None and (done % every["validate"] == 0 or done == iterations):
                history.validation.append((done, _validate(model, validate)))
            if path is not None and (done % every["save"] == 0 or done == iterations):
                _save(path, model, opt, scaler, history, seed=seed, config=config)
            bar.set_postfix(_postfix(history), refresh=False)
            bar.update(1)


def _step(model, opt, scaler, batch: dict, loss_fn, *, amp: bool, input_key: str,
          iteration: int) -> float:
    """One optimisation step; returns the loss as a float."""
    opt.zero_grad(set_to_none=True)
    device_type = batch[input_key].device.type
    with torch.autocast(device_type, enabled=amp):
        loss = loss_fn(model(batch[input_key]), batch)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError("loss_fn must return a scalar torch tensor (e.g. `bce(out, t).mean()`), "
                        f"got {type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")
    value = float(loss.detach())
    # Under AMP an overflow is normal: the scaler skips that step and lowers its scale.
    if not amp and not np.isfinite(value):
        raise FloatingPointError(
            f"the loss is {value} at iteration {iteration}: training diverged (try a smaller "
            "learning rate) or the loss divided by zero (an empty mask?)")
    scaler.scale(loss.reshape(())).backward()
    scaler.step(opt)
    scaler.update()
    return value


def _batch(make_batch, rng: np.random.Generator, device: str, input_key: str) -> dict:
    """Call ``make_batch`` and move its arrays to ``device`` as tensors."""
    arrays = make_batch(rng)
    if not isinstance(arrays, Mapping):
        raise TypeError("make_batch must return a dict of arrays, e.g. {'raw': ..., 'target': "
                        f"...}}, got {type(arrays).__name__}")
    if input_key not in arrays:
        raise ValueError(f"make_batch returned no {input_key!r} entry (the network input), only "
                         f"{sorted(map(str, arrays))}; pass input_key= to feed another one")
    return {key: _tensor(key, value, device) for key, value in arrays.items()}


def _tensor(key, value, device: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if not isinstance(value, np.ndarray) or not (
            np.issubdtype(value.dtype, np.number) or value.dtype == bool):
        raise TypeError(f"make_batch's {key!r} must be a numeric numpy array, got "
                        f"{type(value).__name__} {getattr(value, 'dtype', '')}".rstrip())
    if np.issubdtype(value.dtype, np.floating):
        value = value.astype(np.float32, copy=False)
    elif np.issubdtype(value.dtype, np.integer):
        value = value.astype(np.int64, copy=False)  # torch supports few ops on uint64 labels
    return torch.from_numpy(np.ascontiguousarray(value)).to(device)


def _validate(model, validate) -> dict[str, float]:
    model.eval()
    try:
        with torch.no_grad():
            value = validate(model)
    finally:
        model.train()
    return _metrics(value, "validate")


def _metrics(value, what: str) -> dict[str, float]:
    """A validation result as ``{name: float}``; a bare number is named "validation"."""
    if isinstance(value, Mapping):
        try:
            return {str(k): float(v) for k, v in value.items()}
        except (TypeError, ValueError):
            pass
    else:
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            return {"validation": float(value)}
    raise TypeError(f"{what} must return a number or a dict of numbers, e.g. {{'voi': 1.2}}, "
                    f"got {value!r}")


def _postfix(history: _History) -> dict[str, str]:
    shown = {"loss": f"{np.mean(history.losses[-_POSTFIX_WINDOW:]):.4g}"}
    if history.validation:
        name, value = next(iter(history.validation[-1][1].items()), ("", 0.0))
        if name:
            shown[name] = f"{value:.4g}"
    return shown


@contextlib.contextmanager
def _reproducible(device: str, deterministic: bool):
    """Fork torch's random state and switch on deterministic algorithms, restoring both."""
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
            yield
        finally:
            torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
            torch.backends.cudnn.benchmark = previous[2]


def _torch_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index, 1]).generate_state(1, np.uint64)[0] >> 1)


# --- the loss curve -------------------------------------------------------------------------


def plot_losses(result, *, validation=None, ax=None, smooth: int | None = None):
    """The training loss per iteration (raw and running mean, log scale) and validation metrics.

    Parameters
    ----------
    result : TrainResult, checkpoint dict (from `load_checkpoint`) or (N,) sequence of floats
        The losses; a result or checkpoint brings its validation history along.
    validation : list of (iteration, float or dict[str, float]), optional
        Validation results, drawn on a second y axis (overrides the result's).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    smooth : int, optional
        Window of the running mean, in iterations (default N // 20; 0 or 1: none).

    Returns
    -------
    matplotlib Axes
        The loss axes; the validation axes, if any, is its twin.

    Examples
    --------
    >>> ax = plot_losses([1.0, 0.5, 0.3, 0.2], validation=[(2, 0.7), (4, 0.4)], smooth=2)
    >>> ax.get_yscale(), ax.get_xlabel()
    ('log', 'iteration')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    losses, validation = _history_of(result, validation)
    if smooth is None:
        smooth = len(losses) // 20
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) or smooth < 0:
        raise ValueError(f"smooth must be a window of iterations (int >= 0), got {smooth!r}")
    if ax is None:
        import matplotlib.pyplot as plt  # only when a figure is asked for

        ax = plt.figure(figsize=(7, 3.5), layout="constrained").add_subplot()
    steps = np.arange(1, losses.size + 1)
    ax.plot(steps, losses, color="C0", alpha=0.35 if smooth > 1 else 1.0, lw=1, label="loss")
    if smooth > 1:
        ax.plot(steps, _running_mean(losses, smooth), color="C0", lw=2,
                label=f"loss, mean of {smooth}")
    if np.all(losses > 0):  # log scale shows the slow late decrease; it needs positive values
        ax.set_yscale("log")
    ax.set(xlabel="iteration", ylabel="training loss")
    handles, top = ax.get_legend_handles_labels(), ax
    if validation:
        twin = ax.twinx()
        names = list(dict.fromkeys(name for _, metrics in validation for name in metrics))
        for colour, name in enumerate(names, start=1):
            points = np.array([(i, m[name]) for i, m in validation if name in m])
            twin.plot(points[:, 0], points[:, 1], "o-", color=f"C{colour}",
                      label=f"validation {name}" if name != "validation" else name)
        twin.set_ylabel("validation")
        more = twin.get_legend_handles_labels()
        handles, top = (handles[0] + more[0], handles[1] + more[1]), twin
    # Above the axes, so that it hides no curve; on the top axes, so that no curve hides it.
    top.legend(*handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4,
               frameon=False, fontsize="small")
    return ax


def _history_of(result, validation) -> tuple[np.ndarray, list[tuple[int, dict[str, float]]]]:
    if isinstance(result, TrainResult):
        losses, found = result.losses, result.validation
    elif isinstance(result, Mapping):
        if "losses" not in result:
            raise ValueError(f"a checkpoint dict needs a 'losses' entry, got keys {sorted(result)}")
        losses, found = result["losses"], result.get("validation")
    else:
        losses, found = result, None
    try:
        losses = np.asarray(losses, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("plot_losses needs a TrainResult, a checkpoint dict or a list of losses, "
                        f"got {type(result).__name__}") from None
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses must be a non-empty 1D sequence, got shape {losses.shape}")
    pairs = found if validation is None else validation
    try:
        pairs = [(int(i), _metrics(m, "validation")) for i, m in (pairs or [])]
    except (TypeError, ValueError):
        raise TypeError("validation must be a list of (iteration, number or dict) pairs, "
                        f"got {pairs!r}") from None
    return losses, pairs


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (fewer at the start).

    >>> _running_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2)
    array([1., 2., 4., 6.])
    """
    total = np.concatenate([[0.0], np.cumsum(values)])
    end = np.arange(1, values.size + 1)
    begin = np.maximum(end - window, 0)
    return (total[end] - total[begin]) / (end - begin)


# --- arguments ------------------------------------------------------------------------------


def _check_args(model, make_batch, loss_fn, validate, *, iterations, seed, save_every,
                validate_every, resume, overwrite) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters")
    for name, fn in (("make_batch", make_batch), ("loss_fn", loss_fn)):
        if not callable(fn):
            raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
    if validate is not None and not callable(validate):
        raise TypeError(f"validate must be a function (model) -> metrics, got {validate!r}")
    _positive_int(iterations, "iterations")
    for name, value in (("save_every", save_every), ("validate_every", validate_every)):
        if value is not None:
            _positive_int(value, name)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
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
