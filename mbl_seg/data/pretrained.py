"""Checkpoints shipped with the course: networks trained longer than a laptop can.

They live in the package, ``mbl_seg/data/models/`` (package data, so an installed wheel
has them too), each ``<name>.pt`` (weights and the network's settings) with
``<name>.json`` beside it saying how it was made: the command, iterations, device, time
and validation scores. ``scripts/train_course_models.py`` makes them. Nothing is
downloaded.

Used in: notebooks/05_3d_unet, 06_lsds.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MODELS_DIR", "pretrained", "list_pretrained"]

MODELS_DIR = Path(__file__).resolve().parent / "models"


def list_pretrained() -> list[str]:
    """The names of the shipped checkpoints, e.g. ``["05_affs3d_fly"]``."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.pt"))


def pretrained(name: str) -> Path:
    """The path of a shipped checkpoint, for :func:`mbl_seg.train.load_checkpoint`.

    >>> pretrained("no such net")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no shipped checkpoint 'no such net' in ...models (there are: ...
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str like '05_affs3d_fly', got {type(name).__name__}")
    path = MODELS_DIR / f"{name}.pt"
    if not path.is_file():
        there = ", ".join(list_pretrained()) or "none"
        raise FileNotFoundError(
            f"no shipped checkpoint {name!r} in {MODELS_DIR} (there are: {there}); "
            "make it with `python scripts/train_course_models.py`")
    return path
