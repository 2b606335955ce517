"""Self-checks: call them on your own implementation to get "correct" or a specific hint.

Each check runs your function on small cases whose answers are known. When an
answer is wrong, it compares your answers with what typical mistakes would
give, to tell you which mistake it looks like. A check prints its verdict and
returns it as a :class:`CheckResult` (truthy when passed).

One module per lesson; every check is importable from here::

    from mbl_seg.checks import check_voi_from_table

Used in: every exercise notebook.
"""

from ._core import CheckResult
from .affinities import check_affinities
from .agglomeration import check_merge_edges
from .blockwise import check_overhead, check_read_region
from .daisy_task import check_smoothing_task
from .features import check_gradient_magnitude, check_hessian_eigenvalues
from .losses import check_balance_weights
from .lsds import check_centre_offsets, check_mtlsd_loss
from .malis import check_malis_pair_counts, check_maximin_edge
from .metrics import check_arand_from_table, check_voi_from_table
from .models import check_center_crop, check_unet_output_size
from .own_data import check_to_network_grid
from .require import ExerciseNotDone, require
from .results import expect_between, expect_equal, expect_less
from .segment import check_seeded_watershed
from .volumes import check_missing_sections, check_output_shape_3d, check_scan_blocks
from .zendo import check_zendo_rule

__all__ = [
    "CheckResult", "check_voi_from_table", "check_arand_from_table", "check_hessian_eigenvalues",
    "check_gradient_magnitude", "check_seeded_watershed", "check_center_crop",
    "check_unet_output_size", "check_balance_weights", "check_maximin_edge",
    "check_malis_pair_counts", "check_affinities", "expect_between", "expect_less",
    "require", "ExerciseNotDone", "expect_equal", "check_output_shape_3d", "check_missing_sections",
    "check_scan_blocks", "check_centre_offsets", "check_mtlsd_loss", "check_merge_edges",
    "check_read_region", "check_overhead", "check_smoothing_task", "check_zendo_rule",
    "check_to_network_grid",
]
