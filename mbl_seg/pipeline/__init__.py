"""Training data: random patches of a volume, augmented, with targets computed on the fly.

Two ways to make batches for :func:`mbl_seg.train.train`:

* :func:`batch_maker` (notebooks 02-04): 2D (or simple 3D) crops of one
  in-memory volume with flips and intensity changes, made on a thread;
* the 3D pipeline (notebook 05): a :class:`Pipeline` of sources (course
  datasets, numpy arrays, zarr, CREMI hdf5), mostly-labelled random
  locations, augmentations (:class:`Elastic`, :class:`MirrorTranspose`,
  :class:`Intensity`, :class:`MissingSections`, :class:`ShiftedSections`) and
  targets (:class:`Affinities`, :class:`LSDs`, with their loss masks), run by DataLoader
  workers through :class:`BatchSource` or :func:`make_loader`, with the time
  per stage (:class:`StageTimes`).

Arrays are channels first, ``(c, z, y, x)``, batches ``(b, c, z, y, x)``;
``voxel_size`` in nm (z, y, x). Sample ``i`` of seed ``s`` depends on ``(s, i)``
only: the same in every run, whatever the number of workers.

Importing this package does not import torch (``predict`` uses it, and cheap
imports matter): ``PipelineDataset``, ``collate``, ``pack``, ``unpack``, ``make_loader`` and
``BatchSource`` load :mod:`mbl_seg.pipeline.dataset` on first use.

Example: train a 3D U-Net on the fly domain::

    from mbl_seg.data import load_dataset
    from mbl_seg.pipeline import (Pipeline, Source, Elastic, MirrorTranspose, Intensity,
                                  Affinities, BatchSource)
    pipe = Pipeline(Source.from_dataset(load_dataset("fly/train")), patch_shape=(32, 128, 128),
                    augment=[Elastic(), MirrorTranspose(), Intensity()], targets=Affinities())
    result = train(model, BatchSource(pipe, batch_size=1, num_workers=2), loss_fn,
                   iterations=1000, checkpoint="runs/unet3d")

Used in: notebooks/02_deep_boundaries, 03_affinities, 04_malis, 05_3d_unet, 06_lsds.
"""

from ._batches import augment, batch_maker, intensity_augment, normalize, random_crop
from .transforms import Intensity, MirrorTranspose, MissingSections, ShiftedSections
from .elastic import Elastic, displacement_field
from .profile import STAGES, StageTimes
from .samples import Affinities, LSDs, Pipeline
from .sources import Sample, Source

_TORCH_NAMES = ("PipelineDataset", "collate", "pack", "unpack", "make_loader", "BatchSource")

__all__ = ["normalize", "random_crop", "augment", "intensity_augment", "batch_maker",
           "Source", "Sample", "Pipeline", "Affinities", "LSDs", "Elastic", "displacement_field",
           "MirrorTranspose", "Intensity", "MissingSections", "ShiftedSections",
           "STAGES", "StageTimes", *_TORCH_NAMES]


def __getattr__(name: str):
    if name in _TORCH_NAMES:  # torch is imported only when the DataLoader side is used
        from . import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'mbl_seg.pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
