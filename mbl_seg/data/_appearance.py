"""What the microscope sees: turning labels into an EM-like image.

Intensities are built in [0, 1] as a product of factors (cytoplasm with
texture, membrane darkening, organelles), then blurred by the point spread
function, jittered per section, made noisy and quantised to uint8.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from ..targets import face_neighbours
from ._geometry import Tubes, _unit
from ._noise import smooth_noise
from .domains import Domain


class Organelles(NamedTuple):
    """Darkening fields in [0, 1] (float32, (z, y, x)) and the mitochondria mask."""

    mito_shade: np.ndarray
    vesicle_shade: np.ndarray
    mitochondria: np.ndarray


def membrane_distance(labels: np.ndarray, vs: tuple[float, ...]) -> np.ndarray:
    """Distance (nm) of every voxel to the nearest label change (float32)."""
    boundary = np.zeros(labels.shape, dtype=bool)
    for here, back in face_neighbours(labels.shape):
        differ = labels[here] != labels[back]
        boundary[here] |= differ
        boundary[back] |= differ
    return ndimage.distance_transform_edt(~boundary, sampling=vs).astype(np.float32)


def organelles(labels: np.ndarray, dist: np.ndarray, tubes: Tubes, vs: tuple[float, ...],
               domain: Domain, rng: np.random.Generator) -> Organelles:
    """Place mitochondria along neurite axes and vesicle clusters in boutons."""
    mito = np.zeros(labels.shape, dtype=np.float32)
    volume_um3 = np.prod(np.asarray(labels.shape) * vs) / 1e9
    n_mito = rng.poisson(domain.mito_per_um3 * volume_um3) if len(tubes.points) else 0
    for i in rng.integers(0, max(len(tubes.points), 1), size=n_mito):
        _draw_mitochondrion(mito, labels, dist, tubes.points[i], tubes.directions[i],
                            tubes.radii[i], vs, domain, rng)
    vesicles = np.zeros(labels.shape, dtype=np.float32)
    n_bouton = rng.poisson(domain.bouton_per_um3 * volume_um3) if len(tubes.points) else 0
    for i in rng.integers(0, max(len(tubes.points), 1), size=n_bouton):
        _draw_vesicle_cluster(vesicles, labels, dist, mito, tubes.points[i], vs, domain, rng)
    return Organelles(mito, vesicles, mito > 0)


def _box(centre_vox: np.ndarray, half: np.ndarray, shape: tuple[int, ...]):
    lo = np.maximum(np.floor(centre_vox - half).astype(int), 0)
    hi = np.minimum(np.ceil(centre_vox + half).astype(int) + 1, shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi))


def _label_at(labels: np.ndarray, point: np.ndarray, vs: np.ndarray) -> int:
    """The label under a world position (nm), 0 outside the volume."""
    vox = np.floor(point / vs).astype(int)
    if np.any(vox < 0) or np.any(vox >= labels.shape):
        return 0
    return int(labels[tuple(vox)])


def _draw_mitochondrion(mito, labels, dist, centre, axis, tube_radius, vs, domain, rng) -> None:
    """A capsule with a dark matrix crossed by paler cristae, inside its own neurite.

    It sits anywhere across its neurite, often against the membrane, as in
    real axons, where a mitochondrion can fill the whole profile.
    """
    length = rng.uniform(*domain.mito_length)
    radius = rng.uniform(*domain.mito_radius)
    vs = np.asarray(vs)
    own = _label_at(labels, centre, vs)
    side = _unit(np.cross(axis, rng.standard_normal(3)))
    centre = centre + side * max(tube_radius - 0.6 * radius, 0.0) * rng.uniform(0.3, 1.0)
    # the bounding box of the ellipsoid, axis by axis
    half = np.sqrt((length / 2 * axis) ** 2 + radius**2 * (1 - axis**2))
    box = _box(centre / vs, half / vs, labels.shape)
    if any(s.stop - s.start < 2 for s in box) or own == 0:
        return
    grid = np.meshgrid(*[(np.arange(s.start, s.stop) + 0.5) * v for s, v in zip(box, vs)],
                       indexing="ij", sparse=True)
    rel = [g - c for g, c in zip(grid, centre)]
    along = sum(r * a for r, a in zip(rel, axis))
    radial2 = sum(r * r for r in rel) - along**2
    shape = (along / (length / 2)) ** 2 + radial2 / radius**2
    inside = (shape <= 1.0) & (labels[box] == own) & (dist[box] > 0)
    # a dark rim (the double membrane) around a dark matrix with pale cristae
    depth = 1.0 - np.sqrt(np.clip(shape, 0, 1))
    rim = np.exp(-((depth * radius / (1.2 * vs.min())) ** 2))
    # cristae: pale folds across the matrix, irregular in spacing and angle
    period = rng.uniform(45.0, 75.0)
    across = sum(r * c for r, c in zip(rel, _unit(np.cross(axis, side))))
    knots = np.arange(-length / 2 - 60.0, length / 2 + 90.0, 30.0)
    jitter = np.interp(along, knots, rng.uniform(-1.5, 1.5, len(knots)))
    phase = 2 * np.pi * (along + rng.uniform(-0.6, 0.6) * across) / period + jitter
    cristae = 0.8 - 0.35 * np.clip(np.cos(phase), 0, 1)
    shade = np.where(inside, np.maximum(cristae, rim), 0).astype(np.float32)
    np.maximum(mito[box], shade, out=mito[box])


def _draw_vesicle_cluster(vesicles, labels, dist, mito, centre, vs, domain, rng) -> None:
    """Small round vesicles (dark rim, pale lumen) scattered around ``centre``."""
    vs = np.asarray(vs)
    r = domain.vesicle_radius
    ves = centre + rng.normal(0, domain.bouton_radius, size=(domain.vesicles_per_bouton, 3))
    vox = np.floor(ves / vs).astype(int)
    ok = np.all((vox >= 0) & (vox < labels.shape), axis=1)
    ves, vox = ves[ok], vox[ok]
    own = _label_at(labels, centre, vs)
    keep = (labels[tuple(vox.T)] == own) & (dist[tuple(vox.T)] > r + vs.min()) & (own != 0)
    keep &= mito[tuple(vox.T)] == 0
    ves = ves[keep]
    reach = np.ceil((r + vs) / vs).astype(int)
    offs = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij"), -1)
    offs = offs.reshape(-1, 3)
    pts = np.floor(ves / vs).astype(int)[:, None, :] + offs[None]
    d = np.linalg.norm((pts + 0.5) * vs - ves[:, None, :], axis=-1)
    rim = np.exp(-(((d - r) / (0.45 * vs.min())) ** 2)) + 0.25 * (d < r)
    pts, rim = pts.reshape(-1, 3), rim.reshape(-1).astype(np.float32)
    ok = np.all((pts >= 0) & (pts < labels.shape), axis=1) & (rim > 0.05)
    idx = tuple(pts[ok].T)
    np.maximum.at(vesicles, idx, np.minimum(rim[ok], 1.0))


def render(labels: np.ndarray, dist: np.ndarray, org: Organelles, vs: tuple[float, ...],
           domain: Domain, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The EM image (float32 in ~[0, 1]) and the mask of faint/missing membranes."""
    shape = labels.shape
    n = int(labels.max()) + 1
    cyto = domain.cytoplasm * (1 + domain.cytoplasm_spread * rng.standard_normal(n))
    # some neurites (and glia) have a dark, dense cytoplasm
    cyto *= np.where(rng.random(n) < domain.dark_cells, 1 - domain.dark_cell_depth, 1.0)
    cyto[0] = domain.extracellular
    img = cyto.astype(np.float32)[labels]
    # grain of about 1.5 voxels, and dark specks where the grain is extreme
    # (cross-sections of microtubules, ER and small vesicles)
    fine = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 1.5)
    fine /= fine.std() + 1e-12
    img *= 1 + domain.texture_fine * fine
    img *= 1 - domain.specks * np.clip(fine - 1.6, 0, 1)
    img *= 1 + domain.texture_coarse * smooth_noise(shape, vs, domain.texture_scale, rng)
    # dark clouds in the cytoplasm (ribosomes, dense matrix): dark, but not walls
    clouds = np.clip(smooth_noise(shape, vs, domain.cloud_scale, rng) - 1.0, 0, 1)
    img *= 1 - domain.clouds * clouds

    width = domain.membrane_width * min(vs) * (1 + 0.35 * smooth_noise(shape, vs, 400.0, rng))
    width = np.clip(width, 0.5 * min(vs), None)
    strength, gaps = _membrane_strength(dist, width, vs, domain, rng)
    img *= 1 - domain.membrane_depth * strength * np.exp(-((dist / width) ** 2))
    img *= 1 - domain.er_darkness * _endoplasmic_reticulum(dist, width, vs, domain, rng)
    img *= 1 - domain.mito_darkness * org.mito_shade
    img *= 1 - 0.5 * org.vesicle_shade

    # detector noise is not white at these pixel sizes: part of it is added
    # before the point spread function, which turns it into a fine grain
    grain = rng.standard_normal(shape, dtype=np.float32)
    img += domain.noise * domain.grain * np.sqrt(np.clip(img, 0.01, None)) * grain
    sigma = domain.blur if domain.isotropic_blur else (0.0, domain.blur, domain.blur)
    img = ndimage.gaussian_filter(img, sigma)
    gain = 1 + domain.section_jitter * rng.standard_normal((shape[0], 1, 1))
    bias = 0.5 * domain.section_jitter * rng.standard_normal((shape[0], 1, 1))
    img = img * gain.astype(np.float32) + bias.astype(np.float32)
    img += domain.noise * np.sqrt(np.clip(img, 0.01, None)) * rng.standard_normal(
        shape, dtype=np.float32)
    img = np.clip(img, 0, 1) ** domain.gamma
    return img.astype(np.float32), gaps


