"""How a volume is cut into blocks: the grid every step of the block-wise pipeline shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STAGES = ("predict", "fragments", "edges", "agglomerate", "relabel")


@dataclass(frozen=True)
class BlockGrid:
    """How a volume of ``shape`` voxels is cut into blocks of ``block`` voxels (z, y, x).

    Examples
    --------
    >>> grid = BlockGrid((100, 256, 256), (32, 128, 128))
    >>> grid.counts, len(grid)
    ((4, 2, 2), 16)
    >>> grid.index((64, 128, 0)), grid.slices(15)
    (10, (slice(96, 100, None), slice(128, 256, None), slice(128, 256, None)))
    """

    shape: tuple[int, ...]
    block: tuple[int, ...]

    def __post_init__(self) -> None:
        shape, block = tuple(int(s) for s in self.shape), tuple(int(b) for b in self.block)
        if len(shape) != len(block) or min(block, default=0) < 1 or min(shape, default=0) < 1:
            raise ValueError(f"a block grid needs a block of at least 1 voxel per axis of the "
                             f"volume, got block {self.block} for shape {self.shape}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "block", block)

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(-(-s // b) for s, b in zip(self.shape, self.block))

    def __len__(self) -> int:
        return math.prod(self.counts)

    def index(self, offset: Sequence[int]) -> int:
        """The number of the block that starts at ``offset`` (row-major over the grid)."""
        cell = tuple(int(o) // b for o, b in zip(offset, self.block))
        return int(np.ravel_multi_index(cell, self.counts))

    def slices(self, index: int) -> tuple[slice, ...]:
        """The voxels block ``index`` writes (the last blocks of an axis may be smaller)."""
        cell = [int(c) for c in np.unravel_index(int(index), self.counts)]
        return tuple(slice(c * b, min((c + 1) * b, s))
                     for c, b, s in zip(cell, self.block, self.shape))

    @property
    def id_stride(self) -> int:
        """Fragment ids of block ``b`` lie in ``(b * id_stride, (b + 1) * id_stride]``."""
        return math.prod(self.block)
