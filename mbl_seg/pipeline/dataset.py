"""Batches of a :class:`~mbl_seg.pipeline.Pipeline` made ahead by DataLoader worker processes.

The network should never wait for data: torch's ``DataLoader`` runs the
pipeline in ``num_workers`` processes, each keeping ``prefetch_factor``
batches ready, and (for a GPU) copies them into pinned memory. Batch ``i``
holds samples ``i * b .. i * b + b - 1``, each drawn from ``(seed, sample
index)`` only, so the batches are the same with 0, 2 or 8 workers, and a
training run resumed at batch ``i`` sees exactly the batches it would have
seen. Every sample reports how long each stage took (``stage_ms``), so a slow
stage shows (:class:`~mbl_seg.pipeline.StageTimes`).

This module imports torch; ``mbl_seg.pipeline`` loads it only when one of its
names is used.

Used in: notebooks/05_3d_unet.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._validate import as_number
from .profile import STAGES, StageTimes
from .samples import Pipeline

__all__ = ["PipelineDataset", "collate", "pack", "unpack", "make_loader", "BatchSource"]


class PipelineDataset(Dataset):
    """Sample ``i`` of ``pipeline`` with ``seed``: a dict of numpy arrays, plus ``stage_ms``.

    ``stage_ms`` holds the milliseconds of each stage of :data:`STAGES`.
    """

    def __init__(self, pipeline: Pipeline, *, seed: int = 0):
        if not isinstance(pipeline, Pipeline):
            raise TypeError(f"pipeline must be a mbl_seg.pipeline.Pipeline, "
                            f"got {type(pipeline).__name__}")
        self.pipeline = pipeline
        self.seed = as_number(seed, "seed", integer=True, nonnegative=True)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        times = np.zeros(len(STAGES))
        sample = self.pipeline.sample(index, seed=self.seed, times=times)
        sample["stage_ms"] = times
        return sample


def collate(samples: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack samples into a batch of tensors ``(b, c, z, y, x)``.

    Floats become float32, integers (labels) int64 (torch supports few
    operations on uint64), booleans stay boolean; ``stage_ms`` stays float64.
    """
    return {key: torch.from_numpy(_stacked(samples, key)) for key in samples[0]}


def pack(samples: list[dict[str, np.ndarray]]) -> tuple[dict, dict[str, str]]:
    """:func:`collate` for the trip from a worker: ``(tensors, dtypes)``, undone by `unpack`.

    Tensors travel from the workers through shared memory, which is slow to
    fill (page by page): 0/1 float maps (affinities, masks) travel as uint8
    and labels as int32 when their ids fit, a third of the bytes of a batch
    of affinities. Exact: `unpack` gives what `collate` would have.
    """
    tensors, dtypes = {}, {}
    for key in samples[0]:
        array = _stacked(samples, key)
        dtypes[key] = str(torch.from_numpy(array[:0]).dtype).removeprefix("torch.")
        tensors[key] = torch.from_numpy(_smaller(array))
    return tensors, dtypes


def unpack(packed: tuple[dict[str, torch.Tensor], dict[str, str]]) -> dict[str, torch.Tensor]:
    """A batch made by :func:`pack` with the dtypes of :func:`collate` again."""
    tensors, dtypes = packed
    # numpy converts on this thread; torch would start threads that compete with the workers
    return {key: torch.from_numpy(t.numpy().astype(dtypes[key], copy=False))
            for key, t in tensors.items()}


def _stacked(samples: list[dict], key: str) -> np.ndarray:
    array = np.stack([sample[key] for sample in samples])
    if np.issubdtype(array.dtype, np.floating) and key != "stage_ms":
        return array.astype(np.float32, copy=False)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False)
    return array


def _smaller(array: np.ndarray) -> np.ndarray:
    """``array`` in a smaller dtype that holds its values exactly, if there is one."""
    if array.dtype == np.float32 and array.size and 0 <= array.min() and array.max() <= 255:
        small = array.astype(np.uint8)
        return small if np.array_equal(small, array) else array
    if array.dtype == np.int64 and array.size and 0 <= array.min() and array.max() < 2**31:
        return array.astype(np.int32)
    return array


