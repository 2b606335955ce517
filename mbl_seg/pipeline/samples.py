"""A 3D training sample from start to end: location, augmentations, targets.

:class:`Pipeline` draws sample ``i`` of seed ``s`` from
``np.random.default_rng([s, i])`` only: a random location that is mostly
labelled, read with the context the first augmentation needs (elastic
deformation), then each augmentation in order, then the targets computed
from the augmented labels. Whatever process or worker makes sample ``i``, it
is the same sample; that is what makes batches reproducible and resuming a
training run exact.

A sample is a dict of numpy arrays, channels first: ``raw`` (1, z, y, x)
float32, ``labels`` (1, z, y, x) uint64, ``mask`` (1, z, y, x) float32 (1 where
the ground truth is known), and what the targets add, e.g. ``affs`` (c, z, y, x)
float32 and ``affs_mask``, ``lsds`` (10, z, y, x) and ``lsds_mask``.

Used in: notebooks/05_3d_unet, 06_lsds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from .._validate import as_number, as_plain
from scipy import ndimage

from ..targets import affinities, affinity_mask, as_offsets, lsd_context, lsds, nearest_offsets
from .profile import _Clock
from .sources import Sample, Source

__all__ = ["Affinities", "LSDs", "Pipeline"]


@dataclasses.dataclass(frozen=True)
class Affinities:
    """Affinity targets and their loss mask from a sample's labels (a picklable target step).

    ``Affinities(offsets)(sample) -> {"affs": (c, z, y, x), "affs_mask": (c, z, y, x)}``,
    float32. The mask is 1 for edges whose two voxels are both known (see
    :func:`mbl_seg.targets.affinity_mask`): edges leaving the sample, and
    voxels padded by the source, elastic deformation or shifted sections, get 0.

    Parameters
    ----------
    offsets : sequence of (dz, dy, dx), optional
        Default: the nearest neighbours, :func:`mbl_seg.targets.nearest_offsets`.
    zero_is_unknown : bool
        Treat label 0 as "not annotated" (masked) instead of background (affinity 0).
    key : str
        Name of the entry; the mask is ``key + "_mask"``.

    Examples
    --------
    >>> labels = np.array([[[1, 1, 2]]], np.uint64)
    >>> s = Sample(np.zeros((1, 1, 3), np.float32), labels, np.ones((1, 1, 3), bool),
    ...            (8, 8, 8))
    >>> Affinities([(0, 0, -1)])(s)["affs"]
    array([[[[0., 1., 0.]]]], dtype=float32)
    """

    offsets: tuple[tuple[int, int, int], ...] | None = None
    zero_is_unknown: bool = False
    key: str = "affs"

    def __post_init__(self) -> None:
        offsets = nearest_offsets(3) if self.offsets is None else as_offsets(self.offsets, 3)
        object.__setattr__(self, "offsets", tuple(offsets))
        if not isinstance(self.key, str) or not self.key:
            raise TypeError(f"key must be a non-empty name, got {self.key!r}")

    def __call__(self, sample: Sample) -> dict[str, np.ndarray]:
        known = sample.known & (sample.labels != 0) if self.zero_is_unknown else sample.known
        return {self.key: affinities(sample.labels, self.offsets),
                f"{self.key}_mask": affinity_mask(sample.shape, self.offsets, known=known)}


@dataclasses.dataclass(frozen=True)
class LSDs:
    """Local shape descriptor targets and their loss mask (a picklable target step).

    ``LSDs(sigma=80)(sample) -> {"lsds": (10, z, y, x), "lsds_mask": (1, z, y, x)}``,
    float32; see :func:`mbl_seg.targets.lsds`.

    A voxel's descriptors summarise its object within a window of a few
    sigma, and the sample holds only part of each object: near the sample's
    edge, or near voxels the source or an augmentation padded, the window is
    cut. The mask is 1 only for voxels whose window is known ``reach`` sigmas
    deep along every axis (the default, 2 sigma, leaves out less than 2.5 %
    of the window's weight per side), so the loss never teaches a cut window.
    Place the network's output at least that far inside the sample (the
    course networks' valid outputs are).

    Parameters
    ----------
    sigma : float
        Window width in nm.
    downsample : int
        Passed to :func:`mbl_seg.targets.lsds` (2: about 8 times faster).
    reach : float
        How many sigmas of known ground truth the mask asks for around a voxel.
    zero_is_unknown : bool
        Treat label 0 as "not annotated" (masked) instead of background.
    key : str
        Name of the entry; the mask is ``key + "_mask"``.
    """

    sigma: float = 80.0
    downsample: int = 2
    reach: float = 2.0
    zero_is_unknown: bool = False
    key: str = "lsds"

    def __post_init__(self) -> None:
        as_number(self.sigma, "sigma", positive=True, unit="nm")
        as_number(self.downsample, "downsample", integer=True, positive=True)
        as_number(self.reach, "reach", nonnegative=True)
        if not isinstance(self.key, str) or not self.key:
            raise TypeError(f"key must be a non-empty name, got {self.key!r}")

    def __call__(self, sample: Sample) -> dict[str, np.ndarray]:
        known = sample.known & (sample.labels != 0) if self.zero_is_unknown else sample.known
        descriptors = lsds(sample.labels, sigma=self.sigma, voxel_size=sample.voxel_size,
                           downsample=self.downsample)
        margin = [int(self.reach * self.sigma / v) for v in sample.voxel_size]
        whole = ndimage.minimum_filter(known.astype(np.uint8), size=[2 * m + 1 for m in margin],
                                       mode="constant", cval=0)
        return {self.key: descriptors, f"{self.key}_mask": whole[None].astype(np.float32)}

    def context(self, voxel_size) -> tuple[int, ...]:
        """Voxels per axis the whole window reaches (3 sigma): where LSDs of a crop are exact."""
        return lsd_context(self.sigma, voxel_size, downsample=self.downsample)


class Pipeline:
    """Training samples from sources: random mostly-labelled locations, augmentations, targets.

    Parameters
    ----------
    sources : Source, course dataset, or a sequence of them
        Where samples come from (a location is drawn in a source picked in
        proportion to its labelled volume); all with the same voxel size.
    patch_shape : tuple of 3 ints
        (z, y, x) voxels of every sample.
    augment : sequence of callables ``(Sample, rng) -> Sample``
        Applied in order, e.g. ``[Elastic(), MirrorTranspose(), Intensity(),
        MissingSections()]``. The first may ask for context with a
        ``margin(voxel_size)`` method (as :class:`Elastic` does); it is read
        around the patch and must be cropped away by that augmentation.
    targets : callable ``(Sample) -> dict``, or a sequence of them
        Entries computed from the augmented sample; default :class:`Affinities`.
        A picklable object (a class with ``__call__``, not a lambda), so that
        DataLoader workers can use it.
    min_labelled : float in [0, 1]
        A location is accepted only if at least this fraction of its voxels is
        labelled (nonzero and in the mask)...
    max_tries : int
        ... drawing at most this many locations; then the best one is taken.

    Examples
    --------
    >>> labels = np.ones((8, 32, 32), np.uint64); labels[:, :, 16:] = 2
    >>> source = Source((labels * 100).astype(np.uint8), labels, voxel_size=(40, 8, 8))
    >>> pipe = Pipeline(source, patch_shape=(4, 16, 16))
    >>> {k: v.shape for k, v in pipe.sample(0, seed=1).items()}
    {'raw': (1, 4, 16, 16), 'labels': (1, 4, 16, 16), 'mask': (1, 4, 16, 16), \
'affs': (3, 4, 16, 16), 'affs_mask': (3, 4, 16, 16)}
    """

    def __init__(self, sources, *, patch_shape: Sequence[int],
                 augment: Sequence[Callable] = (),
                 targets: Callable | Sequence[Callable] | None = None,
                 min_labelled: float = 0.5, max_tries: int = 50):
        self.sources = _as_sources(sources)
        self.voxel_size = self.sources[0].voxel_size
        if np.ndim(patch_shape) != 1 or len(patch_shape) != 3:
            raise ValueError(f"patch_shape must be (z, y, x) voxels, got {patch_shape!r}")
        self.patch_shape = tuple(as_number(n, "patch_shape entries", integer=True,
                                           positive=True) for n in patch_shape)
        self.augment = _as_steps(augment, "augment")
        self.targets = _as_steps(Affinities() if targets is None else targets, "targets")
        self.min_labelled = as_number(min_labelled, "min_labelled", nonnegative=True)
        if self.min_labelled > 1:
            raise ValueError(f"min_labelled is a fraction in [0, 1], got {min_labelled}")
        self.max_tries = as_number(max_tries, "max_tries", integer=True, positive=True)
        self.margin = self._margin()
        self._weights = self._source_weights()

    def __repr__(self) -> str:
        steps = ", ".join(map(repr, self.augment))
        return (f"Pipeline({len(self.sources)} source(s), patch_shape={self.patch_shape}, "
                f"voxel_size={self.voxel_size}, augment=[{steps}], targets={self.targets})")

    def sample(self, index: int, *, seed: int = 0,
               times: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Sample ``index`` of ``seed``: a dict of (c, z, y, x) numpy arrays.

        ``times``, a float array of ``len(STAGES)``, gets the milliseconds of
        each stage added (see :mod:`mbl_seg.pipeline.profile`).
        """
        index = as_number(index, "index", integer=True, nonnegative=True)
        seed = as_number(seed, "seed", integer=True, nonnegative=True)
        rng = np.random.default_rng([seed, index])
        clock = _Clock(times)
        source, start = self._locate(rng)
        sample = source.read([s - m for s, m in zip(start, self.margin)],
                             [n + 2 * m for n, m in zip(self.patch_shape, self.margin)])
        clock.stop("sampling")
        for step in self.augment:
            sample = step(sample, rng)
            if not isinstance(sample, Sample):
                raise TypeError(f"{step!r} must return a Sample, got {type(sample).__name__}")
            clock.stop(getattr(step, "stage", "other"))
        if sample.shape != self.patch_shape:
            raise ValueError(f"the augmentations made a sample of shape {sample.shape}, not "
                             f"patch_shape {self.patch_shape}: only the first may crop")
        out = {"raw": sample.raw[None], "labels": sample.labels[None],
               "mask": sample.known[None].astype(np.float32)}
        for step in self.targets:
            for key, value in step(sample).items():
                if key in out:
                    raise ValueError(f"two steps make the entry {key!r}; give one another key")
                out[key] = value
        clock.stop("targets")
        return out

    @property
    def config(self) -> dict:
        """What tells this pipeline's samples from another's (plain values, for checkpoints)."""
        prints = [source.fingerprint() for source in self.sources]
        return {"pipeline": "mbl_seg.pipeline.Pipeline/1",
                "raw": [p["raw"] for p in prints], "labels": [p["labels"] for p in prints],
                "voxel_size": list(self.voxel_size), "patch_shape": list(self.patch_shape),
                "min_labelled": self.min_labelled, "max_tries": self.max_tries,
                "augment": [_describe(step) for step in self.augment],
                "targets": [_describe(step) for step in self.targets]}

    def _locate(self, rng: np.random.Generator) -> tuple[Source, tuple[int, ...]]:
        """A source and the start of a patch in it with enough labels (or the best of the tries)."""
        best = (-1.0, None, None)
        for _ in range(self.max_tries):
            source = self.sources[int(rng.choice(len(self.sources), p=self._weights))]
            lo, hi = source.labelled_box
            start = tuple(int(rng.integers(a, b - n + 1))
                          for a, b, n in zip(lo, hi, self.patch_shape))
            fraction = source.labelled_fraction(start, self.patch_shape)
            if fraction >= self.min_labelled:
                return source, start
            best = max(best, (fraction, source, start), key=lambda b: b[0])
        return best[1], best[2]

    def _margin(self) -> tuple[int, int, int]:
        for later in self.augment[1:]:
            if hasattr(later, "margin"):
                raise ValueError(f"{later!r} needs context (it has a margin): put it first "
                                 "in augment, where the context is read")
        first = self.augment[0] if self.augment else None
        if first is None or not hasattr(first, "margin"):
            return (0, 0, 0)
        return tuple(int(m) for m in first.margin(self.voxel_size))

    def _source_weights(self) -> np.ndarray:
        sizes = []
        for source in self.sources:
            lo, hi = source.labelled_box
            if any(b - a < n for a, b, n in zip(lo, hi, self.patch_shape)):
                raise ValueError(f"patch_shape {self.patch_shape} does not fit in the labelled "
                                 f"part of {source!r} (voxels {lo} to {hi})")
            sizes.append(float(np.prod([b - a for a, b in zip(lo, hi)])))
        return np.array(sizes) / sum(sizes)


def _as_sources(sources) -> list[Source]:
    items = [sources] if isinstance(sources, Source) or hasattr(sources, "raw") else sources
    try:
        items = list(items)
    except TypeError:
        raise TypeError("sources must be a Source, a course dataset or a list of them, got "
                        f"{type(sources).__name__}") from None
    if not items:
        raise ValueError("sources is empty: give at least one Source")
    items = [s if isinstance(s, Source) else Source.from_dataset(s) for s in items]
    sizes = {s.voxel_size for s in items}
    if len(sizes) > 1:
        raise ValueError(f"all sources must have the same voxel size, got {sorted(sizes)}: "
                         "a batch mixes them, and the network has one voxel size")
    return items


def _as_steps(steps, name: str) -> tuple:
    steps = (steps,) if callable(steps) else tuple(steps)
    for step in steps:
        if not callable(step):
            raise TypeError(f"{name} must be callables (small classes with __call__), "
                            f"got {step!r}")
    return steps


def _describe(step) -> dict:
    """A step's class and settings as plain values, e.g. ``{"name": "Elastic", "sigma": [...]}``."""
    if dataclasses.is_dataclass(step):
        settings = dataclasses.asdict(step)
    else:  # a user's own step: its attributes, if it has any
        settings = {k: v for k, v in getattr(step, "__dict__", {}).items() if k[0] != "_"}
    return {"name": type(step).__qualname__, **as_plain(settings)}
