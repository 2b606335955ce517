"""Self-check of notebook 09: a volume brought to the voxel size a network was trained at.

Used in: notebooks/09_real_em
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..own_data import grid_factors, to_network_grid
from ._core import CheckResult, _call, _Fail, _run

__all__ = ["check_to_network_grid"]

NETWORK = (8.0, 8.0, 8.0)
CLOSE = 1.5  # grey values: the mean difference a linear or cubic resampling may have


def check_to_network_grid(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Check ``fn(raw, voxel_size, network_voxel_size) -> raw on the network's grid``.

    Any linear or cubic interpolation is right (``scipy.ndimage.zoom`` with ``order=1``
    or ``3``); the result must have the network's voxel size and ``raw``'s dtype.

    >>> check_to_network_grid(to_network_grid).passed
    ✅ to_network_grid: correct — shapes and grey values match in all 3 cases
    True

    Used in: notebooks/09_real_em
    """
    return _run("to_network_grid", lambda: _body(fn), verbose)


def _volume() -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(7)
    smooth = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (6, 24, 24)), 1.5)
    return np.clip(128 + smooth / smooth.std() * 45, 0, 255).astype(np.uint8)


def _cases() -> list[tuple[str, tuple[float, float, float]]]:
    return [("10 nm voxels (the real FIB-SEM volume)", (10.0, 10.0, 10.0)),
            ("anisotropic voxels, 16 x 8 x 4 nm (z, y, x)", (16.0, 8.0, 4.0)),
            ("voxels the size of the network's", (8.0, 8.0, 8.0))]


def _zoom(raw, factors, order: int, grid_mode: bool) -> np.ndarray:
    from scipy import ndimage

    out = ndimage.zoom(raw.astype(np.float32), factors, order=order, mode="nearest",
                       grid_mode=grid_mode)
    return np.clip(np.rint(out), 0, 255)


def _body(fn: Callable) -> str:
    raw = _volume()
    for what, voxel_size in _cases():
        got = _call(fn, raw, voxel_size, NETWORK)
        if got is None:
            raise _Fail("your function returned None: did you forget the `return` line?")
        got = np.asarray(got)
        want = to_network_grid(raw, voxel_size, NETWORK)
        factors = grid_factors(voxel_size, NETWORK)
        where = f"{what}, raw {raw.shape}: "
        if got.shape != want.shape:
            raise _Fail(where + f"you return shape {got.shape}, expected {want.shape}. Hint: "
                        + _shape_hint(got.shape, raw.shape, factors))
        if got.dtype != raw.dtype:
            raise _Fail(where + f"you return {got.dtype}, the volume is {raw.dtype}. Hint: a "
                        "network reads uint8 as 0-255: round, clip to 0-255 and cast back "
                        "(np.clip(np.rint(x), 0, 255).astype(np.uint8))")
        got = got.astype(np.float64)
        right = [_zoom(raw, factors, order, mode) for order in (1, 3) for mode in (True, False)]
        if min(np.abs(got - r).mean() for r in right) <= CLOSE:
            continue
        nearest = [_zoom(raw, factors, 0, mode) for mode in (True, False)]
        if min(np.abs(got - r).mean() for r in nearest) <= CLOSE:
            hint = ("that is nearest-neighbour resampling: grey values should be interpolated "
                    "(order=1, linear); nearest neighbour is for labels, which must never be "
                    "blended")
        else:
            hint = ("resample the grey values by the factors voxel_size / network_voxel_size, "
                    "one per axis, with linear interpolation (scipy.ndimage.zoom, order=1)")
        raise _Fail(where + f"your grey values differ from a resampling by "
                    f"{min(np.abs(got - r).mean() for r in right):.1f} on average. Hint: {hint}")
    return f"shapes and grey values match in all {len(_cases())} cases"


def _shape_hint(got: tuple, shape: tuple, factors: tuple) -> str:
    def zoomed(fs):
        return tuple(int(round(n * f)) for n, f in zip(shape, fs))

    if got == zoomed([1 / f for f in factors]):
        return ("the factors are upside down: one of your voxels is voxel_size / "
                "network_voxel_size network voxels (10 nm voxels become 1.25 network voxels "
                "each, so the volume grows)")
    if got == zoomed(factors[::-1]):
        return "the voxel sizes are (z, y, x): take the factor of each axis in that order"
    if len(set(factors)) > 1 and got in {zoomed([f] * 3) for f in factors}:
        return ("each axis has its own factor: anisotropic voxels are resampled by a "
                "different amount along z than along y and x")
    if got == tuple(shape):
        return "nothing was resampled: zoom raw by voxel_size / network_voxel_size per axis"
    return "zoom each axis by its voxel size divided by the network's (z, y, x)"
