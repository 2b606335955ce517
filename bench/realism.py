"""Realism report: statistics that compare labelled EM volumes, synthetic or real (issue 8).

    python bench/realism.py                 # synthetic fly and zebrafish (seed 0)
    python bench/realism.py --ranges        # ... and fly against issue 8's acceptance ranges
    python bench/realism.py ../shared/realdata/gala_fibsem.npz:10 \\
        ../shared/realdata/isbi2012_train.npz:50,4,4

A volume is ``PATH[#KEYS][:VOXEL_SIZE]``: an ``.npz`` with arrays ``raw*``/``labels*`` (by
default every pair with the same suffix, e.g. ``raw``+``labels`` and ``raw_test``+
``labels_test``, stacked along z; ``#raw_test,labels_test`` picks pairs, joined by ``+``), or
a zarr group written by ``mbl_seg.io`` (``data/course.zarr#fly/test`` reads ``fly/test/raw``
and ``fly/test/labels`` and their voxel size). VOXEL_SIZE: nm, ``10`` or ``50,4,4`` (z, y, x).
Labels: 0 = membrane, extracellular space or unlabelled; real labels (0 on membranes) and
dense synthetic ones (touching ids) both work.

Every statistic is 2D, pooled over up to ``--sections`` evenly spaced sections:

* boundary band: label-0 pixels and every pixel within ``BAND_HALF_NM`` of the mid-line of a
  contact between two labels. A physical width rather than "pixels next to a change of
  label", which gives a 2 px band for dense labels (16 nm at 8 nm) but 3 px around a 1 px
  line of 0 (30 nm at 10 nm) and so made dense synthetic membranes look darker than they are.
  Interior: labelled pixels more than ``INTERIOR_PX`` px from the band.
* boundary/interior means, contrast-to-noise ``(interior - boundary mean) / interior std``,
  dark interior % (interior pixels darker than the mean boundary).
* profiles: 4-connected components of each label, at least ``MIN_AREA_NM2``. Diameters
  ``sqrt(4 A / pi)`` of those off the image border: median, area-weighted median. The share of
  area in "wide" profiles (inscribed circle > ``WIDE_NM``) counts border-touching ones too:
  the widest rarely fit in a 1-2 um field of view.
* membrane profile: mean intensity against distance to the nearest contact mid-line
  (``contact_distance``); width = full width at half depth, depth = 1 - minimum / plateau.
* spectrum slope: log power vs log frequency over wavelengths ``SPECTRUM_NM``.

From Python: ``sys.path.insert(0, "bench"); import realism;
realism.volume_stats(raw, labels, voxel_size)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label as connected_components

ROWS = (  # (key, row label, format), in table order
    ("boundary_interior", "boundary/interior", "{:.2f}"),
    ("contrast_to_noise", "contrast-to-noise", "{:.2f}"),
    ("dark_interior_pct", "dark interior %", "{:.1f}"),
    ("median_diameter_nm", "median diameter (nm)", "{:.0f}"),
    ("weighted_median_diameter_nm", "area-weighted median diameter (nm)", "{:.0f}"),
    ("wide_area_pct", "area in profiles > 500 nm wide %", "{:.1f}"),
    ("membrane_width_nm", "membrane width (nm)", "{:.0f}"),
    ("membrane_depth", "membrane depth", "{:.2f}"),
    ("spectrum_slope", "spectrum slope", "{:.2f}"),
)
RANGES = {  # issue 8's acceptance ranges for synthetic fly
    "boundary_interior": (0.45, 0.75), "contrast_to_noise": (1.1, 1.9),
    "dark_interior_pct": (5.0, 20.0), "median_diameter_nm": (110.0, 190.0),
    "wide_area_pct": (5.0, 60.0), "membrane_width_nm": (20.0, 50.0),
    "membrane_depth": (0.3, 0.6),
}
BAND_HALF_NM = 15.0         # boundary band: 30 nm, about a real membrane's width
INTERIOR_PX = 2             # interiors: labels eroded this far beyond the band
MIN_AREA_NM2 = 900.0        # smaller 2D components are label fragments, not profiles
WIDE_NM = 500.0             # a "wide" profile's largest inscribed circle
PROFILE_MAX_NM = 100.0      # membrane profile out to this distance from the contact
PLATEAU_NM = (60.0, 100.0)  # the profile's level far from the membrane
MAX_GAP_NM = 60.0           # a contact across a wider gap of 0 is not a membrane
SPECTRUM_NM = (300.0, 30.0)  # wavelengths of the spectrum fit
SYNTHETIC_SHAPE_YX = (256, 256)


def section_indices(n_sections: int, sections: int = 25) -> np.ndarray:
    """Up to ``sections`` evenly spaced indices out of ``range(n_sections)``."""
    return np.unique(np.linspace(0, n_sections - 1, min(sections, n_sections)).round().astype(int))


def label_edges(labels: np.ndarray) -> np.ndarray:
    """Pixels of a 2D label image that are 0 or have a 4-neighbour with another label.

    Parameters
    ----------
    labels : (Y, X) ndarray of ints

    Returns
    -------
    (Y, X) bool ndarray

    Examples
    --------
    >>> label_edges(np.array([[1, 1, 2, 2, 2]])).astype(int)
    array([[0, 1, 1, 0, 0]])
    """
    edges = labels == 0
    for axis in (0, 1):
        change = np.diff(labels, axis=axis) != 0
        lo, hi = [slice(None)] * 2, [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        edges[tuple(lo)] |= change
        edges[tuple(hi)] |= change
    return edges


def contact_distance(labels: np.ndarray, pixel_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance (nm) of every pixel to the mid-line of the nearest contact of two labels.

    The labels are grown into the 0 pixels (each to its nearest label); the mid-line is
    where grown labels meet: the interface of dense labels, the middle of a gap of 0.
    This is done on a 2x finer grid, so a 1 px line of 0 splits down its middle; a
    pixel's distance is the mean over its 4 sub-pixels of (distance to the nearest
    sub-pixel on the interface + half a sub-pixel). A contact along a pixel edge gives
    exactly 0.5, 1.5, ... px; the centre of a 1 px line of 0 gets 0.25 px.

    Returns
    -------
    distance : (Y, X) float ndarray
        nm (``pixel_nm`` per pixel); ``inf`` where the section has no contact.
    valid : (Y, X) bool ndarray
        False where the nearest mid-line point lies in a gap wider than ``MAX_GAP_NM``.
    """
    fine = np.repeat(np.repeat(labels, 2, axis=0), 2, axis=1)
    none = np.full(labels.shape, np.inf), np.zeros(labels.shape, bool)
    if not fine.any():
        return none
    gap, nearest = ndi.distance_transform_edt(fine == 0, return_indices=True)
    interface = label_edges(fine[tuple(nearest)])  # where the grown labels meet
    if not interface.any():
        return none
    dist, foot = ndi.distance_transform_edt(~interface, return_indices=True)
    wide = gap[tuple(foot)] * pixel_nm > MAX_GAP_NM  # gap width = 2 x gap (fine px of px/2)
    blocks = (labels.shape[0], 2, labels.shape[1], 2)
    distance = ((dist + 0.5) * pixel_nm / 2).reshape(blocks).mean(axis=(1, 3))
    return distance, ~wide.reshape(blocks).any(axis=(1, 3))


