"""Tissue geometry of the synthetic volumes: densely packed neurites.

The recipe, all in world coordinates (nm):

1. Draw neurite calibres as real neuropil has them: many thin axons (a
   log-normal around ``radius_median``), a few large dendrites that take a
   set share of the area (``large_area``), and, per domain, cell bodies.
2. Pack their cross-sections as discs in the plane across the main bundle
   direction (random sequential packing, largest first, so thin profiles
   fill the gaps between big ones), then grow each disc into a smooth random
   *tube* along the bundle; some tubes cross in any direction, some branch.
3. Paint the tube cores on a coarse grid, largest first and never over an
   earlier one, and give every voxel the id of its nearest core (one
   Euclidean distance transform). Nearest *surface* of cores of different
   radii makes curved walls: a big dendrite stays round and thin axons fill
   the corners, as in real neuropil, rather than convex polygons.
4. Sample the coarse ids at smoothly displaced positions of the fine grid,
   which makes the membranes wavy.
5. Split ids that ended up in several pieces, and open a thin extracellular
   space (label 0) along a small fraction of the membranes.
"""

from __future__ import annotations

from itertools import product
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from skimage.measure import label as connected_components

from ..targets import face_neighbours
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
    pad = 2.0 * domain.radius_median + domain.warp_amplitude + 100.0
    coarse_vs = vs * np.maximum(1, np.floor(_COARSE_NM / vs))
    coarse_shape = tuple(np.ceil((extent + 2 * pad) / coarse_vs).astype(int) + 1)
    seeds = np.zeros(coarse_shape, dtype=np.int32)
    # cell bodies first: the biggest objects, never cut by a neurite
    n_somata = _draw_somata(seeds, extent, pad, coarse_vs, domain, rng)
    tubes = _grow_tubes(extent, pad, domain, rng)
    _draw_balls(seeds, (tubes.points + pad) / coarse_vs, tubes.radii,
                tubes.ids + n_somata, coarse_vs)
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
    """Pack tube cross-sections across the bundle direction and grow them through the box."""
    box = extent + 2 * pad
    centre = extent / 2
    # most neurites run roughly along one bundle direction near z, so that
    # sections show round profiles; a share cross it in any direction
    bundle = _unit(np.array([1.0, 0.0, 0.0]) + domain.bundle_spread * rng.standard_normal(3))
    across = _plane_basis(bundle)
    corners = np.array(list(product((0.0, 1.0), repeat=3))) * box - pad - centre
    half = np.abs(corners @ across.T).max(axis=0)
    radii = _draw_radii(domain.fill * 4 * half[0] * half[1], domain, rng)
    placed, positions = _pack_discs(radii, half, rng)
    parts = []
    for tube_id, (radius, xy) in enumerate(zip(radii[placed], positions), start=1):
        direction = _unit(bundle + 0.1 * rng.standard_normal(3))
        parts += _tube(centre + xy @ across, direction, radius, tube_id, extent, pad,
                       domain, rng)
    n_cross = int(round(domain.crossing * len(parts) / 2))
    for tube_id in range(len(radii) + 1, len(radii) + 1 + n_cross):
        radius = _ordinary_radius(domain, rng)
        start = rng.uniform(0, box) - pad
        parts += _tube(start, _unit(rng.standard_normal(3)), radius, tube_id, extent, pad,
                       domain, rng)
    points = np.concatenate([p[0] for p in parts])
    directions = np.concatenate([p[1] for p in parts])
    ids = np.concatenate([np.full(len(p[0]), p[2], np.int32) for p in parts])
    radii = np.concatenate([_vary_radius(p[3], len(p[0]), rng) for p in parts])
    return _IdTubes(points, directions, radii, ids)
def _plane_basis(normal: np.ndarray) -> np.ndarray:
    """Two orthonormal vectors (rows) perpendicular to the unit vector ``normal``."""
    helper = np.eye(3)[np.argmin(np.abs(normal))]
    u = _unit(np.cross(normal, helper))
    return np.stack([u, np.cross(normal, u)])


def _ordinary_radius(domain: Domain, rng: np.random.Generator) -> float:
    """Core radius (nm) of an ordinary neurite: log-normal, clipped to 15-250 nm."""
    r = domain.radius_median * np.exp(domain.radius_spread * rng.standard_normal())
    return float(np.clip(r, 15.0, 250.0))


def _draw_radii(area: float, domain: Domain, rng: np.random.Generator) -> np.ndarray:
    """Core radii (nm, largest first) whose discs cover ``area`` nm^2.

    A share ``large_area`` of it goes to large dendrites, the rest to
    ordinary neurites: few big profiles, very many thin ones.
    """
    radii, covered = [], 0.0
    while covered < domain.large_area * area:
        radii.append(max(rng.uniform(*domain.large_radius), 15.0))
        covered += np.pi * radii[-1] ** 2
    while covered < area:
        radii.append(_ordinary_radius(domain, rng))
        covered += np.pi * radii[-1] ** 2
    return np.sort(np.asarray(radii))[::-1]


