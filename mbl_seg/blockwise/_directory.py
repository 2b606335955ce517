"""The run directory: its settings (the run's identity), arrays, finished steps, results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..graphdb import GraphDB
from ._grid import STAGES
from ._log import BlockRecord, RunLog

_SETTINGS = "pipeline.json"


class Run(NamedTuple):
    """What :func:`run` made: where, the run's number, and daisy's account of each task."""

    directory: Path
    run: int
    seconds: float
    states: dict
    segmentation_name: str

    @property
    def db(self) -> GraphDB:
        """The region graph the run gathered."""
        return GraphDB(self.directory / "graph.sqlite")

    @property
    def log(self) -> RunLog:
        """The run's record: its lookup tables, which worker did which block when."""
        return RunLog(self.directory / "run.sqlite")

    def array(self, name: str):
        """An array of the run's ``volume.zarr`` ("raw", "affs", "fragments", a segmentation)."""
        import zarr

        return zarr.open_group(str(self.directory / "volume.zarr"), mode="r")[name]

    def segmentation(self) -> np.ndarray:
        return self.array(self.segmentation_name)[...]

    def blocks(self) -> list[BlockRecord]:
        """Which worker did which block of which task in this run."""
        return self.log.block_log(run=self.run)



def _settings(network: str, block_shape, context, min_size: int, cut: float | None, voxel_size,
              shape, checksum: str, histograms: bool) -> dict:
    return {"network": network, "block_shape": list(block_shape), "context": list(context),
            "min_size": min_size, "cut": cut, "voxel_size": list(voxel_size),
            "shape": list(shape),
            "raw_checksum": checksum, "edge_histograms": histograms}


def _check_settings(directory: Path, settings: dict) -> dict:
    """Write the run's settings, or refuse a directory made with other ones (nothing is lost).

    Returns the settings the directory holds. Edges stored with their affinity
    histograms serve every scoring; edges stored without them serve mean scoring only.
    """
    path = directory / _SETTINGS
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("edge_histograms") and not settings["edge_histograms"]:
            settings = {**settings, "edge_histograms": True}  # mean scoring on them is fine
        if settings["edge_histograms"] and old.get("edge_histograms") is False:
            raise ValueError(f"{directory} holds a run whose edges were stored without their "
                             "affinity histograms (it was made with scoring='mean'), and "
                             "scoring='quantile' needs them: run it in a new directory")
        differ = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in settings.items()
                  if old.get(k) != v]
        if differ:
            raise ValueError(f"{directory} holds a run made with other settings ("
                             + "; ".join(differ) + "). Its results are kept: pass a new "
                             "directory for these settings, or delete that one yourself.")
        return old
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1) + "\n")
    return settings


def _prepare_arrays(directory: Path, raw: np.ndarray, voxel_size, block, threshold_name: str):
    """The run's zarr arrays, made once (chunks = blocks, so workers never share a chunk)."""
    import zarr

    group = zarr.open_group(str(directory / "volume.zarr"), mode="a")
    attrs = {"voxel_size": list(voxel_size), "offset": [0.0] * 3, "axes": ["z", "y", "x"]}
    if isinstance(raw, np.ndarray) and "raw" not in group:  # a zarr array is read in place
        array = group.create_array("raw", shape=raw.shape, dtype="uint8", chunks=block,
                                   dimension_names=("z", "y", "x"), attributes=attrs)
        array[...] = raw
    # a raw of another volume cannot be there: pipeline.json holds its checksum, and
    # _check_settings refused the directory if it differed
    shape = raw.shape
    wanted = {"affs": ((3, *shape), "float32", (3, *block), ("c", "z", "y", "x")),
              "fragments": (shape, "uint64", block, ("z", "y", "x")),
              threshold_name: (shape, "uint64", block, ("z", "y", "x"))}
    for name, (ashape, dtype, chunks, dims) in wanted.items():
        if name not in group:
            group.create_array(name, shape=ashape, dtype=dtype, chunks=chunks, fill_value=0,
                               dimension_names=dims,
                               attributes={**attrs, "axes": list(dims)})



_DONE = "stages_done.json"  # the steps every block of which finished, in the run directory


def _check_prerequisites(directory: Path, log: RunLog, stages: list[str], name: str) -> None:
    """Refuse steps whose inputs no earlier call made (up front, not in a worker)."""
    path = directory / _DONE
    done = set(json.loads(path.read_text())) if path.is_file() else set()
    for stage in stages:
        if stage == "relabel" and "agglomerate" not in stages:
            try:
                log.read_lookup(name)
            except KeyError:
                raise ValueError(f"stage 'relabel' needs the agglomeration {name!r} of this "
                                 f"directory, and {directory} has none: add 'agglomerate' to "
                                 "stages") from None
            continue
        before = [s for s in STAGES[:STAGES.index(stage)] if s not in ("agglomerate", "relabel")]
        missing = [s for s in before if s not in stages and s not in done]
        if missing:
            raise ValueError(f"stage {stage!r} needs {missing} done first, and {directory} has "
                             f"not finished them: add them to stages (done there: "
                             f"{sorted(done) or 'nothing'})")


def _record_done(directory: Path, stages: list[str]) -> None:
    path = directory / _DONE
    done = set(json.loads(path.read_text())) if path.is_file() else set()
    done |= {s for s in stages if s not in ("agglomerate", "relabel")}
    path.write_text(json.dumps(sorted(done, key=STAGES.index)) + "\n")