def profile_width_depth(distance: np.ndarray, intensity: np.ndarray,
                        count: np.ndarray | None = None) -> tuple[float, float]:
    """Full width at half depth and depth of a mean intensity profile across membranes.

    Parameters
    ----------
    distance, intensity : (N,) ndarrays
        Mean intensity at increasing (unsigned) distances from the contact, nm.
    count : (N,) ndarray, optional
        Pixels behind each point; weights the plateau.

    Returns
    -------
    width : float
        nm: twice the distance where the profile, rising from its minimum (searched
        closer than the plateau), crosses half-way to the plateau (linear interpolation).
    depth : float
        ``1 - minimum / plateau``, plateau = mean level at ``PLATEAU_NM``.

    Examples
    --------
    >>> d = np.arange(0.0, 101.0)
    >>> w, depth = profile_width_depth(d, 1 - 0.5 * np.exp(-d**2 / (2 * 10.0**2)))
    >>> round(w), round(depth, 2)  # a Gaussian's FWHM: 2.355 sigma
    (24, 0.5)
    """
    count = np.ones_like(intensity) if count is None else count
    far = (distance >= PLATEAU_NM[0]) & (distance <= PLATEAU_NM[1])
    near = np.nonzero(distance < PLATEAU_NM[0])[0]
    if not far.any() or near.size == 0:
        return np.nan, np.nan
    plateau = np.average(intensity[far], weights=count[far])
    low = near[np.argmin(intensity[near])]
    depth = float(1 - intensity[low] / plateau)
    half = (intensity[low] + plateau) / 2
    above = np.nonzero(intensity[low:] >= half)[0]
    if above.size == 0 or above[0] == 0:  # never rises, or no dip at all
        return np.nan, depth
    i = low + above[0]
    t = (half - intensity[i - 1]) / (intensity[i] - intensity[i - 1])
    return 2 * float(distance[i - 1] + t * (distance[i] - distance[i - 1])), depth