def _endoplasmic_reticulum(dist, width, vs, domain, rng) -> np.ndarray:
    """Thin dark sheets inside cells (ER, cisternae), in patches: in [0, 1].

    In a section they are short curved dark lines, like pieces of membrane
    that do not separate anything: a network must learn that a boundary is a
    closed wall between two cells, not any thin dark line.
    """
    sheets = smooth_noise(dist.shape, vs, domain.er_spacing, rng)
    # |field| is small on its zero level set; 0.15 gives lines about 1.5 voxels wide
    lines = np.exp(-((sheets / 0.15) ** 2))
    patches = smooth_noise(dist.shape, vs, 500.0, rng)
    cut = np.quantile(patches[:: 4, :: 4, :: 4], 1.0 - domain.er_fraction)
    inside = np.clip(dist / (2.5 * width) - 1.0, 0, 1)  # away from the cell's own membrane
    return lines * np.clip((patches - cut) / 0.3, 0, 1) * inside


def _membrane_strength(dist, width, vs, domain, rng) -> tuple[np.ndarray, np.ndarray]:
    """Membrane contrast in [0, 1]: 1 nearly everywhere, faint or 0 in gap patches."""
    strength = np.ones(dist.shape, dtype=np.float32)
    on_membrane = dist < 2 * width
    if domain.membrane_gaps <= 0 or not on_membrane.any():
        return strength, np.zeros(dist.shape, dtype=bool)
    field = smooth_noise(dist.shape, vs, 180.0, rng)
    threshold = np.quantile(field[on_membrane], 1.0 - domain.membrane_gaps)
    # a soft edge: the membrane fades out over a short distance into the gap
    fade = np.clip((field - threshold) / 0.3, 0, 1)
    strength -= 0.92 * fade
    return strength, on_membrane & (fade > 0.5)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Quantise an image in [0, 1] to uint8 (rounded, clipped)."""
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def section_artefacts(raw: np.ndarray, labels: np.ndarray, vs: tuple[float, ...],
                      domain: Domain, rng: np.random.Generator) -> list[tuple[int, str]]:
    """Blank or shift whole sections in place; returns what was done to which z."""
    done = []
    for z in range(raw.shape[0]):
        u = rng.random()
        if u < domain.missing_sections:
            raw[z] = 0
            done.append((z, "missing"))
        elif u < domain.missing_sections + domain.misaligned_sections:
            limit = max(1, int(domain.misalignment / min(vs[1:])))
            dy, dx = rng.integers(-limit, limit + 1, size=2)
            raw[z] = ndimage.shift(raw[z], (dy, dx), order=0, mode="nearest")
            labels[z] = ndimage.shift(labels[z], (dy, dx), order=0, mode="nearest")
            done.append((z, "misaligned"))
    return done
