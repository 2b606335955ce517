"""Synthetic EM volumes with dense ground truth, deterministic from a seed.

Used in: notebooks/00_setup_and_data (and every later notebook through the
course datasets of :mod:`mbl_seg.data.datasets`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from .._validate import as_voxel_size
from . import _appearance, _geometry
from .domains import SHARE_FIELDS, Domain, get_domain

__all__ = ["SyntheticVolume", "synthetic_volume", "randomized_look"]

# Bump when the generator's output changes, so cached datasets are rebuilt.
GENERATOR_VERSION = 2


class SyntheticVolume(NamedTuple):
    """A synthetic EM volume and its ground truth, all (z, y, x).

    Attributes
    ----------
    raw : (Z, Y, X) uint8 ndarray
        The EM image: dark membranes, grey cytoplasm.
    labels : (Z, Y, X) uint64 ndarray
        Neuron ids; 0 = extracellular space (ignored by the metrics).
    voxel_size : tuple of 3 floats
        nm per voxel along (z, y, x).
    membrane_gaps : (Z, Y, X) bool ndarray
        Where a membrane is faint or missing: the hard cases that cause merges.
    mitochondria : (Z, Y, X) bool ndarray
        Mitochondria (inside neurites; they are not separate objects).
    sections : tuple of (int, str)
        Sections hit by an artefact, e.g. ``((12, "missing"),)``.
    """

    raw: np.ndarray
    labels: np.ndarray
    voxel_size: tuple[float, float, float]
    membrane_gaps: np.ndarray
    mitochondria: np.ndarray
    sections: tuple[tuple[int, str], ...]


def synthetic_volume(
    shape: tuple[int, int, int],
    domain: str | Domain = "fly",
    seed: int = 0,
    **overrides,
) -> SyntheticVolume:
    """Generate an EM-like volume with dense neuron labels.

    Neurites are smooth random tubes of very different calibre (many thin
    axons, a few wide dendrites) packed so densely that they touch; every
    voxel belongs to one of them except a thin extracellular space (label 0).
    The image has dark membranes of varying width, textured cytoplasm with
    clutter as dark as a membrane (mitochondria against the membrane, vesicle
    clusters, ER sheets, dark clouds, dark neurites), blur, noise,
    per-section brightness jitter, and the hard cases: patches of faint or
    missing membrane and, optionally, missing or misaligned sections. The
    look (contrast, membrane depth and width, clutter, blur, noise) is drawn
    afresh for every seed, around the domain's values, as real volumes
    differ from each other.

    Parameters
    ----------
    shape : tuple of 3 ints
        Size in voxels, (z, y, x). At least 4 voxels along each axis.
    domain : {"fly", "zebrafish"} or Domain
        The look and voxel size: ``"fly"`` is FIB-SEM-like at 8 nm isotropic,
        ``"zebrafish"`` serial-section-like at 36 x 12 x 12 nm.
    seed : int
        The same ``(shape, domain, seed)`` always gives byte-identical arrays.
    **overrides
        Domain parameters to change, e.g. ``membrane_gaps=0.1`` or
        ``missing_sections=0.05`` (see :class:`mbl_seg.data.Domain`).

    Returns
    -------
    SyntheticVolume
        ``raw`` (uint8), ``labels`` (uint64), ``voxel_size`` (nm), plus masks.

    Examples
    --------
    >>> vol = synthetic_volume((8, 64, 64), "fly", seed=0)
    >>> vol.raw.dtype, vol.labels.dtype, vol.voxel_size
    (dtype('uint8'), dtype('uint64'), (8.0, 8.0, 8.0))
    """
    shape = _check_shape(shape)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    dom = get_domain(domain, **overrides)
    vs = as_voxel_size(dom.voxel_size, 3)
    # one generator per stage: changing how one stage draws numbers does not
    # reshuffle the others
    geo_rng, org_rng, img_rng, art_rng, look_rng = (
        np.random.default_rng([int(seed), stage]) for stage in range(5)
    )
    dom = randomized_look(dom, look_rng)
    labels, tubes = _geometry.neurite_labels(shape, vs, dom, geo_rng)
    dist = _appearance.membrane_distance(labels, vs)
    org = _appearance.organelles(labels, dist, tubes, vs, dom, org_rng)
    img, gaps = _appearance.render(labels, dist, org, vs, dom, img_rng)
    raw = _appearance.to_uint8(img)
    sections = _appearance.section_artefacts(raw, labels, vs, dom, art_rng)
    return SyntheticVolume(raw, labels, vs, gaps, org.mitochondria, tuple(sections))


# appearance fields that vary from volume to volume, and how far (x the spread)
_LOOK = {
    "cytoplasm": 0.3, "cytoplasm_spread": 1.0, "dark_cells": 1.0, "dark_cell_depth": 0.7,
    "membrane_depth": 0.6, "membrane_width": 0.6, "mito_per_um3": 1.0, "mito_darkness": 0.6,
    "bouton_per_um3": 1.0, "texture_fine": 1.0, "specks": 1.0, "texture_coarse": 1.0,
    "blur": 1.5, "noise": 1.0, "gamma": 0.6, "clouds": 1.0, "grain": 1.0,
}


def randomized_look(domain: Domain, rng: np.random.Generator) -> Domain:
    """The domain with its appearance drawn afresh around the domain's values.

    Each field of the look (contrast, membrane depth and width, organelle
    density and darkness, texture, blur, noise, gamma) is multiplied by a
    factor ``exp(u)`` with ``u`` uniform in ``+-domain.appearance_spread``
    (times a per-field weight). Real EM volumes differ this much from each
    other; a network that saw only one look learns shortcuts such as
    "darkest = membrane" that fail on the next microscope. Geometry is not
    changed, and ``appearance_spread=0`` keeps the look fixed.

    Examples
    --------
    >>> fly = get_domain("fly")
    >>> randomized_look(fly, np.random.default_rng(0)).noise != fly.noise
    True
    >>> fixed = get_domain("fly", appearance_spread=0)
    >>> randomized_look(fixed, np.random.default_rng(0)) == fixed
    True
    """
    if domain.appearance_spread <= 0:
        return domain
    u = rng.uniform(-1.0, 1.0, size=len(_LOOK)) * domain.appearance_spread
    changed = {k: getattr(domain, k) * float(np.exp(w * x)) for (k, w), x in zip(_LOOK.items(), u)}
    changed.update({k: min(v, 1.0) for k, v in changed.items() if k in SHARE_FIELDS})
    changed["membrane_depth"] = min(changed["membrane_depth"], 0.9)
    changed["cytoplasm"] = min(changed["cytoplasm"], 0.8)
    changed["dark_cell_depth"] = min(changed["dark_cell_depth"], 0.7)
    return replace(domain, **changed)


def _check_shape(shape) -> tuple[int, int, int]:
    try:
        values = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a tuple of 3 ints (z, y, x), got {shape!r}") from None
    if len(values) != 3 or any(v != s for v, s in zip(values, shape)):
        raise ValueError(f"shape must be 3 integers (z, y, x), got {shape!r}")
    if min(values) < 4:
        raise ValueError(f"shape must be at least 4 voxels along each axis, got {values}")
    return values