def make_loader(pipeline: Pipeline, *, seed: int = 0, batch_size: int = 1, start: int = 0,
                stop: int | None = None, num_workers: int = 2, prefetch_factor: int = 2,
                persistent_workers: bool = False, pin_memory: bool | None = None,
                collate_fn: Callable = collate) -> DataLoader:
    """A DataLoader of batches ``start .. stop - 1`` of ``pipeline``, made in worker processes.

    Parameters
    ----------
    pipeline : Pipeline
    seed : int
        Batch ``i`` depends on ``(seed, i)`` (and ``batch_size``) only.
    batch_size : int
        Samples per batch.
    start, stop : int
        The first batch and the one after the last; ``stop=None``: no end.
    num_workers : int
        Worker processes (0: the batches are made in this process).
    prefetch_factor : int
        Batches each worker keeps ready.
    persistent_workers : bool
        Keep the workers between passes over the loader (start-up costs seconds).
    pin_memory : bool, optional
        Page-locked batches, copied to a GPU while it computes; default: when
        CUDA is available.
    collate_fn : callable
        Makes a batch of samples in the worker: :func:`collate` (default), or
        :func:`pack` for fewer bytes (then :func:`unpack` each batch).

    Returns
    -------
    torch.utils.data.DataLoader
        Batches as dicts of tensors, see :func:`collate`; ``stage_ms`` (b, stages).

    Examples
    --------
    >>> from mbl_seg.pipeline import Pipeline, Source
    >>> labels = np.ones((8, 32, 32), np.uint64)
    >>> pipe = Pipeline(Source(labels.astype(np.uint8), labels, voxel_size=8),
    ...                 patch_shape=(4, 8, 8))
    >>> loader = make_loader(pipe, batch_size=2, stop=3, num_workers=0)
    >>> [tuple(batch["affs"].shape) for batch in loader]
    [(2, 3, 4, 8, 8), (2, 3, 4, 8, 8), (2, 3, 4, 8, 8)]
    """
    batch_size = as_number(batch_size, "batch_size", integer=True, positive=True)
    start = as_number(start, "start", integer=True, nonnegative=True)
    workers = as_number(num_workers, "num_workers", integer=True, nonnegative=True)
    prefetch = as_number(prefetch_factor, "prefetch_factor", integer=True, positive=True)
    if stop is None:
        samples = itertools.count(start * batch_size)
    else:
        stop = as_number(stop, "stop", integer=True, nonnegative=True)
        samples = range(start * batch_size, max(start, stop) * batch_size)
    pin = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
    return DataLoader(PipelineDataset(pipeline, seed=seed), batch_size=batch_size,
                      sampler=samples, collate_fn=collate_fn, num_workers=workers,
                      prefetch_factor=prefetch if workers else None,
                      persistent_workers=bool(persistent_workers) and workers > 0,
                      pin_memory=pin, worker_init_fn=_init_worker if workers else None,
                      generator=torch.Generator().manual_seed(int(seed)))


class BatchSource:
    """Batches of a pipeline for :func:`mbl_seg.train.train`, made by DataLoader workers.

    ``train(model, BatchSource(pipeline, batch_size=2), loss_fn, ...)`` asks for
    ``batches(seed, start, stop)``: batch ``i`` comes from ``(seed, i)`` only,
    so a resumed run is exact. ``config`` tells a checkpoint which data,
    patch shape, batch size, augmentations and targets made the batches.
    ``profile`` holds the stage times of the batches made by the last call.

    Examples
    --------
    >>> from mbl_seg.pipeline import Pipeline, Source
    >>> labels = np.ones((8, 32, 32), np.uint64)
    >>> pipe = Pipeline(Source(labels.astype(np.uint8), labels, voxel_size=8),
    ...                 patch_shape=(4, 8, 8))
    >>> source = BatchSource(pipe, batch_size=2, num_workers=0)
    >>> [tuple(b["raw"].shape) for b in source.batches(0, 3, 5)]
    [(2, 1, 4, 8, 8), (2, 1, 4, 8, 8)]
    """

    def __init__(self, pipeline: Pipeline, *, batch_size: int = 1, num_workers: int = 2,
                 prefetch_factor: int = 2, pin_memory: bool | None = None):
        PipelineDataset(pipeline)  # checks it is a Pipeline
        self.pipeline = pipeline
        self.batch_size = as_number(batch_size, "batch_size", integer=True, positive=True)
        self.options = {"num_workers": num_workers, "prefetch_factor": prefetch_factor,
                        "pin_memory": pin_memory}
        make_loader(pipeline, batch_size=self.batch_size, stop=0, **self.options)  # checks
        self.profile = StageTimes()

    def __repr__(self) -> str:
        return f"BatchSource({self.pipeline!r}, batch_size={self.batch_size})"

    @property
    def config(self) -> dict:
        """The pipeline's config and the batch size (what `train`'s checkpoint compares)."""
        return {**self.pipeline.config, "batch_size": self.batch_size}

    def batches(self, seed: int, start: int, stop: int) -> Iterator[dict[str, torch.Tensor]]:
        """Batches ``start .. stop - 1`` of ``seed``, as dicts of tensors (no ``stage_ms``).

        The workers start now, on the calling thread (a worker forked while
        another thread holds one of torch's locks would wait for it forever).
        They send the batches packed (see :func:`pack`); the iterator unpacks
        them (on `train`'s batch thread) and pins them for a GPU.
        """
        self.profile = StageTimes()
        options = {**self.options, "pin_memory": False}  # unpacking makes new tensors
        pin = self.options["pin_memory"]
        pin = torch.cuda.is_available() if pin is None else bool(pin)
        loader = make_loader(self.pipeline, seed=seed, batch_size=self.batch_size,
                             start=start, stop=stop, collate_fn=pack, **options)
        return self._unpacked(iter(loader), pin)

    def _unpacked(self, packed_batches, pin: bool) -> Iterator[dict[str, torch.Tensor]]:
        for packed in packed_batches:
            batch = unpack(packed)
            self.profile.add(batch.pop("stage_ms").numpy())
            yield {key: t.pin_memory() for key, t in batch.items()} if pin else batch


def _init_worker(worker_id: int) -> None:
    """Seed the global generators a third-party library might use, from the loader's seed.

    The pipeline itself never uses them (every sample has its own generator);
    this keeps anything else in the workers reproducible too.
    """
    seed = torch.initial_seed() % 2**32  # set by the DataLoader from its generator
    np.random.seed(seed)
    random.seed(seed)
