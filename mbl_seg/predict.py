"""Run a trained network over whole images or volumes, in one pass or block by block.

The input is padded by mirroring so that every output voxel sees the same
context as in training (valid nets) and the padded size fits the net; the
output is cropped back to the input's spatial shape. ``predict`` does it in one
pass (numpy in, numpy out); ``predict_blocks`` scans a volume too large for one
pass block by block (``scan_blocks`` is its arithmetic), reading from numpy or
zarr and writing to numpy or zarr, with the same result.

Used in: notebooks/02_deep_boundaries, 03_affinities, 04_malis, 05_3d_unet, 08_scaling_up.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ._validate import as_number, as_offset, as_voxel_size
from .env import select_device, use_amp
from .pipeline import normalize

__all__ = ["Block", "block_predictor", "predict", "predict_blocks", "scan_blocks"]

# output voxels per block when none is given: (z, y, x), rounded to the net's pooling step
_DEFAULT_BLOCK = (32, 128, 128)


class Block(NamedTuple):
    """One block of a scan: where to read the input and where to write the output.

    ``read`` slices the volume padded by the context (``context // 2`` before,
    the rest after); ``write`` slices the output, which has the volume's shape.
    """

    read: tuple[slice, ...]
    write: tuple[slice, ...]


def _sizes(values, name: str, ndim: int | None = None, *, positive: bool = True
           ) -> tuple[int, ...]:
    """One int per axis (a single int stands for every axis when ``ndim`` is known)."""
    if ndim is not None and (isinstance(values, (int, np.integer)) or np.ndim(values) == 0):
        values = (values,) * ndim
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of ints (z, y, x), got {values!r}")
    sizes = tuple(as_number(v, name, integer=True, positive=positive, nonnegative=not positive)
                  for v in values)
    if ndim is not None and len(sizes) != ndim:
        raise ValueError(f"{name} must have one entry per axis ({ndim}), got {values!r}")
    return sizes


def scan_blocks(volume_shape: Sequence[int], output_block: int | Sequence[int],
                context: int | Sequence[int]) -> list[Block]:
    """Cut a volume into output blocks and say which input each one needs.

    Output blocks of ``output_block`` voxels tile the volume from its first
    voxel on; at the far border the last block along an axis is *cropped* to
    what is left of the volume, so the blocks cover every voxel exactly once.
    A block whose output is ``write`` needs ``context`` more input voxels per
    axis, centred on it: with the volume padded by ``context // 2`` voxels
    before and ``context - context // 2`` after (e.g. by mirroring), that is
    ``padded[read]``, where ``read`` starts where ``write`` starts (the padding
    moved everything by ``context // 2``) and is ``context`` longer.

    Parameters
    ----------
    volume_shape : sequence of int
        Spatial shape of the volume, (z, y, x) or (y, x).
    output_block : int or sequence of int
        Output voxels per block and axis (an int for every axis).
    context : int or sequence of int
        Input voxels a block needs beyond its output, per axis
        (:attr:`mbl_seg.models.UNet.context` for a valid net).

    Returns
    -------
    list of Block
        ``(read, write)`` tuples of slices, one slice per axis, blocks in C
        order (the last axis fastest). ``write`` slices the volume (and the
        output, which has its shape); ``read`` slices the padded volume of
        shape ``volume_shape + context`` and always lies inside it.

    Examples
    --------
    >>> for read, write in scan_blocks((10,), (4,), (2,)):
    ...     print(read[0], write[0])
    slice(0, 6, None) slice(0, 4, None)
    slice(4, 10, None) slice(4, 8, None)
    slice(8, 12, None) slice(8, 10, None)

    Used in: notebooks/05_3d_unet, notebooks/08_scaling_up
    """
    shape = _sizes(volume_shape, "volume_shape")
    block = _sizes(output_block, "output_block", len(shape))
    context = _sizes(context, "context", len(shape), positive=False)
    blocks = []
    for start in itertools.product(*(range(0, s, b) for s, b in zip(shape, block))):
        write = tuple(slice(a, min(a + b, s)) for a, b, s in zip(start, block, shape))
        read = tuple(slice(w.start, w.stop + c) for w, c in zip(write, context))
        blocks.append(Block(read, write))
    return blocks


# --- one pass ----------------------------------------------------------------------------------


def _padding(model, spatial: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per-axis (before, after) padding of one image so that it fits the net."""
    valid = getattr(model, "padding", "same") == "valid"
    context = tuple(model.context) if valid else (0,) * len(spatial)
    wanted = tuple(s + c for s, c in zip(spatial, context))
    if hasattr(model, "valid_input_shape"):
        shape = tuple(model.valid_input_shape(near=wanted, round="up"))
    else:
        shape = wanted
    before = [c // 2 if valid else (n - s) // 2 for c, n, s in zip(context, shape, spatial)]
    return [(b, n - s - b) for b, n, s in zip(before, shape, spatial)]


def _pad_mode(pads, spatial) -> str:
    """numpy's "reflect" (edge not repeated) where it can, else "symmetric" (tiny images)."""
    return "reflect" if all(max(p) < s for p, s in zip(pads, spatial)) else "symmetric"


def _crop(output: torch.Tensor, pads, spatial, valid: bool) -> torch.Tensor:
    if valid:  # output voxel j sits at padded input j + context // 2, i.e. at input j
        return output[(..., *(slice(0, s) for s in spatial))]
    return output[(..., *(slice(b, b + s) for (b, _), s in zip(pads, spatial)))]


@contextlib.contextmanager
def _running(model, device: str, amp: bool):
    """``model`` on ``device`` in eval mode, without gradients, under autocast if ``amp``."""
    was_training = model.training
    model.to(device).eval()
    kind = torch.device(device).type  # "cuda:1" -> "cuda"
    autocast = (torch.autocast(device_type=kind, dtype=torch.float16) if amp
                else contextlib.nullcontext())
    try:
        with torch.no_grad(), autocast:
            yield
    finally:
        model.train(was_training)


def predict(model: torch.nn.Module, raw: np.ndarray, *, sections: bool = False,
            activation: Callable[[torch.Tensor], torch.Tensor] | None = torch.sigmoid,
            device: str | None = None, batch_size: int = 4, amp: bool | None = None,
            ) -> np.ndarray:
    """Predict ``model`` on a whole image, volume or stack of sections.

    Parameters
    ----------
    model : torch.nn.Module
        A network taking (b, c, *spatial); a :class:`mbl_seg.models.UNet`
        tells its padding and valid shapes, other modules are run as they are.
    raw : (Y, X), (Z, Y, X) ndarray, or (C, ...) with ``C = in_channels``
        uint8 EM (normalised to [0, 1] here) or float input already in [0, 1]
        (see :func:`mbl_seg.pipeline.normalize`: nan, empty arrays and floats
        far outside [0, 1] are refused).
    sections : bool, optional
        Treat a (Z, Y, X) array as a stack of independent 2D sections (for a
        2D net); else a 2D net needs (Y, X) and a 3D net (Z, Y, X).
    activation : callable or None, optional
        Applied to the network output (default sigmoid: logits → probabilities).
    device : str, optional
        "cuda", "mps" or "cpu"; default: the best available.
    batch_size : int, optional
        Sections per forward pass, at least 1.
    amp : bool, optional
        Mixed precision (default: on CUDA only).

    Returns
    -------
    (C_out, *spatial) ndarray of float32
        For sections: (C_out, Z, Y, X).
    """
    batch_size = as_number(batch_size, "batch_size", integer=True, positive=True)
    raw = normalize(np.asarray(raw))
    dims = getattr(model, "dims", None) or (2 if sections else raw.ndim)
    in_channels = getattr(model, "in_channels", 1)
    spatial_ndim = dims + (1 if sections else 0)
    if raw.ndim == spatial_ndim:
        raw = raw[None]
    if raw.ndim != spatial_ndim + 1 or raw.shape[0] != in_channels:
        raise ValueError(
            f"raw must be {'(z, y, x) sections' if sections else f'{dims}D'} with optional "
            f"{in_channels} channel(s) first for this {dims}D net, got shape {raw.shape}")
    images = np.moveaxis(raw, 1, 0) if sections else raw[None]  # (n, c, *spatial)
    device = select_device(device)
    amp = use_amp(amp, device)
    pads = _padding(model, images.shape[2:])
    valid = getattr(model, "padding", "same") == "valid"
    padded = np.pad(images, [(0, 0), (0, 0), *pads], mode=_pad_mode(pads, images.shape[2:]))
    outputs = []
    with _running(model, device, amp):
        for start in range(0, len(padded), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(padded[start:start + batch_size]))
            y = model(x.to(device)).float()
            y = activation(y) if activation is not None else y
            outputs.append(_crop(y, pads, images.shape[2:], valid).cpu().numpy())
    out = np.concatenate(outputs).astype(np.float32)
    return np.moveaxis(out, 0, 1) if sections else out[0]


# --- block by block ----------------------------------------------------------------------------


class _Scan(NamedTuple):
    """How ``predict_blocks`` reads: ``predict``'s padded volume, windows of one shape."""

    pads: list[tuple[int, int]]  # predict's padding of the volume
    mode: str  # its mirror mode
    padded: tuple[int, ...]  # the padded volume's shape
    window: tuple[int, ...]  # input shape of every pass
    lead: tuple[int, ...]  # input voxels read before a block's first output voxel
    origin: tuple[int, ...]  # volume index of the first output voxel of a window at 0


def _plan(model, spatial: tuple[int, ...], block: tuple[int, ...]) -> _Scan:
    """The windows of ``predict_blocks`` (see there for why they give ``predict``'s result)."""
    pads = _padding(model, spatial)
    padded = tuple(s + sum(p) for s, p in zip(spatial, pads))
    step = _step(model, len(spatial))
    if getattr(model, "padding", "same") == "valid":
        lead, origin = (0,) * len(spatial), (0,) * len(spatial)
        want = tuple(b + c for b, c in zip(block, model.context))
    else:  # margins as far as any output looks, on the pooling grid of the whole pass
        context = getattr(model, "context", None)
        if context is None:
            raise TypeError("predict_blocks needs to know how far a model looks: a UNet, or a "
                            "module with a context attribute (and padding='valid' if it is)")
        # convolutions look context / 2 each way, pooled voxels up to step - 1 farther
        reach = tuple(-(-c // 2) + st - 1 for c, st in zip(context, step))
        lead = tuple(b + st * max(0, math.ceil((r - b) / st))
                     for (b, _), st, r in zip(pads, step, reach))
        origin = tuple(-b for b, _ in pads)
        want = tuple(b + 2 * m for b, m in zip(block, lead))
    if hasattr(model, "valid_input_shape"):
        want = tuple(model.valid_input_shape(near=want, round="up"))
    window = tuple(min(w, n) for w, n in zip(want, padded))  # the padded volume fits the net
    return _Scan(pads, _pad_mode(pads, spatial), padded, window, lead, origin)


def _window_start(write: tuple[slice, ...], scan: _Scan) -> tuple[int, ...]:
    """Where the window for the output block ``write`` starts, inside the padded volume."""
    return tuple(min(max(w.start - o - m, 0), n - k) for w, o, m, n, k
                 in zip(write, scan.origin, scan.lead, scan.padded, scan.window))


def _step(model, ndim: int) -> tuple[int, ...]:
    """The pooling step of valid input shapes (1 for a model without pooling arithmetic)."""
    if hasattr(model, "valid_input_shapes"):
        return tuple(model.valid_input_shapes().step)
    return (1,) * ndim


def _block_shape(model, block_shape, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Output voxels per block: given or default, a multiple of the step, at most the volume."""
    step = _step(model, len(spatial))
    if block_shape is None:  # as many blocks as the default size needs, of equal size
        target = _DEFAULT_BLOCK[-len(spatial):] if len(spatial) <= 3 else (128,) * len(spatial)
        count = [-(-s // t) for s, t in zip(spatial, target)]
        return tuple(-(-s // (n * st)) * st for s, n, st in zip(spatial, count, step))
    block = _sizes(block_shape, "block_shape", len(spatial))
    if any(b % st for b, st in zip(block, step)):
        fixed = tuple(max(st, round(b / st) * st) for b, st in zip(block, step))
        raise ValueError(
            f"block_shape {block} does not fit this net: it must be a positive multiple of "
            f"its pooling step {step} per axis (so that blocks pool like the whole "
            f"volume), e.g. {fixed}")
    return tuple(min(b, -(-s // st) * st) for b, s, st in zip(block, spatial, step))


def _mirror(index: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Indices into an axis of ``size`` for positions outside it, as ``np.pad(mode=...)``."""
    if mode == "reflect" and size > 1:  # ... 2 1 | 0 1 2 ... n-1 | n-2 ...
        period = 2 * size - 2
        index = np.mod(index, period)
        return np.where(index < size, index, period - index)
    index = np.mod(index, 2 * size)  # symmetric: ... 1 0 | 0 1 ... n-1 | n-1 ...
    return np.where(index < size, index, 2 * size - 1 - index)


def _read_window(raw, start: tuple[int, ...], scan: _Scan, channels: bool) -> np.ndarray:
    """The window at ``start`` of the padded volume, read from ``raw`` (only what it needs)."""
    spatial = raw.shape[1:] if channels else raw.shape
    index = [_mirror(np.arange(a - b, a - b + w), s, scan.mode)
             for a, w, (b, _), s in zip(start, scan.window, scan.pads, spatial)]
    low = [int(i.min()) for i in index]
    region = (slice(None),) * channels + tuple(slice(lo, int(i.max()) + 1)
                                               for lo, i in zip(low, index))
    data = np.asarray(raw[region])
    if all(np.array_equal(i, np.arange(lo, lo + len(i))) for i, lo in zip(index, low)):
        return data  # inside the volume: no mirroring needed
    return data[(..., *np.ix_(*(i - lo for i, lo in zip(index, low))))]


def _layout(model, raw) -> bool:
    """Whether ``raw`` has a channel axis first; ValueError if it does not fit the model."""
    dims = getattr(model, "dims", None) or raw.ndim
    in_channels = getattr(model, "in_channels", 1)
    if raw.ndim == dims and in_channels == 1:
        return False
    if raw.ndim == dims + 1 and raw.shape[0] == in_channels:
        return True
    layout = "(y, x)" if dims == 2 else "(z, y, x)"
    raise ValueError(f"raw must be {layout} (with {in_channels} channel(s) first if more than "
                     f"one) for this {dims}D net, got shape {tuple(raw.shape)}")


def _check_raw(raw):
    """``raw`` (ndarray, zarr array or io.Volume) as (array, voxel_size, offset) of its own."""
    from .io import Volume

    if isinstance(raw, Volume):
        return raw.data, raw.voxel_size, raw.offset
    if not all(hasattr(raw, a) for a in ("shape", "dtype", "ndim", "__getitem__")):
        raise TypeError("raw must be a numpy array, a zarr array or an mbl_seg.io.Volume, "
                        f"got {type(raw).__name__}")
    if raw.dtype != np.uint8 and not np.issubdtype(raw.dtype, np.floating):
        raise TypeError(f"raw must be uint8 (0-255) or float in [0, 1], got dtype {raw.dtype}")
    if 0 in raw.shape:
        raise ValueError(f"raw is empty (shape {tuple(raw.shape)}): every axis needs a voxel")
    return raw, None, None


def _check_out(out, name: str, voxel_size, offset, ndim: int, overwrite: bool) -> None:
    """Refuse an output path, voxel size or offset that would fail, before any work."""
    import zarr

    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be None or a zarr group path, got {type(out).__name__}")
    as_voxel_size(voxel_size, ndim)
    as_offset(0.0 if offset is None else offset, ndim)
    with contextlib.suppress(FileNotFoundError):  # no group there yet: nothing to replace
        if name in zarr.open_group(str(out), mode="r") and not overwrite:
            raise FileExistsError(f"{out}/{name} already exists; pass overwrite=True to "
                                  "replace it")


def _zarr_output(out, name: str, shape, chunks, voxel_size, offset, overwrite: bool):
    """An empty float32 array ``name`` in the zarr group ``out``, with io's metadata."""
    import zarr

    from .io import _metadata

    n = len(shape) - 1
    voxel_size = as_voxel_size(voxel_size, n)
    offset = as_offset(0.0 if offset is None else offset, n)
    group = zarr.open_group(str(out), mode="a")
    axes = ["c", *["z", "y", "x"][3 - n:]]
    return group.create_array(name, shape=shape, dtype="float32", chunks=chunks,
                              dimension_names=tuple(axes), overwrite=overwrite,
                              attributes=_metadata(axes, voxel_size, offset))


def predict_blocks(model: torch.nn.Module, raw, *, block_shape: Sequence[int] | None = None,
                   out: str | Path | None = None, name: str = "affs", voxel_size=None,
                   offset=None, overwrite: bool = False,
                   activation: Callable[[torch.Tensor], torch.Tensor] | None = torch.sigmoid,
                   device: str | None = None, amp: bool | None = None, batch_size: int = 1,
                   progress: bool = True) -> Any:
    """Predict ``model`` over a volume block by block: the same result as :func:`predict`.

    The output is cut into blocks by :func:`scan_blocks`; each pass reads its
    block plus the context the net needs from ``raw`` (mirrored at the volume
    borders exactly as :func:`predict` pads), so the volume never has to fit in
    memory, neither on the device nor, with zarr in and out, in RAM.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`mbl_seg.models.UNet` ("valid" or "same" padding), or a module
        with ``padding="valid"`` and ``context`` attributes.
    raw : (Z, Y, X) or (Y, X) ndarray, zarr.Array or mbl_seg.io.Volume
        uint8 EM or float in [0, 1]; (C, ...) for a net with C > 1 input
        channels. A Volume brings its voxel size and offset.
    block_shape : sequence of int, optional
        Output voxels per pass, a multiple of the net's pooling step
        (``model.valid_input_shapes().step``); default: the volume cut into
        equal blocks of at most about (32, 128, 128) ((128, 128) in 2D).
    out : str or Path, optional
        None: return a numpy array. A zarr group path: write array ``name``
        there block by block, chunked like the blocks, with ``voxel_size`` and
        ``offset`` attributes as :func:`mbl_seg.io.write_volume` writes them.
    name : str
        Array name in ``out``.
    voxel_size, offset : sequence of float, optional
        nm, (z, y, x); ``voxel_size`` is required for ``out`` (the offset
        defaults to 0): the output lies exactly on the input.
    overwrite : bool
        Replace an existing array ``name`` in ``out``.
    activation, device, amp :
        As for :func:`predict` (sigmoid; the best device; mixed precision on CUDA).
    batch_size : int
        Blocks per forward pass.
    progress : bool
        Show a progress bar over the blocks.

    Returns
    -------
    (C_out, *spatial) ndarray of float32, or zarr.Array if ``out`` is given

    Notes
    -----
    Every pass has the same input shape, valid for the net. A valid net reads
    its block plus ``context`` (``context // 2`` before it), grown to the next
    valid input shape; a "same" net reads its block with a margin of at least
    ``context / 2 + step - 1`` voxels on each side (as far as any output looks:
    the convolutions, plus the pooled voxels), so the zero padding inside the
    net never reaches the voxels kept. At the far border a read is shifted back inside
    the padded volume and only the block's voxels are kept. Reads start on the
    pooling grid of the whole-volume pass (blocks are multiples of the pooling
    step), so every kept voxel is computed from the same numbers as there.

    Examples
    --------
    >>> from mbl_seg.models import UNet
    >>> net = UNet(dims=3, depth=2, base_features=2, seed=0)
    >>> raw = np.random.default_rng(0).integers(0, 256, (20, 40, 40), dtype=np.uint8)
    >>> affs = predict_blocks(net, raw, block_shape=(8, 16, 16), device="cpu", progress=False)
    >>> affs.shape, bool(np.allclose(affs, predict(net, raw, device="cpu"), atol=1e-5))
    ((1, 20, 40, 40), True)

    Used in: notebooks/05_3d_unet, notebooks/08_scaling_up
    """
    from tqdm.auto import tqdm

    batch_size = as_number(batch_size, "batch_size", integer=True, positive=True)
    raw, own_voxel_size, own_offset = _check_raw(raw)
    voxel_size = own_voxel_size if voxel_size is None else voxel_size
    offset = own_offset if offset is None else offset
    channels = _layout(model, raw)
    spatial = tuple(int(s) for s in raw.shape[channels:])
    if out is not None:
        _check_out(out, name, voxel_size, offset, len(spatial), overwrite)
    block = _block_shape(model, block_shape, spatial)
    scan = _plan(model, spatial, block)
    blocks = scan_blocks(spatial, block, 0)
    device = select_device(device)
    amp = use_amp(amp, device)
    result = None
    with _running(model, device, amp), tqdm(total=len(blocks), desc="predict blocks",
                                            unit="block", disable=not progress) as bar:
        for first in range(0, len(blocks), batch_size):
            writes = [b.write for b in blocks[first:first + batch_size]]
            starts = [_window_start(write, scan) for write in writes]
            x = np.stack([normalize(_read_window(raw, s, scan, channels)) for s in starts])
            x = torch.from_numpy(x if channels else x[:, None]).to(device)
            y = model(x).float()
            y = (activation(y) if activation is not None else y).cpu().numpy()
            if result is None:
                result = (np.empty((y.shape[1], *spatial), np.float32) if out is None else
                          _zarr_output(out, name, (y.shape[1], *spatial), (y.shape[1], *block),
                                       voxel_size, offset, overwrite))
            for write, start, values in zip(writes, starts, y):
                keep = tuple(slice(w.start - a - o, w.stop - a - o)
                             for w, a, o in zip(write, start, scan.origin))
                result[(slice(None), *write)] = values[(slice(None), *keep)]
            bar.update(len(writes))
    return result


def block_predictor(model: torch.nn.Module, shape: Sequence[int], block_shape: Sequence[int], *,
                    device: str | None = None, amp: bool | None = None,
                    activation: Callable[[torch.Tensor], torch.Tensor] | None = torch.sigmoid
                    ) -> Callable[[Any, tuple[slice, ...]], np.ndarray]:
    """One block of :func:`predict_blocks` at a time, for workers that are handed blocks.

    Returns ``f(raw, write)``: the (C, ...) output for the voxels ``write``
    (slices of a block of the grid ``block_shape`` cuts a volume of ``shape``
    into, the last ones possibly smaller), read from ``raw`` with the context
    the net needs: the same numbers as :func:`predict_blocks` and
    :func:`predict` give there.

    Examples
    --------
    >>> from mbl_seg.models import UNet
    >>> net = UNet(dims=3, depth=2, base_features=2, seed=0)
    >>> raw = np.random.default_rng(0).integers(0, 256, (20, 40, 40), dtype=np.uint8)
    >>> f = block_predictor(net, raw.shape, (8, 16, 16), device="cpu")
    >>> part = f(raw, (slice(16, 20), slice(16, 32), slice(32, 40)))
    >>> whole = predict(net, raw, device="cpu")
    >>> part.shape, bool(np.allclose(part, whole[:, 16:20, 16:32, 32:40], atol=1e-5))
    ((1, 4, 16, 8), True)

    Used in: notebooks/08_scaling_up (through :mod:`mbl_seg.blockwise`).
    """
    spatial = tuple(int(s) for s in shape)
    block = _block_shape(model, block_shape, spatial)
    scan = _plan(model, spatial, block)
    device = select_device(device)
    amp = use_amp(amp, device)

    def one_block(raw, write: tuple[slice, ...]) -> np.ndarray:
        raw, _, _ = _check_raw(raw)
        channels = _layout(model, raw)
        if tuple(raw.shape[channels:]) != spatial:
            raise ValueError(f"raw has spatial shape {tuple(raw.shape[channels:])}, this "
                             f"predictor was made for {spatial}")
        start = _window_start(write, scan)
        x = normalize(_read_window(raw, start, scan, channels))
        with _running(model, device, amp):
            y = model(torch.from_numpy(x if channels else x[None])[None].to(device)).float()
            y = (activation(y) if activation is not None else y)[0].cpu().numpy()
        keep = tuple(slice(w.start - a - o, w.stop - a - o)
                     for w, a, o in zip(write, start, scan.origin))
        return y[(slice(None), *keep)]

    return one_block
