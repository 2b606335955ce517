"""mbl_seg: the library behind a hands-on course on neuron segmentation in EM.

Conventions (the same everywhere in the course):

* axis order ``(z, y, x)`` for volumes, ``(c, z, y, x)`` for multi-channel
  arrays, ``(b, c, z, y, x)`` for batches; never x, y, z;
* ``voxel_size`` and ``offset`` in nm, in the same (z, y, x) order;
* labels and fragments are ``uint64`` with 0 = background / unknown
  (ignored by the metrics); raw EM is ``uint8``;
* affinities are ``float32`` with 1 = same object; boundaries ``float32``
  with 1 = boundary.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mbl-seg")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from . import (  # noqa: E402
    checkpoints,
    checks,
    data,
    env,
    errors,
    evaluate,
    features,
    io,
    losses,
    malis,
    models,
    pipeline,
    pixel_classifier,
    predict,
    segment,
    targets,
    train,
    viz,
)

__all__ = ["checkpoints", "checks", "data", "env", "errors", "evaluate", "features", "io", "losses", "malis", "models",
           "pipeline", "pixel_classifier", "predict", "segment", "targets", "train", "viz",
           "__version__"]
