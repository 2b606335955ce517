"""Feeding the training loop: batches ``start .. stop - 1`` of a run as CPU tensors, made ahead.

A run's batches come from either

* a function ``make_batch(rng)``: batch ``i`` is
  ``make_batch(np.random.default_rng([seed, i]))``, or
* a batch source, an object with ``batches(seed, start, stop)`` giving batches
  ``start .. stop - 1`` in order, batch ``i`` made from ``(seed, i)`` only
  (e.g. :class:`mbl_seg.pipeline.BatchSource`, whose DataLoader workers make
  them in other processes).

Either way batch ``i`` does not depend on where the run started, so a resumed
run is exact. A background thread takes the batches ahead while the network
trains; the batches, and their order, are the same without it.

Used by :func:`mbl_seg.train.train`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator, Mapping

import numpy as np
import torch

_STOP_WAIT_S = 5.0  # how long a stopping run waits for the batch thread to finish a batch


def _is_source(batches) -> bool:
    """Whether ``batches`` is a batch source (has ``batches(seed, start, stop)``)."""
    return callable(getattr(batches, "batches", None))


def _batch_stream(make_batch, seed: int, start: int, stop: int) -> Iterator:
    """The raw batches ``start .. stop - 1`` of a run, in order (see the module docstring).

    A batch source is asked now, on the calling thread: its worker processes
    start here, not on the batch thread (a process forked while the training
    thread holds one of torch's locks would wait for it forever).
    """
    if _is_source(make_batch):
        return iter(make_batch.batches(seed, start, stop))
    return (make_batch(np.random.default_rng([seed, index])) for index in range(start, stop))


def _close(stream) -> None:
    """Stop a stream of batches (a generator, or a batch source's iterator) if it can be."""
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def _host_batch(make_batch, rng: np.random.Generator, input_key: str, pin: bool) -> dict:
    """Call ``make_batch`` and turn its arrays into CPU tensors (pinned for a GPU)."""
    return _host_tensors(make_batch(rng), input_key, pin)


def _host_tensors(arrays, input_key: str, pin: bool) -> dict[str, torch.Tensor]:
    """A batch's arrays (numpy or tensors) as CPU tensors of fixed dtypes, pinned if asked."""
    if not isinstance(arrays, Mapping):
        raise TypeError("make_batch must return a dict of arrays, e.g. {'raw': ..., 'target': "
                        f"...}}, got {type(arrays).__name__}")
    if input_key not in arrays:
        raise ValueError(f"make_batch returned no {input_key!r} entry (the network input), only "
                         f"{sorted(map(str, arrays))}; pass input_key= to feed another one")
    tensors = {key: _tensor(key, value) for key, value in arrays.items()}
    if pin:  # page-locked memory: the copy to the GPU runs while the CPU goes on
        tensors = {key: t.pin_memory() if t.device.type == "cpu" and not t.is_pinned() else t
                   for key, t in tensors.items()}
    return tensors


def _tensor(key, value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if not isinstance(value, np.ndarray) or not (
            np.issubdtype(value.dtype, np.number) or value.dtype == bool):
        raise TypeError(f"make_batch's {key!r} must be a numeric numpy array, got "
                        f"{type(value).__name__} {getattr(value, 'dtype', '')}".rstrip())
    if np.issubdtype(value.dtype, np.floating):
        value = value.astype(np.float32, copy=False)
    elif np.issubdtype(value.dtype, np.integer):
        value = value.astype(np.int64, copy=False)  # torch supports few ops on uint64 labels
    return torch.from_numpy(np.ascontiguousarray(value))


class _Batches:
    """Batches ``start .. stop - 1`` of a run as CPU tensors, made ahead on a background thread.

    ``make_batch`` is a function of a generator or a batch source (see the
    module docstring). One thread takes the batches in order, so a run gives
    the same result with and without it. At most ``ahead`` finished batches
    wait in a queue (0: no thread, each batch is made when asked for). An error
    in making a batch is raised by `next` when that batch is asked for, as it
    would have been without the thread. Leaving the ``with`` block stops the
    thread (and a batch source's workers). ``waited``: seconds `next` spent
    waiting (or making batches itself).
    """

    def __init__(self, make_batch, *, seed: int, start: int, stop: int, input_key: str,
                 ahead: int, pin: bool):
        self._stream = _batch_stream(make_batch, seed, start, stop)
        self._convert = lambda arrays: _host_tensors(arrays, input_key, pin)
        self._next, self.waited = start, 0.0
        self._queue = queue.Queue(maxsize=max(ahead, 1))
        self._stop = threading.Event()
        self._thread = None
        if ahead > 0:
            self._thread = threading.Thread(target=self._produce, args=(start, stop),
                                            name="mbl_seg-batches", daemon=True)

    def __enter__(self) -> _Batches:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # the thread ends after the batch it is making, if any
        if self._thread is not None:
            self._thread.join(timeout=_STOP_WAIT_S)
        else:
            _close(self._stream)  # a batch source's workers stop here

    def next(self) -> dict[str, torch.Tensor]:
        started = time.perf_counter()
        try:
            if self._thread is None:
                return self._convert(self._take_next(self._next))
            made, item = self._take()
            if not made:
                raise item  # the error made with the batch, with its message and traceback
            return item
        finally:
            self._next += 1
            self.waited += time.perf_counter() - started

    def _take_next(self, index: int):
        try:
            return next(self._stream)
        except StopIteration:
            raise RuntimeError(f"the batch source ended before batch {index}") from None

    def _produce(self, start: int, stop: int) -> None:
        try:
            for index in range(start, stop):
                if self._stop.is_set():
                    return
                try:
                    item = (True, self._convert(self._take_next(index)))
                except BaseException as err:  # noqa: BLE001 - handed to the training thread
                    if hasattr(err, "add_note"):  # Python >= 3.11
                        err.add_note(f"(raised while making batch {index} on train's batch "
                                     "thread; prefetch=0 makes batches on the training thread)")
                    item = (False, err)
                if not self._put(item) or not item[0]:
                    return
        finally:
            _close(self._stream)  # on this thread: a generator is closed where it runs

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=0.05)
                return True
        return False

    def _take(self):
        while True:
            with contextlib.suppress(queue.Empty):
                return self._queue.get(timeout=0.05)
            if not self._thread.is_alive() and self._queue.empty():
                raise RuntimeError(f"train's batch thread stopped before batch {self._next}")
