"""The machine the course runs on: device, fast/full mode, and an environment report.

Every notebook starts with ``cfg = mbl_seg.env.setup()``. The *mode* decides
how much work the notebooks do:

* ``"fast"``: small inputs and few training iterations, so that every
  notebook runs in minutes on a 2-core laptop CPU (and in CI);
* ``"full"``: larger inputs and many more iterations, for a GPU.

The mode follows the device (a CUDA or MPS GPU → full, CPU → fast) unless
overridden by the ``mode=`` argument or the ``MBL_SEG_MODE`` environment
variable; the device likewise by ``device=`` or ``MBL_SEG_DEVICE``.

Two more variables exist to see how much a result depends on the run rather than
on the method ("as another machine would run it"):

* ``MBL_SEG_THREADS=N`` sets torch's CPU threads (the number of threads changes the
  order of floating-point sums, as another CPU does); ``make test THREADS=1`` runs
  the whole suite so;
* ``MBL_SEG_SEED=N`` becomes ``cfg.seed``, the seed of every network a notebook
  initialises and trains (default 0).

Used in: notebooks/00_setup_and_data and every later notebook.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = ["Setup", "select_device", "select_mode", "select_threads", "select_seed", "use_amp",
           "setup", "report", "checkpoint_dir"]

MODES = ("fast", "full")


class Setup(NamedTuple):
    """What a notebook runs with: ``device`` (torch name), ``mode``, ``amp`` (mixed precision)
    and ``seed`` (of the networks it trains)."""

    device: str
    mode: str
    amp: bool
    seed: int = 0

    @property
    def fast(self) -> bool:
        """True in fast mode."""
        return self.mode == "fast"

    def pick(self, fast, full):
        """``fast`` in fast mode, ``full`` in full mode: ``cfg.pick(200, 5000)``."""
        return fast if self.fast else full

    def checkpoint(self, name: str, suffix: str = ".pt") -> Path:
        """Where a notebook keeps what it trains: ``checkpoints/<name>_<mode><suffix>``.

        The folder is ``checkpoints/`` next to the notebook, or ``$MBL_SEG_CHECKPOINTS``
        (a shared folder on a JupyterHub; the test suite gives each notebook an empty one,
        as on a fresh clone). Fast and full mode keep separate files, and so does a run
        with another seed (``_seed<n>`` before the suffix).

        >>> Setup("cpu", "fast", False).checkpoint("02_unet2d").name
        '02_unet2d_fast.pt'
        >>> Setup("cpu", "fast", False, seed=2).checkpoint("02_unet2d").name
        '02_unet2d_fast_seed2.pt'
        """
        if not isinstance(name, str):
            raise TypeError(f"a checkpoint name is a str like '02_unet2d', got {type(name).__name__}")
        if not name or "/" in name or "\\" in name:
            raise ValueError(f"a checkpoint name is a plain file name like '02_unet2d', "
                             f"got {name!r}")
        if not isinstance(suffix, str) or (suffix and not suffix.startswith(".")):
            raise ValueError(f"suffix must start with '.', like '.pt' or '.zarr', got {suffix!r}")
        seeded = f"_seed{self.seed}" if self.seed else ""
        return checkpoint_dir() / f"{name}_{self.mode}{seeded}{suffix}"


def checkpoint_dir() -> Path:
    """The folder notebooks keep their checkpoints in: ``$MBL_SEG_CHECKPOINTS`` or ``checkpoints``."""
    return Path(os.environ.get("MBL_SEG_CHECKPOINTS") or "checkpoints")


def use_amp(amp: bool | None, device: str) -> bool:
    """Whether to use mixed precision: by default on CUDA only; ``amp=True`` needs CUDA.

    >>> use_amp(None, "cuda:1"), use_amp(None, "cpu"), use_amp(False, "cuda")
    (True, False, False)
    """
    on_cuda = str(device).split(":")[0] == "cuda"
    if amp is None:
        return on_cuda
    if amp and not on_cuda:
        raise ValueError(f"amp=True (mixed precision) needs a CUDA device, got {device!r}")
    return bool(amp)


def select_device(device: str | None = None) -> str:
    """The torch device to use: ``device``, else ``$MBL_SEG_DEVICE``, else cuda > mps > cpu."""
    import torch

    choice = device or os.environ.get("MBL_SEG_DEVICE") or None
    if choice is not None:
        kind = str(choice).split(":")[0]
        if kind not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device must be 'cpu', 'cuda[:n]' or 'mps', got {choice!r}")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} asked for, but torch sees no CUDA GPU")
        if kind == "mps" and not _mps_available():
            raise ValueError("device 'mps' asked for, but torch sees no Apple GPU")
        return str(choice)
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def select_mode(mode: str | None = None, *, device: str | None = None) -> str:
    """``"fast"`` or ``"full"``: ``mode``, else ``$MBL_SEG_MODE``, else full on a GPU."""
    choice = mode or os.environ.get("MBL_SEG_MODE") or None
    if choice is not None:
        if choice not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {choice!r}")
        return choice
    device = device or select_device()
    return "fast" if device == "cpu" else "full"


def _whole_number(value, name: str, *, minimum: int) -> int:
    text = str(value).strip()
    if not text.lstrip("-").isdigit() or int(text) < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(text)


def select_threads(threads: int | None = None) -> int | None:
    """torch's CPU threads to use: ``threads``, else ``$MBL_SEG_THREADS``, else None (torch's own).

    >>> select_threads(1)
    1
    """
    choice = threads if threads is not None else (os.environ.get("MBL_SEG_THREADS") or None)
    return None if choice is None else _whole_number(choice, "MBL_SEG_THREADS (torch threads)",
                                                     minimum=1)


def select_seed(seed: int | None = None) -> int:
    """The seed of the networks a notebook trains: ``seed``, else ``$MBL_SEG_SEED``, else 0.

    >>> select_seed(3)
    3
    """
    choice = seed if seed is not None else (os.environ.get("MBL_SEG_SEED") or None)
    return 0 if choice is None else _whole_number(choice, "MBL_SEG_SEED", minimum=0)


def setup(mode: str | None = None, device: str | None = None, *, seed: int | None = None,
          threads: int | None = None, verbose: bool = True) -> Setup:
    """Choose device and mode for a notebook and say what was chosen.

    Parameters
    ----------
    mode : {"fast", "full"}, optional
        Overrides the automatic choice (and ``$MBL_SEG_MODE``).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``; overrides ``$MBL_SEG_DEVICE``.
    seed : int, optional
        The seed of the networks the notebook trains (``cfg.seed``); overrides
        ``$MBL_SEG_SEED``; default 0.
    threads : int, optional
        torch's CPU threads, set for this process; overrides ``$MBL_SEG_THREADS``;
        default: torch's choice (one per core).
    verbose : bool
        Print one line with the choice.

    Examples
    --------
    >>> setup(mode="fast", device="cpu", seed=0, verbose=False)
    Setup(device='cpu', mode='fast', amp=False, seed=0)
    """
    import torch

    dev = select_device(device)
    chosen = select_mode(mode, device=dev)
    cfg = Setup(device=dev, mode=chosen, amp=dev.startswith("cuda"), seed=select_seed(seed))
    count = select_threads(threads)
    if count is not None:
        torch.set_num_threads(count)
    if verbose:
        why = "set by you" if (mode or os.environ.get("MBL_SEG_MODE")) else "chosen from the device"
        extra = "" if cfg.seed == 0 else f" | seed: {cfg.seed}"
        if count is not None or dev == "cpu":
            extra += f" | torch threads: {torch.get_num_threads()}"
        print(f"device: {dev} | mode: {chosen} ({why}) | mixed precision: {cfg.amp}{extra}")
    return cfg


def report() -> dict[str, str]:
    """Versions, device, memory and mode, as an ordered dict of strings (for ``mbl-seg check``)."""
    import numpy
    import scipy
    import skimage
    import torch
    import zarr

    from . import __version__

    info = {
        "mbl_seg": __version__,
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
        "zarr": zarr.__version__,
        "torch": torch.__version__,
        "cpu cores": str(os.cpu_count()),
        "memory": _memory(),
    }
    device = select_device()
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    info["device"] = device
    info["mode"] = select_mode(device=device)
    return info


def _memory() -> str:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return f"{pages / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        return "unknown"


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
