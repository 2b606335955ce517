"""Checkpoint files of a training run: save atomically, resume only the same run, load weights.

A checkpoint is one file holding the model, optimizer and gradient-scaler
states, the iteration, the loss and validation histories, the seed and a small
config; it is written atomically (a temporary file, then ``os.replace``), so an
interrupted save never leaves a broken checkpoint behind. A checkpoint of
another run (other architecture, optimizer or optimizer settings such as the
learning rate, seed, batches made by :func:`mbl_seg.pipeline.batch_maker` with
other sizes, augmentations or training data) is never resumed or overwritten
silently: resuming from it raises and says what differs. (The loss function is
not compared: name a new checkpoint when you change it.)

Used in: notebooks/02_deep_boundaries and every later notebook that trains a network
(through :func:`mbl_seg.train.train`), and to load a pretrained network.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = ["CHECKPOINT_NAME", "load_checkpoint"]

CHECKPOINT_NAME = "checkpoint.pt"  # the file name used when ``checkpoint`` is a directory
_FORMAT = "mbl_seg.train/1"


@dataclass
class _History:
    iteration: int = 0
    losses: list[float] = field(default_factory=list)
    validation: list[tuple[int, dict[str, float]]] = field(default_factory=list)


def _checkpoint_file(checkpoint) -> Path | None:
    """``checkpoint`` itself if a file, or ``<checkpoint>/checkpoint.pt`` for a folder."""
    if checkpoint is None:
        return None
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError("checkpoint must be a file or folder path, "
                        f"got {type(checkpoint).__name__}")
    path = Path(checkpoint)
    if path.is_file():
        return path
    return path / CHECKPOINT_NAME if path.is_dir() or not path.suffix else path


def _config(model, opt, input_key: str, make_batch=None) -> dict:
    """What makes a run this run: model, optimizer and its settings, the batches."""
    settings = {k: _plain(v) for k, v in opt.param_groups[0].items() if k != "params"}
    return {"model_class": type(model).__name__, "model_repr": repr(model),
            "optimizer_class": type(opt).__name__, "optimizer_settings": settings,
            "batches": getattr(make_batch, "config", None), "input_key": input_key,
            "torch": str(torch.__version__)}


def _plain(value):
    """A settings value as plain Python (numbers, strings, lists) for saving and comparing."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def _start(path: Path | None, model, opt, scaler, config: dict, *, seed: int, resume: bool,
           overwrite: bool, verbose: bool, iterations: int) -> _History:
    """A fresh history, or the one in an existing checkpoint of the same run (states loaded)."""
    if path is None or not path.exists() or overwrite:
        return _History()  # an existing file is replaced at the first save
    if not resume:
        raise FileExistsError(f"the checkpoint {path} exists and resume=False: pass another "
                              "checkpoint path, or overwrite=True to replace it")
    saved = _read(path)
    problems = _run_differences(saved, model, config, seed)
    if problems:
        raise FileExistsError(
            f"the checkpoint {path} belongs to another run ({'; '.join(problems)}); pass "
            "another checkpoint path, or resume=False, overwrite=True to replace it")
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    scaler.load_state_dict(saved["scaler"])
    history = _History(int(saved["iteration"]), [float(v) for v in saved["losses"]],
                       [(int(i), dict(m)) for i, m in saved["validation"]])
    if verbose:
        more = ("nothing left to do" if history.iteration >= iterations
                else f"continuing to {iterations}")
        print(f"loaded {path}: trained for {history.iteration} iterations, {more}")
    return history


def _read(path: Path) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ValueError(f"{path} is not a checkpoint torch can read ({type(err).__name__}); "
                         "pass another path, or resume=False, overwrite=True to replace it"
                         ) from err
    if not isinstance(saved, dict):
        raise ValueError(f"{path} holds a {type(saved).__name__}, not a checkpoint dict")
    return saved


