"""Checkpoint files of a training run: save atomically, resume only the same run, load weights.

A checkpoint is one file holding the model, optimizer and gradient-scaler
states, the iteration, the loss and validation histories, the seed and a small
config; it is written atomically (a temporary file, then ``os.replace``), so an
interrupted save never leaves a broken checkpoint behind. A checkpoint of
another run (other architecture or model settings, optimizer or optimizer
settings such as the learning rate, seed, batches made by
:func:`mbl_seg.pipeline.batch_maker` with other sizes, augmentations or training
data, another loss function) is never resumed or overwritten silently: resuming
from it raises and says what differs.

The loss function is known by its name and a fingerprint of what it computes:
its compiled code, constants, default arguments, the values it closes over, the
arguments of a ``functools.partial``, and the functions and numbers of its own
module that it uses. Renaming it or rewriting a comment keeps the run; changing
what it computes does not. Checkpoints written before a field was recorded
(the loss, the model settings) are resumed with that field unknown.

Used in: notebooks/02_deep_boundaries and every later notebook that trains a network
(through :func:`mbl_seg.train.train`), and to load a pretrained network.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import hashlib
import os
import sys
import tempfile
import types
from collections.abc import Mapping
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ._validate import as_plain

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "load_pretrained", "Pretrained"]

CHECKPOINT_NAME = "checkpoint.pt"  # the file name used when ``checkpoint`` is a directory
_FORMAT = "mbl_seg.train/1"


@dataclass
class _History:
    iteration: int = 0
    losses: list[float] = field(default_factory=list)
    validation: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the training up to ``iteration``, over every call
    clock: tuple[float, float] = (0.0, 0.0)  # this call's start (perf_counter), seconds before


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


def _config(model, opt, input_key: str, make_batch=None, loss_fn=None) -> dict:
    """What makes a run this run: model, optimizer and their settings, batches, loss."""
    settings = {k: as_plain(v) for k, v in opt.param_groups[0].items() if k != "params"}
    model_settings = getattr(model, "config", None)  # constructor arguments, if kept
    model_settings = as_plain(model_settings) if isinstance(model_settings, Mapping) else None
    return {"model_class": type(model).__name__, "model_repr": repr(model),
            "model_settings": model_settings,
            "optimizer_class": type(opt).__name__, "optimizer_settings": settings,
            "batches": getattr(make_batch, "config", None), "input_key": input_key,
            "loss": None if loss_fn is None else _identity(loss_fn),
            "torch": str(torch.__version__)}


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
                       [(int(i), dict(m)) for i, m in saved["validation"]],
                       float(saved.get("seconds", 0.0)))  # older checkpoints: not recorded
    if verbose:
        more = ("nothing left to do" if history.iteration >= iterations
                else f"continuing to {iterations}")
        print(f"loaded {path}: trained for {history.iteration} iterations, {more}")
    return history


def _read(path: Path) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable file gets the same advice
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
    if old.get("model_settings") and config.get("model_settings"):  # else: unknown
        problems += _setting_differences(old, config, "model_settings", "model")
    return problems + _loss_differences(old.get("loss"), config.get("loss"))


def _loss_differences(there: Mapping | None, here: Mapping | None) -> list[str]:
    """How the loss of the checkpoint (``there``) differs from this run's (``here``).

    Fingerprints are compared when both come from the same Python version (the
    compiled code changes between versions), names otherwise. A checkpoint that
    recorded no loss (older mbl_seg) is taken as the same loss.
    """
    if not there or not here:
        return []
    comparable = there.get("python") == here.get("python") and there.get("fingerprint")
    if comparable and there["fingerprint"] == here.get("fingerprint"):
        return []  # the same computation, even under another name (a lambda, a copy)
    if there.get("name") != here.get("name"):
        return [f"it was trained with the loss {there.get('name')!r}, this run uses "
                f"{here.get('name')!r}"]
    if comparable:
        return [f"the loss {here.get('name')!r} was changed since (its code, constants or "
                "settings differ)"]
    return []


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


# --- the identity of a loss function -------------------------------------------------------


def _identity(fn) -> dict:
    """``{"name", "fingerprint", "python"}`` of a callable, e.g. ``{"name": "bce_loss", ...}``.

    >>> a = _identity(lambda out, batch: out.mean())
    >>> b = _identity(lambda logits, b: logits.mean())  # other names, same computation
    >>> c = _identity(lambda out, batch: out.sum())
    >>> a["name"], a["fingerprint"] == b["fingerprint"], a["fingerprint"] == c["fingerprint"]
    ('<lambda>', True, False)
    """
    text = repr(_describe(fn, {}))
    return {"name": _name(fn), "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
            "fingerprint": hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}


def _name(fn) -> str:
    """A readable name: ``bce_loss``, ``partial(balanced_bce, max_weight=5)``, ``Loss()``."""
    if isinstance(fn, functools.partial):
        args = [_short(a) for a in fn.args] + [f"{k}={_short(v)}" for k, v in fn.keywords.items()]
        return f"partial({', '.join([_name(fn.func), *args])})"
    if isinstance(fn, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return fn.__qualname__
    return f"{type(fn).__qualname__}()"


def _short(value, limit: int = 40) -> str:
    text = _name(value) if callable(value) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(obj, seen: dict, depth: int = 0):
    """What ``obj`` computes with, as nested tuples of strings (hashed by `_identity`)."""
    if isinstance(obj, (bool, int, float, complex, str, bytes, type(None))):
        return repr(obj)
    if isinstance(obj, (list, tuple, dict)) and not obj:
        return (type(obj).__name__,)
    if isinstance(obj, torch.nn.Parameter):  # trained weights change; their shape does not
        return ("parameter", str(obj.dtype), str(tuple(obj.shape)))
    if isinstance(obj, torch.nn.Module):  # e.g. a network used by the loss: its layers
        return ("module", type(obj).__qualname__, repr(obj))
    if id(obj) in seen or depth > 8:
        return ("again", type(obj).__qualname__)  # a cycle, or deep enough
    seen[id(obj)] = obj  # kept alive, so that no later object takes its id
    down = functools.partial(_describe, seen=seen, depth=depth + 1)
    if isinstance(obj, functools.partial):
        return ("partial", down(obj.func), down(obj.args), down(obj.keywords))
    if isinstance(obj, types.MethodType):
        return ("method", down(obj.__func__), down(obj.__self__))
    if isinstance(obj, types.FunctionType):
        return _describe_function(obj, down)
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, *map(down, obj))
    if isinstance(obj, Mapping):
        return ("dict", *sorted((repr(k), down(v)) for k, v in obj.items()))
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return ("array", *_array_digest(obj))
    if isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return ("named", getattr(obj, "__module__", None) or "",
                getattr(obj, "__qualname__", obj.__name__))
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - a loss object's class method
    return ("object", type(obj).__module__, type(obj).__qualname__,
            down(call) if isinstance(call, types.FunctionType) else "",
            down(getattr(obj, "__dict__", {})))


def _array_digest(array) -> tuple[str, str, str]:
    """dtype, shape and a hash of the contents of a numpy array or torch tensor."""
    dtype, shape = str(array.dtype), str(tuple(array.shape))
    if isinstance(array, torch.Tensor):  # as bytes: numpy has no bfloat16
        array = array.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
    data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return dtype, shape, hashlib.blake2b(data.data, digest_size=8).hexdigest()


def _describe_function(fn: types.FunctionType, down):
    closure = [cell.cell_contents for cell in fn.__closure__ or ()
               if not _empty_cell(cell)]
    used = {}  # the functions and numbers of its own module that it reads
    for name in sorted(_globals_read(fn.__code__)):
        value = fn.__globals__.get(name)
        if (isinstance(value, types.FunctionType) and value.__module__ == fn.__module__
                or isinstance(value, (bool, int, float, str))):
            used[name] = value
    return ("function", _code(fn.__code__, fn.__doc__), down(fn.__defaults__ or ()),
            down(fn.__kwdefaults__ or {}), down(closure), down(used))


def _empty_cell(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - reading an empty cell raises
    except ValueError:
        return True
    return False


def _code(code: types.CodeType, doc: str | None = None):
    """The compiled code without names of locals, line numbers or the docstring."""
    consts = list(code.co_consts)
    if doc is not None and consts and consts[0] == doc:
        consts[0] = None  # a new docstring is not a new loss
    consts = [_code(c) if isinstance(c, types.CodeType) else repr(c) for c in consts]
    return (code.co_code.hex(), code.co_names, code.co_argcount, code.co_kwonlyargcount,
            tuple(consts))


def _globals_read(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code)
             if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _globals_read(const)
    return names


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
               "validation": list(history.validation), "seconds": float(history.seconds),
               "config": config}
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
        ``config`` and the state dicts (see `mbl_seg.viz.plot_losses`).

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


class Pretrained(NamedTuple):
    """A shipped network ready to predict, and the note that says how it was made."""

    model: torch.nn.Module
    note: dict


def load_pretrained(name: str) -> Pretrained:
    """Build a shipped network (``mbl_seg/data/models/<name>.pt``) and load its weights.

    Parameters
    ----------
    name : str
        E.g. ``"05_affs3d_fly"`` or ``"06_mtlsd_fly"``; :func:`mbl_seg.data.list_pretrained`
        lists them.

    Returns
    -------
    Pretrained
        ``model``: a :class:`mbl_seg.models.UNet` (ACRLSD: an
        :class:`mbl_seg.autocontext.AutoContext`) in eval mode; ``note``: the
        ``.json`` beside it (command, iterations, validation scores...).

    Used in: notebooks/05_3d_unet, 06_lsds.
    """
    from .data import pretrained

    return load_network(pretrained(name))


def load_network(path: str | os.PathLike) -> Pretrained:
    """:func:`load_pretrained` for a file written by ``scripts/train_course_models.py``.

    An ACRLSD network's LSD network is the shipped one it names (and must be
    the very file it was trained on).
    """
    from .data import pretrained
    from .models import UNet

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no network file at {path}")
    info = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(info, Mapping) or "config" not in info or "model" not in info:
        raise ValueError(f"{path} holds no network settings ('config') and weights ('model'): "
                         "make shipped checkpoints with scripts/train_course_models.py")
    if "autocontext" in info["config"]:  # ACRLSD: the context net on a shipped LSD net
        from .autocontext import load_autocontext

        lsd_name = info["config"]["autocontext"]["name"]
        model = load_autocontext(path, info, pretrained(lsd_name),
                                 load_pretrained(lsd_name).model)
    else:
        model = UNet(**info["config"])
        load_checkpoint(path, model)
    note = path.with_suffix(".json")
    return Pretrained(model, json.loads(note.read_text()) if note.is_file() else {})
