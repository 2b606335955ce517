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

# Sub-modules load on first use (PEP 562): ``import mbl_seg`` stays cheap, and
# the ground floor (data, io, targets, ...) never pulls in torch, numba or matplotlib.
_SUBMODULES = (
    "agglomeration", "blockwise", "checkpoints", "checks", "cli", "data", "env", "errors",
    "evaluate", "features", "graphdb", "hosted", "io", "leaderboard", "losses", "malis",
    "models", "notebooks", "pipeline", "pixel_classifier", "predict", "rag", "segment",
    "supervoxels", "targets", "torch_targets", "train", "viz", "zendo",
)

__all__ = [*_SUBMODULES, "__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'mbl_seg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