def components(labels: np.ndarray, pixel_nm: float):
    """2D profiles: 4-connected components of each label, at least ``MIN_AREA_NM2``.

    Returns (N,) arrays: area (nm^2); inscribed, the largest inscribed circle's diameter
    (nm: 2 x (largest distance to the component's own edge pixels + half a pixel));
    on_border, whether it touches the image border.
    """
    comp = connected_components(labels, background=0, connectivity=1)
    n = int(comp.max())
    area = np.bincount(comp.ravel(), minlength=n + 1)[1:] * pixel_nm**2
    deepest = np.zeros(n + 1)
    inner = (comp > 0) & ~label_edges(comp)
    np.maximum.at(deepest, comp.ravel(), ndi.distance_transform_edt(inner).ravel())
    inscribed = 2 * (deepest[1:] + 0.5) * pixel_nm
    on_border = np.isin(np.arange(1, n + 1),
                        np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
    keep = area >= MIN_AREA_NM2
    return area[keep], inscribed[keep], on_border[keep]


def spectrum_slope(raw: np.ndarray, pixel_nm: float) -> float:
    """Slope of log power against log spatial frequency of (Z, Y, X) sections.

    Each section is mean-subtracted and Hann-windowed (the image edges would add a
    spurious f^-2 component); the power is summed over sections, averaged in 15
    log-spaced rings between wavelengths ``SPECTRUM_NM`` and fitted with a line.
    """
    ny, nx = raw.shape[1:]
    sections = raw.astype(float) - raw.mean(axis=(1, 2), keepdims=True, dtype=float)
    # half of the (symmetric) spectrum is enough for a radial average
    power = (np.abs(np.fft.rfft2(sections * np.outer(np.hanning(ny), np.hanning(nx)))) ** 2
             ).sum(axis=0)
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(ny, pixel_nm), np.fft.rfftfreq(nx, pixel_nm),
                                 indexing="ij"))
    rings = np.digitize(freq, 1 / np.geomspace(*SPECTRUM_NM, 16)) - 1
    inside = (rings >= 0) & (rings < 15)
    count = np.bincount(rings[inside], None, 15)
    ok = count > 0
    if ok.sum() < 3:
        return np.nan
    mean_f = np.bincount(rings[inside], freq[inside], 15)[ok] / count[ok]
    mean_p = np.bincount(rings[inside], power[inside], 15)[ok] / count[ok]
    return float(np.polyfit(np.log(mean_f), np.log(mean_p), 1)[0])


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The smallest value at or below which half of the total weight lies."""
    if values.size == 0:
        return np.nan
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def volume_stats(raw: np.ndarray, labels: np.ndarray, voxel_size, *,
                 sections: int = 25) -> dict[str, float]:
    """The realism statistics of a labelled EM volume (see the module docstring).

    Parameters
    ----------
    raw : (Z, Y, X) ndarray
        Intensities, dark membranes (uint8 usually).
    labels : (Z, Y, X) ndarray of ints
        Neuron ids; 0 = membrane, extracellular space or unlabelled.
    voxel_size : sequence of 3 floats
        nm, (z, y, x); square pixels in-plane.
    sections : int
        Use up to this many evenly spaced sections.

    Returns
    -------
    dict
        One float per key of ``ROWS``; ``nan`` where undefined.
    """
    raw, labels = np.asarray(raw), np.asarray(labels)
    if raw.shape != labels.shape or raw.ndim != 3:
        raise ValueError(f"raw {raw.shape} and labels {labels.shape} must be the same (z, y, x)")
    vs = tuple(float(v) for v in voxel_size)
    if len(vs) != 3 or vs[1] != vs[2]:
        raise ValueError(f"voxel_size must be (z, y, x) nm with square pixels, got {vs}")
    px = vs[1]
    idx = section_indices(raw.shape[0], sections)
    n_bins = int(np.ceil(PROFILE_MAX_NM / (px / 2)))
    profile = np.zeros((3, n_bins))  # sums of distance, intensity, count per bin
    bound, inter, profiles = [], [], []
    yy, xx = np.indices(raw.shape[1:])
    to_border = np.minimum.reduce([yy, xx, yy[::-1], xx[:, ::-1]]) * px
    for z in idx:
        r, lab = raw[z].astype(float), labels[z]
        distance, valid = contact_distance(lab, px)
        band = (lab == 0) | (distance <= BAND_HALF_NM)
        interior = (lab > 0) & (ndi.distance_transform_edt(~band) > INTERIOR_PX)
        bound.append(r[band])
        inter.append(r[interior])
        profiles.append(components(lab, px))
        # a pixel nearer the image border than any contact may have its contact outside
        use = valid & (distance <= to_border) & (distance < PROFILE_MAX_NM)
        bins = (distance[use] / (px / 2)).astype(int)
        for row, weights in enumerate((distance[use], r[use], None)):
            profile[row] += np.bincount(bins, weights, n_bins)
    bound, inter = np.concatenate(bound), np.concatenate(inter)
    area, inscribed, on_border = (np.concatenate(p) for p in zip(*profiles))
    diameter = np.sqrt(4 * area[~on_border] / np.pi)
    seen = profile[2] > 0
    width, depth = profile_width_depth(*(profile[:2, seen] / profile[2, seen]), profile[2, seen])
    b_mean, i_mean = bound.mean(), inter.mean()
    return {
        "boundary_interior": b_mean / i_mean,
        "contrast_to_noise": (i_mean - b_mean) / inter.std(),
        "dark_interior_pct": 100 * np.mean(inter < b_mean),
        "median_diameter_nm": float(np.median(diameter)) if diameter.size else np.nan,
        "weighted_median_diameter_nm": weighted_median(diameter, area[~on_border]),
        "wide_area_pct": 100 * area[inscribed > WIDE_NM].sum() / area.sum(),
        "membrane_width_nm": width,
        "membrane_depth": depth,
        "spectrum_slope": spectrum_slope(raw[idx], px),
    }


def parse_spec(spec: str) -> tuple[Path, str | None, tuple[float, float, float] | None]:
    """``PATH[#KEYS][:VOXEL_SIZE]`` -> (path, keys or None, voxel size or None)."""
    path, voxel_size = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and tail and all(p.replace(".", "", 1).isdigit() for p in tail.split(",")):
        path, sizes = head, [float(p) for p in tail.split(",")]
        if len(sizes) not in (1, 3):
            raise ValueError(f"voxel size must be one number or z,y,x, got {tail!r}")
        voxel_size = tuple(sizes * 3 if len(sizes) == 1 else sizes)
    path, _, keys = path.partition("#")
    return Path(path), keys or None, voxel_size


def load_volume(spec: str) -> tuple[str, np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Read ``PATH[#KEYS][:VOXEL_SIZE]`` (module docstring): name, raw, labels, voxel_size."""
    path, keys, voxel_size = parse_spec(spec)
    name = path.stem + (f"#{keys}" if keys else "")
    if path.suffix == ".npz":
        with np.load(path) as f:
            if keys:
                pairs = [k.split(",") for k in keys.split("+")]
            else:
                pairs = [(k, "labels" + k[3:]) for k in sorted(f.files)
                         if k.startswith("raw") and "labels" + k[3:] in f.files]
            if not pairs or any(len(p) != 2 for p in pairs):
                raise ValueError(f"{path}: no raw/labels pair (arrays {f.files}); "
                                 "name them as PATH#raw,labels")
            if voxel_size is None:
                raise ValueError(f"{path}: give the voxel size, e.g. {path}:8 or {path}:50,4,4")
            raws, labs = [f[r] for r, _ in pairs], [f[lab] for _, lab in pairs]
        if len({a.shape[1:] for a in raws + labs}) > 1:
            raise ValueError(f"{path}: pairs {pairs} differ in (y, x) size; pick one with #")
        return name, np.concatenate(raws), np.concatenate(labs), voxel_size
    from mbl_seg import io

    prefix = f"{keys}/" if keys else ""
    raw_key, lab_key = keys.split(",") if keys and "," in keys else (f"{prefix}raw",
                                                                      f"{prefix}labels")
    raw, labels = io.read_volume(path, raw_key), io.read_volume(path, lab_key)
    return name, raw.data, labels.data, voxel_size or raw.voxel_size


def synthetic(domain: str, *, sections: int = 25, seed: int = 0):
    """A synthetic volume of ``sections`` x 256 x 256 voxels: (name, raw, labels, voxel size)."""
    from mbl_seg.data import synthetic_volume

    vol = synthetic_volume((max(sections, 4), *SYNTHETIC_SHAPE_YX), domain, seed=seed)
    return f"synthetic {domain}", vol.raw, vol.labels, vol.voxel_size


def format_table(columns: dict[str, dict], *, ranges: bool = False) -> str:
    """A markdown table: a row per statistic, a column per volume (name -> ``volume_stats``
    plus ``voxel_size`` and ``sections``); ``ranges`` adds "synthetic fly" vs ``RANGES``."""
    header = ["statistic", *columns] + (["fly vs issue 8 range"] if ranges else [])
    rows = [["voxel size (nm)", *("x".join(f"{v:g}" for v in c["voxel_size"])
                                  for c in columns.values())],
            ["sections", *(str(c["sections"]) for c in columns.values())]]
    rows = [row + [""] * ranges for row in rows]
    for key, label, fmt in ROWS:
        row = [label, *(fmt.format(c[key]) for c in columns.values())]
        if ranges:
            lo, hi = RANGES.get(key, (None, None))
            fly = columns["synthetic fly"][key]
            row.append("" if lo is None else
                       f"{'in range' if lo <= fly <= hi else 'OUT'} ({lo:g}-{hi:g})")
        rows.append(row)
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rows = [header, ["-" * w for w in width], *rows]
    return "\n".join("| " + " | ".join(c.ljust(w) for c, w in zip(r, width)) + " |"
                     for r in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="volumes: PATH[#KEYS][:VOXEL_SIZE], e.g. gala_fibsem.npz:10, "
               "isbi2012_train.npz:50,4,4, data/course.zarr#fly/test")
    parser.add_argument("volumes", nargs="*", help="labelled volumes (.npz or zarr group)")
    parser.add_argument("--sections", type=int, default=25, help="sections per volume")
    parser.add_argument("--synthetic", nargs="*", default=["fly", "zebrafish"],
                        help="synthetic domains to add as columns (none: --synthetic)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic volumes")
    parser.add_argument("--ranges", action="store_true",
                        help="check synthetic fly against issue 8's acceptance ranges")
    args = parser.parse_args(argv)
    # "--synthetic PATH ..." swallows the paths that follow it: give them back
    paths = [d for d in args.synthetic if any(c in d for c in "./:#")]
    args.volumes = paths + args.volumes
    domains = dict.fromkeys([d for d in args.synthetic if d not in paths] + ["fly"] * args.ranges)
    columns = {}
    for source in [*domains, *args.volumes]:  # one volume in memory at a time
        name, raw, labels, voxel_size = (synthetic(source, sections=args.sections, seed=args.seed)
                                         if source in domains else load_volume(source))
        n = len(section_indices(raw.shape[0], args.sections))
        columns[name] = {**volume_stats(raw, labels, voxel_size, sections=args.sections),
                         "voxel_size": voxel_size, "sections": f"{n} of {raw.shape[0]}"}
    print(format_table(columns, ranges=args.ranges) if columns else "nothing to measure")


if __name__ == "__main__":
    main()