def _run_differences(saved: dict, model, config: dict, seed: int) -> list[str]:
    if saved.get("format") != _FORMAT:
        return [f"it is not a checkpoint of mbl_seg.train (format {saved.get('format')!r})"]
    problems = _shape_differences(saved["model"], model)
    old = saved.get("config", {})
    for key, what in (("model_class", "model class"), ("optimizer_class", "optimizer")):
        if old.get(key) != config[key]:
            problems.append(f"{what} {old.get(key)} there, {config[key]} here")
    if not problems and old.get("model_repr") != config["model_repr"]:
        problems.append("the model's layers differ (compare repr(model))")
    if saved.get("seed") != seed:
        problems.append(f"seed {saved.get('seed')} there, {seed} here")
    problems += _setting_differences(old, config, "optimizer_settings", "optimizer")
    problems += _setting_differences(old, config, "batches", "batches")
    return problems


def _setting_differences(old: Mapping, config: Mapping, key: str, what: str) -> list[str]:
    """``name there, name here`` for each setting that differs (training data: one line)."""
    if key not in old:
        return [f"the checkpoint does not record its {what} (made by an older mbl_seg)"]
    there, here = old[key] or {}, config[key] or {}
    found = []
    for name in sorted(set(there) | set(here)):
        if there.get(name) == here.get(name):
            continue
        if name in ("raw", "labels"):
            found.append(f"the training data differ ({name})")
        else:
            found.append(f"{what} {name} {there.get(name)} there, {here.get(name)} here")
    return found


def _shape_differences(state: Mapping, model, limit: int = 3) -> list[str]:
    """Parameters and buffers whose names or shapes differ between ``state`` and ``model``."""
    ours = model.state_dict()
    found = [f"{k} only in the checkpoint" for k in state if k not in ours]
    found += [f"{k} missing from the checkpoint" for k in ours if k not in state]
    found += [f"{k} is {tuple(state[k].shape)} there, {tuple(v.shape)} here"
              for k, v in ours.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    return found[:limit] + ([f"{len(found) - limit} more"] if len(found) > limit else [])


def _save(path: Path, model, opt, scaler, history: _History, *, seed: int, config: dict) -> None:
    """Write the checkpoint atomically: a temporary file in the same folder, then a rename."""
    payload = {"format": _FORMAT, "iteration": history.iteration, "seed": seed,
               "model": model.state_dict(), "optimizer": opt.state_dict(),
               "scaler": scaler.state_dict(), "losses": list(history.losses),
               "validation": list(history.validation), "config": config}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load a checkpoint's weights into ``model`` (and ``optimizer``), e.g. a pretrained one.

    Parameters
    ----------
    path : path
        A checkpoint file written by :func:`mbl_seg.train.train` (or a bare ``state_dict`` file), or
        a folder holding ``checkpoint.pt``.
    model : torch.nn.Module
        Must have the checkpoint's parameter names and shapes; left in eval
        mode, ready for prediction.
    optimizer : torch.optim.Optimizer, optional
        Also restore the optimizer state.

    Returns
    -------
    dict
        The checkpoint: ``iteration``, ``losses``, ``validation``, ``seed``,
        ``config`` and the state dicts (see `plot_losses`).

    Examples
    --------
    >>> import tempfile
    >>> from mbl_seg.train import train
    >>> model = torch.nn.Linear(2, 1)
    >>> batch, loss = lambda rng: {"raw": rng.random((4, 2))}, lambda out, b: out.pow(2).mean()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = train(model, batch, loss, iterations=2, device="cpu", checkpoint=folder,
    ...               progress=False)
    ...     info = load_checkpoint(folder, torch.nn.Linear(2, 1))
    >>> info["iteration"], len(info["losses"])
    (2, 2)
    """
    file = _checkpoint_file(path)
    if file is None or not file.is_file():
        raise FileNotFoundError(f"no checkpoint file at {file}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    saved = _read(file)
    if "model" not in saved and all(isinstance(v, torch.Tensor) for v in saved.values()):
        saved = {"model": saved}  # a bare state_dict saved with torch.save(model.state_dict())
    if "model" not in saved:
        raise ValueError(f"{file} has no model weights (keys: {sorted(saved)})")
    problems = _shape_differences(saved["model"], model)
    if problems:
        raise ValueError(f"the checkpoint {file} does not fit this model: {'; '.join(problems)}")
    model.load_state_dict(saved["model"])
    if optimizer is not None:
        if "optimizer" not in saved:
            raise ValueError(f"{file} holds no optimizer state")
        optimizer.load_state_dict(saved["optimizer"])
    model.eval()
    return saved