def _pack_discs(radii: np.ndarray, half: np.ndarray, rng: np.random.Generator,
                tries: int = 40, overlap: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
    """Random sequential packing of discs in the rectangle ``[-half, half]``.

    Each disc (in the order given) tries ``tries`` random centres and takes the
    first whose distance to every placed disc is at least ``overlap`` times
    the sum of radii; a disc that finds no room is left out. Returns the
    indices of the placed discs and their centres (nm, in the plane).
    """
    centres = np.empty((len(radii), 2))
    index = np.empty(len(radii), dtype=int)
    n = 0
    for i, r in enumerate(radii):
        cand = rng.uniform(-half, half, size=(tries, 2))
        d = np.linalg.norm(cand[:, None, :] - centres[None, :n], axis=-1)
        ok = np.all(d >= overlap * (r + radii[index[:n]]), axis=1)
        if ok.any():
            centres[n], index[n] = cand[np.argmax(ok)], i
            n += 1
    return index[:n], centres[:n]


def _tube(start: np.ndarray, direction: np.ndarray, radius: float, tube_id: int,
          extent: np.ndarray, pad: float, domain: Domain, rng: np.random.Generator) -> list:
    """The two halves of a tube through ``start`` and, sometimes, a thinner branch."""
    parts = []
    for sign in (1.0, -1.0):
        pts, dirs = _walk(start, sign * direction, extent, pad, domain, rng)
        parts.append((pts, dirs, tube_id, radius))
    if rng.random() < domain.branch_probability and len(parts[-1][0]) > 10:
        pts = parts[-1][0]
        origin = pts[rng.integers(len(pts) // 4, len(pts))]
        branch_dir = _unit(_unit(rng.standard_normal(3)) - 0.5 * direction)
        b_pts, b_dirs = _walk(origin, branch_dir, extent, pad, domain, rng)
        parts.append((b_pts, b_dirs, tube_id, min(0.6 * radius, 2 * domain.radius_median)))
    return parts


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
    """Paint balls (radii in nm, centres in grid units) with ``ids``, in place.

    Largest first, and only on voxels still empty: a thin neurite that runs
    into a big one is cut by it instead of boring a hole through it.
    """
    step = grid_nm.min()
    rounded = np.maximum(1, np.round(0.9 * radii / step)).astype(int)
    for r in np.unique(rounded)[::-1]:
        # consecutive points overlap a lot: keep every (r/2)-th one
        idx = np.flatnonzero(rounded == r)[:: max(1, r // 2)]
        reach = np.maximum(1, np.ceil(r * step / grid_nm)).astype(int)
        grid = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij"), -1)
        grid = grid.reshape(-1, 3)
        offsets = grid[((grid * grid_nm) ** 2).sum(1) <= (r * step) ** 2]
        vox = (np.round(centres[idx])[:, None, :] + offsets[None]).reshape(-1, 3).astype(int)
        lab = np.repeat(ids[idx], len(offsets))
        ok = np.all((vox >= 0) & (vox < seeds.shape), axis=1)
        vox, lab = tuple(vox[ok].T), lab[ok]
        free = seeds[vox] == 0
        seeds[tuple(v[free] for v in vox)] = lab[free]


def _draw_somata(seeds: np.ndarray, extent: np.ndarray, pad: float, coarse_vs: np.ndarray,
                 domain: Domain, rng: np.random.Generator) -> int:
    """Large round cell bodies (ids 1, 2, ...); returns how many were drawn."""
    count = rng.poisson(domain.soma_count_per_um3 * np.prod(extent + 2 * pad) / 1e9)
    zz, yy, xx = np.indices(seeds.shape, sparse=True)
    for k in range(count):
        centre = (rng.uniform(0, extent + 2 * pad)) / coarse_vs
        radius = domain.soma_radius * rng.uniform(0.7, 1.1) / coarse_vs
        inside = (((zz - centre[0]) / radius[0]) ** 2 + ((yy - centre[1]) / radius[1]) ** 2
                  + ((xx - centre[2]) / radius[2]) ** 2) <= 1.0
        seeds[inside & (seeds == 0)] = k + 1
    return int(count)


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
    # consecutive ids from a lookup table (connected-component ids are small)
    present = np.bincount(labels.ravel()) > 0
    lookup = np.cumsum(present).astype(np.uint64)
    return lookup[labels]


def _open_extracellular_space(labels: np.ndarray, vs: np.ndarray, domain: Domain,
                              rng: np.random.Generator) -> None:
    """Set patches of voxels along membranes to 0 (extracellular), in place."""
    if domain.extracellular_fraction <= 0:
        return
    boundary = np.zeros(labels.shape, dtype=bool)
    for here, back in face_neighbours(labels.shape):
        boundary[here] |= labels[here] != labels[back]
    field = smooth_noise(labels.shape, tuple(vs), 250.0, rng)
    threshold = np.quantile(field, 1.0 - 4 * domain.extracellular_fraction)
    labels[boundary & (field > threshold)] = 0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)
