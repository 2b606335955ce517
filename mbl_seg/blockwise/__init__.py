"""The course's pipeline block by block, on daisy: for volumes no machine holds at once.

Five steps, each a daisy task that reads a region (its block plus context) and
writes its block, so that any number of worker processes, here or on a
cluster, can share the work:

1. ``predict``: a shipped 3D network's affinities, into a zarr array (each
   block reads its raw with the net's context; the result equals one pass
   over the whole volume);
2. ``fragments``: watershed fragments of each block (read with context,
   written without), with ids unique in the volume: block ``b``'s ids start
   above ``b * voxels per block``;
3. ``edges``: every block counts the contacts of its voxels with their
   neighbours before them (so each contact, also across a block face, is
   counted once) and stores them in one SQLite file (:mod:`mbl_seg.graphdb`);
4. ``agglomerate``: one block, the whole graph: notebook 07's agglomeration
   (:func:`mbl_seg.agglomeration.agglomerate_graph`) gives a
   fragment-to-segment table; or, with ``agglomeration="blocks"``, as runs over
   whole brains do: ``scores`` agglomerates each block with context and stores
   the merge score of every edge it owns, and ``segments`` (one block) joins the
   fragments of every edge scored below the threshold (``_agglomerate``);
5. ``relabel``: each block of fragments through the table into the
   segmentation.

Everything lives in one run directory: ``volume.zarr`` (raw, affs,
fragments, segmentations), ``graph.sqlite`` (the graph), ``run.sqlite``
(lookup tables, who did which block), ``pipeline.json`` (the
settings) and ``done/`` (daisy's record of finished blocks). A run that is
interrupted is started again with the same call: blocks already done are
skipped, and a block that was half-written is done again (its writes replace
what was there). The daisy server listens on 127.0.0.1 only.

The package's parts: ``_grid`` (the blocks), ``_directory`` (the run
directory, its settings and results), ``_stages`` (the work of one block per
step), ``_agglomerate`` (merge scores per block, the global threshold),
``_runner`` (daisy's tasks, :func:`run`, :func:`single_process`), ``_log`` (the
run's record) and ``_report`` (:func:`throughput`).

Used in: notebooks/08_scaling_up.
"""

from __future__ import annotations

from ._directory import Run
from ._grid import STAGES, BlockGrid
from ._log import BlockRecord, RunLog
from ._report import Throughput, throughput
from ._runner import HOST, run, single_process

__all__ = ["STAGES", "HOST", "BlockGrid", "BlockRecord", "Run", "RunLog", "Throughput", "run",
           "single_process", "throughput"]
