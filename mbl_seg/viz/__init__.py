"""Figures: EM sections with labels overlaid, side-by-side panels, a slice browser.

A label's colour is a hash of its id, so neuron 17 has the same colour in every
panel and figure; label 0 (background / unknown) is transparent. Volumes are
(z, y, x), multi-channel arrays (c, z, y, x), ``voxel_size`` in nm (z, y, x).
Functions that make a figure return it: end the notebook line with ``;`` so
it is not shown twice.

Used in: notebooks/00_setup_and_data and every later notebook.
"""

from ._agglomeration import plot_split_merge, threshold_explorer
from ._batch import show_batch
from ._blockwise import plot_block_grid, plot_timeline
from ._browser import slice_browser
from ._colors import label_colors, label_rgba, matched_labels
from ._errors import error_map, show_errors
from ._lsd import lsd_panels
from ._panels import overlay, show_panels
from ._training import plot_losses
from ._zendo import draw_scenes, zendo_game

__all__ = ["label_colors", "label_rgba", "matched_labels", "overlay", "show_panels",
           "slice_browser", "error_map", "show_errors", "plot_losses", "show_batch", "lsd_panels",
           "plot_split_merge", "threshold_explorer", "plot_block_grid", "plot_timeline",
           "draw_scenes", "zendo_game"]
