"""The imaging "domains" of the synthetic data: tissue geometry and microscope look.

A domain bundles everything that makes one data set look different from
another: voxel size, neurite calibre, membrane thickness, contrast, clutter,
noise and artefacts. The course uses two, for the domain-shift lesson of
notebook 06:

* ``"fly"``: FIB-SEM of *Drosophila* neuropil, 8 nm isotropic voxels: thin
  axons beside a few wide dendrites, grainy cytoplasm with dark mitochondria,
  vesicle clusters, ER and dark clouds.
* ``"zebrafish"``: serial-section SEM of larval zebrafish, 36 x 12 x 12 nm
  (anisotropic): thinner neurites, large somata, lower contrast, thinner
  membranes in nm, more dark clutter, section-to-section jitter, occasional
  missing or shifted sections.

The numbers were calibrated against real FIB-SEM and ssTEM volumes with
``bench/realism.py`` (contrast, dark clutter, calibres, membrane profile,
spectrum; see README.md). Each volume draws its own look around these values
(``appearance_spread``, see :func:`mbl_seg.data.randomized_look`).

All lengths are in nm; all "fractions" are fractions of voxels or sections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["Domain", "DOMAINS", "SHARE_FIELDS", "get_domain"]


@dataclass(frozen=True)
class Domain:
    """Parameters of one synthetic imaging domain (lengths in nm).

    Used in: notebooks/00_setup_and_data, notebooks/06_lsds.
    """

    name: str
    voxel_size: tuple[float, float, float]
    # geometry
    radius_median: float = 70.0  # median core radius of an ordinary neurite
    radius_spread: float = 0.5  # log-normal spread of that radius
    large_area: float = 0.14  # share of the section area in large dendrites
    large_radius: tuple[float, float] = (260.0, 480.0)  # their core radius
    fill: float = 1.0  # disc area drawn per section area (packing leaves some out)
    bundle_spread: float = 0.35  # how far the main neurite direction strays from z
    crossing: float = 0.08  # share of neurites running in any direction
    wiggle: float = 0.35  # how much a neurite's direction changes per micron
    branch_probability: float = 0.35
    soma_count_per_um3: float = 0.0  # large cell bodies / glia
    soma_radius: float = 900.0
    warp_amplitude: float = 35.0  # smooth deformation of membranes
    warp_scale: float = 280.0
    extracellular_fraction: float = 0.02
    # organelles
    mito_per_um3: float = 40.0
    mito_length: tuple[float, float] = (300.0, 900.0)
    mito_radius: tuple[float, float] = (55.0, 110.0)
    bouton_per_um3: float = 5.0
    vesicle_radius: float = 20.0
    vesicles_per_bouton: int = 80
    bouton_radius: float = 110.0  # spread of a vesicle cluster
    er_fraction: float = 0.25  # share of the volume with ER-like sheets
    er_spacing: float = 120.0  # how far apart the sheets are
    er_darkness: float = 0.35
    # appearance (intensities in [0, 1] before the final uint8 scaling)
    cytoplasm: float = 0.72
    cytoplasm_spread: float = 0.05
    dark_cells: float = 0.18  # share of neurites with a dark cytoplasm
    dark_cell_depth: float = 0.45  # how much darker they are
    extracellular: float = 0.76
    membrane_depth: float = 0.6  # how much darker a full-strength membrane is
    membrane_width: float = 1.5  # half-width of the membrane profile, voxels
    mito_darkness: float = 0.8
    texture_fine: float = 0.12
    specks: float = 0.6
    texture_coarse: float = 0.05
    texture_scale: float = 60.0
    clouds: float = 0.5  # darkness of cloud-like dark patches in the cytoplasm
    cloud_scale: float = 120.0
    blur: float = 0.7  # PSF sigma, voxels (in-plane; z too if isotropic_blur)
    isotropic_blur: bool = True
    noise: float = 0.08  # white noise after the blur (shot noise, x sqrt(intensity))
    grain: float = 2.5  # noise before the blur, in units of ``noise``
    section_jitter: float = 0.02
    gamma: float = 1.0
    appearance_spread: float = 0.25  # per-volume random change of the look (0: fixed)
    # hard cases
    membrane_gaps: float = 0.04  # fraction of membrane area faint or missing
    missing_sections: float = 0.0
    misaligned_sections: float = 0.0
    misalignment: float = 48.0  # largest shift of a misaligned section


    def __post_init__(self) -> None:
        _check_domain(self)


# fields that are shares (in [0, 1]) and sizes (> 0, as are all "*_radius" fields);
# every other number must be >= 0
SHARE_FIELDS = ("large_area", "crossing", "branch_probability", "extracellular_fraction",
                "dark_cells", "dark_cell_depth", "er_fraction", "er_darkness",
                "membrane_depth", "mito_darkness", "specks", "clouds", "membrane_gaps",
                "missing_sections", "misaligned_sections")
_SIZES = ("voxel_size", "radius_median", "mito_length", "fill", "warp_scale", "er_spacing",
          "texture_scale", "cloud_scale", "membrane_width")


def _check_domain(domain: "Domain") -> None:
    """ValueError naming the field, for values that would hang or make nonsense."""
    if len(domain.voxel_size) != 3:
        raise ValueError(f"voxel_size must be 3 numbers (z, y, x) in nm, got {domain.voxel_size!r}")
    for name, value in vars(domain).items():
        if name == "name" or isinstance(value, bool):
            continue
        values = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in values):
            raise ValueError(f"domain parameter {name} must be finite numbers, got {value!r}")
        if name in SHARE_FIELDS and not 0 <= value <= 1:
            raise ValueError(f"domain parameter {name} is a share in [0, 1], got {value!r}")
        if (name in _SIZES or name.endswith("_radius")) and min(values) <= 0:
            raise ValueError(f"domain parameter {name} is a size and must be > 0, "
                             f"got {value!r}")
        if isinstance(value, tuple) and name != "voxel_size" and value[0] > value[1]:
            raise ValueError(f"domain parameter {name} is a (low, high) range, got {value!r}")
        if min(values) < 0:
            raise ValueError(f"domain parameter {name} must be >= 0, got {value!r}")


DOMAINS: dict[str, Domain] = {
    "fly": Domain(name="fly", voxel_size=(8.0, 8.0, 8.0)),
    "zebrafish": Domain(
        name="zebrafish",
        voxel_size=(36.0, 12.0, 12.0),
        radius_median=55.0,
        radius_spread=0.5,
        large_area=0.15,
        bundle_spread=0.15,
        wiggle=0.25,
        branch_probability=0.2,
        soma_count_per_um3=0.03,
        soma_radius=700.0,
        warp_amplitude=30.0,
        extracellular_fraction=0.04,
        mito_per_um3=15.0,
        mito_length=(200.0, 600.0),
        mito_radius=(60.0, 100.0),
        bouton_per_um3=4.0,
        vesicles_per_bouton=60,
        cytoplasm=0.66,
        cytoplasm_spread=0.07,
        dark_cells=0.1,
        extracellular=0.70,
        membrane_depth=0.48,
        membrane_width=0.6,
        mito_darkness=0.7,
        texture_fine=0.1,
        specks=0.5,
        texture_coarse=0.08,
        texture_scale=120.0,
        blur=0.5,
        isotropic_blur=False,
        noise=0.08,
        grain=0.8,
        section_jitter=0.05,
        gamma=1.15,
        membrane_gaps=0.06,
        missing_sections=0.01,
        misaligned_sections=0.01,
    ),
}


def get_domain(domain: str | Domain, **overrides) -> Domain:
    """Return a :class:`Domain` by name (or as given), with fields overridden.

    Parameters
    ----------
    domain : str or Domain
        ``"fly"`` or ``"zebrafish"`` (or a Domain instance).
    **overrides
        Any Domain field, e.g. ``membrane_gaps=0.2`` for more missing membranes.

    Examples
    --------
    >>> get_domain("fly").voxel_size
    (8.0, 8.0, 8.0)
    >>> get_domain("fly", membrane_gaps=0.2).membrane_gaps
    0.2
    """
    if isinstance(domain, Domain):
        base = domain
    elif isinstance(domain, str):
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; expected one of {sorted(DOMAINS)}")
        base = DOMAINS[domain]
    else:
        raise TypeError(f"domain must be a name or a Domain, got {type(domain).__name__}")
    unknown = set(overrides) - set(base.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown domain parameter(s) {sorted(unknown)}")
    return replace(base, **overrides) if overrides else base
