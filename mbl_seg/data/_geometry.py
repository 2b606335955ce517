"""Tissue geometry of the synthetic volumes: densely packed neurites.

The recipe, all in world coordinates (nm):

1. Grow smooth random *tubes* (neurite axes) through a box a little larger
   than the volume, with a varying core radius and some branches (a branch
   keeps its parent's id), plus a few large balls (cell bodies, glia).
2. Rasterise the tube cores as seeds on a coarse grid and give every voxel
   the id of its nearest seed (one Euclidean distance transform). The
   resulting cells fill space completely, so almost every boundary is a
   membrane between two touching neurites, as in real neuropil.
3. Sample the coarse ids at smoothly displaced positions of the fine grid,
   which bends the flat Voronoi faces into wavy membranes.
4. Split ids that ended up in several pieces, and open a thin extracellular
   space (label 0) along a small fraction of the membranes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage
from skimage.measure import label as connected_components

from ._noise import smooth_noise
from .domains import Domain

_COARSE_NM = 16.0  # spacing of the grid the cells are computed on
_STEP_NM = 20.0  # step along a tube axis


class Tubes(NamedTuple):
    """Sampled neurite axes: positions and unit directions (nm, z, y, x), core radii."""

    points: np.ndarray
    directions: np.ndarray
    radii: np.ndarray


def neurite_labels(
    shape: tuple[int, int, int], voxel_size: tuple[float, ...], domain: Domain,
    rng: np.random.Generator,
) -> tuple[np.ndarray, Tubes]:
    """Dense neurite labels (uint64, (z, y, x)) and the tube axes that made them."""
    vs = np.asarray(voxel_size, dtype=float)
    extent = np.asarray(shape) * vs
    pad = domain.neurite_spacing
    tubes = _grow_tubes(extent, pad, domain, rng)
    coarse_vs = vs * np.maximum(1, np.floor(_COARSE_NM / vs))
    coarse_shape = tuple(np.ceil((extent + 2 * pad) / coarse_vs).astype(int) + 1)
    seeds = np.zeros(coarse_shape, dtype=np.int32)
    _draw_balls(seeds, (tubes.points + pad) / coarse_vs, tubes.radii, tubes.ids, coarse_vs)
    _draw_somata(seeds, extent, pad, coarse_vs, domain, rng, first_id=tubes.ids.max() + 1)
    nearest = ndimage.distance_transform_edt(
        seeds == 0, sampling=coarse_vs, return_distances=False, return_indices=True
    )
    cells = seeds[tuple(nearest)]
    labels = _warped_sample(cells, shape, vs, coarse_vs, pad, domain, rng)
    labels = _absorb_crumbs(connected_components(labels, connectivity=1), vs)
    _open_extracellular_space(labels, vs, domain, rng)
    inside = np.all((tubes.points >= 0) & (tubes.points < extent), axis=1)
    return labels, Tubes(tubes.points[inside], tubes.directions[inside], tubes.radii[inside])


class _IdTubes(NamedTuple):
    points: np.ndarray
    directions: np.ndarray
    radii: np.ndarray
    ids: np.ndarray


def _grow_tubes(extent: np.ndarray, pad: float, domain: Domain,
                rng: np.random.Generator) -> _IdTubes:
    """Grow tubes until their total length fills the box at the domain's spacing."""
    box = extent + 2 * pad
    target_length = np.prod(box) / domain.neurite_spacing**2
    # most neurites run roughly along one bundle direction near z, so that
    # sections show round profiles; the rest run anywhere
    bundle = _unit(np.array([1.0, 0.0, 0.0]) + 0.35 * rng.standard_normal(3))
    parts, length, tube_id = [], 0.0, 0
    while length < target_length:
        tube_id += 1
        start = rng.uniform(0, box) - pad
        direction = bundle if rng.random() < 0.8 else _unit(rng.standard_normal(3))
        direction = _unit(direction + 0.25 * rng.standard_normal(3))
        radius = 0.3 * domain.neurite_spacing * np.exp(domain.radius_spread * rng.standard_normal())
        radius = float(np.clip(radius, 20.0, 0.42 * domain.neurite_spacing))
        for sign in (1.0, -1.0):
            pts, dirs = _walk(start, sign * direction, extent, pad, domain, rng)
            parts.append((pts, dirs, tube_id, radius))
            length += len(pts) * _STEP_NM
        if rng.random() < domain.branch_probability and len(parts[-1][0]) > 10:
            pts = parts[-1][0]
            origin = pts[rng.integers(len(pts) // 4, len(pts))]
            branch_dir = _unit(_unit(rng.standard_normal(3)) + 0.5 * sign * direction)
            b_pts, b_dirs = _walk(origin, branch_dir, extent, pad, domain, rng)
            parts.append((b_pts, b_dirs, tube_id, 0.7 * radius))
            length += len(b_pts) * _STEP_NM
    points = np.concatenate([p[0] for p in parts])
    directions = np.concatenate([p[1] for p in parts])
    ids = np.concatenate([np.full(len(p[0]), p[2], np.int32) for p in parts])
    radii = np.concatenate([_vary_radius(p[3], len(p[0]), rng) for p in parts])
    return _IdTubes(points, directions, radii, ids)


def _walk(start: np.ndarray, direction: np.ndarray, extent: np.ndarray, pad: float,
          domain: Domain, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random path from ``start`` until it leaves the padded box."""
    n = int(np.linalg.norm(extent + 2 * pad) / _STEP_NM) + 2
    bend = rng.standard_normal((n, 3))
    bend = ndimage.gaussian_filter1d(bend, sigma=400.0 / _STEP_NM, axis=0, mode="nearest")
    bend *= domain.wiggle / (bend.std() + 1e-12)
    dirs = direction + bend
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pts = start + np.cumsum(dirs * _STEP_NM, axis=0)
    inside = np.all((pts > -pad) & (pts < extent + pad), axis=1)
    stop = np.argmin(inside) if not inside.all() else n
    return pts[:stop], dirs[:stop]


def _vary_radius(radius: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Core radius along a tube: smooth swellings of about +-25 %."""
    # a Gaussian of sigma 10 steps shrinks white noise's std to about 0.17
    wobble = ndimage.gaussian_filter1d(rng.standard_normal(n), sigma=10.0, mode="nearest")
    return radius * np.exp(np.clip(1.5 * wobble, -0.5, 0.5))


def _draw_balls(seeds: np.ndarray, centres: np.ndarray, radii: np.ndarray,
                ids: np.ndarray, grid_nm: np.ndarray) -> None:
    """Paint balls (radii in nm, centres in grid units) with ``ids``, vectorised per size."""
    step = grid_nm.min()
    rounded = np.maximum(1, np.round(radii / step)).astype(int)
    for r in np.unique(rounded):
        # consecutive points overlap a lot: keep every (r/2)-th one
        idx = np.flatnonzero(rounded == r)[:: max(1, r // 2)]
        reach = np.maximum(1, np.ceil(r * step / grid_nm)).astype(int)
        grid = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij"), -1)
        grid = grid.reshape(-1, 3)
        offsets = grid[((grid * grid_nm) ** 2).sum(1) <= (r * step) ** 2]
        vox = (np.round(centres[idx])[:, None, :] + offsets[None]).reshape(-1, 3).astype(int)
        lab = np.repeat(ids[idx], len(offsets))
        ok = np.all((vox >= 0) & (vox < seeds.shape), axis=1)
        seeds[tuple(vox[ok].T)] = lab[ok]


def _draw_somata(seeds: np.ndarray, extent: np.ndarray, pad: float, coarse_vs: np.ndarray,
                 domain: Domain, rng: np.random.Generator, first_id: int) -> None:
    """Large round cell bodies that push the neurites aside."""
    count = rng.poisson(domain.soma_count_per_um3 * np.prod(extent + 2 * pad) / 1e9)
    zz, yy, xx = np.indices(seeds.shape, sparse=True)
    for k in range(count):
        centre = (rng.uniform(0, extent + 2 * pad)) / coarse_vs
        radius = domain.soma_radius * rng.uniform(0.7, 1.1) / coarse_vs
        inside = (((zz - centre[0]) / radius[0]) ** 2 + ((yy - centre[1]) / radius[1]) ** 2
                  + ((xx - centre[2]) / radius[2]) ** 2) <= 1.0
        seeds[inside] = first_id + k


def _warped_sample(cells: np.ndarray, shape: tuple[int, ...], vs: np.ndarray,
                   coarse_vs: np.ndarray, pad: float, domain: Domain,
                   rng: np.random.Generator) -> np.ndarray:
    """Read the coarse cells at smoothly displaced fine-voxel centres."""
    coords = []
    for axis in range(3):
        centre = (np.arange(shape[axis]) + 0.5) * vs[axis]
        view = [1, 1, 1]
        view[axis] = shape[axis]
        shift = domain.warp_amplitude * smooth_noise(shape, tuple(vs), domain.warp_scale, rng)
        coords.append((centre.reshape(view) + pad + shift) / coarse_vs[axis])
    return ndimage.map_coordinates(cells, coords, order=0, mode="nearest")


def _absorb_crumbs(labels: np.ndarray, vs: np.ndarray, min_nm3: float = 60.0**3) -> np.ndarray:
    """Give pieces smaller than ``min_nm3`` to their nearest neighbour; ids 1..n, uint64.

    Warping and cutting the cells leave crumbs of a few voxels, which are
    not neurites and would only add noise to the ground truth.
    """
    sizes = np.bincount(labels.ravel())
    small = (sizes * np.prod(vs) < min_nm3)[labels]
    if small.any():
        nearest = ndimage.distance_transform_edt(
            small, sampling=vs, return_distances=False, return_indices=True
        )
        labels = labels[tuple(nearest)]
    _, consecutive = np.unique(labels, return_inverse=True)
    return (consecutive.reshape(labels.shape) + 1).astype(np.uint64)


def _open_extracellular_space(labels: np.ndarray, vs: np.ndarray, domain: Domain,
                              rng: np.random.Generator) -> None:
    """Set patches of voxels along membranes to 0 (extracellular), in place."""
    if domain.extracellular_fraction <= 0:
        return
    boundary = np.zeros(labels.shape, dtype=bool)
    for axis in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(1, None), slice(None, -1)
        differ = labels[tuple(a)] != labels[tuple(b)]
        boundary[tuple(a)] |= differ
    field = smooth_noise(labels.shape, tuple(vs), 250.0, rng)
    threshold = np.quantile(field, 1.0 - 4 * domain.extracellular_fraction)
    labels[boundary & (field > threshold)] = 0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)
