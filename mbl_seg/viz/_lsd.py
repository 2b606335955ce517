"""LSD channels as panels: offsets, variances and correlations as RGB triplets, size as a map."""

from __future__ import annotations

import numpy as np

_GROUPS_3D = (("offsets zyx", slice(0, 3)), ("variances zz yy xx", slice(3, 6)),
              ("correlations zy zx yx", slice(6, 9)), ("size", slice(9, 10)))
_GROUPS_2D = (("offsets yx", slice(0, 2)), ("variances yy xx", slice(2, 4)),
              ("correlation yx", slice(4, 5)), ("size", slice(5, 6)))


def lsd_panels(lsds: np.ndarray, prefix: str = "") -> dict[str, np.ndarray]:
    """Panels for :func:`show_panels` / :func:`slice_browser` from LSDs, one per group.

    Offsets (z, y, x), variances (zz, yy, xx) and correlations (zy, zx, yx)
    each make one RGB image (red = the first of the three); size is a map.
    0.5 in an offset channel means "no offset", so a neurite's middle is grey
    and its sides take the colour of the direction its centre lies in.

    Parameters
    ----------
    lsds : (10, Z, Y, X) or (6, Y, X) ndarray of float
        From :func:`mbl_seg.targets.lsds` or a network's LSD channels.
    prefix : str
        Put before every panel name, e.g. ``"truth "`` and ``"predicted "`` to
        show two sets side by side.

    Examples
    --------
    >>> panels = lsd_panels(np.zeros((10, 2, 4, 4), np.float32), "truth ")
    >>> {name: a.shape for name, a in panels.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'truth offsets zyx': (3, 2, 4, 4), 'truth variances zz yy xx': (3, 2, 4, 4),
     'truth correlations zy zx yx': (3, 2, 4, 4), 'truth size': (2, 4, 4)}
    """
    if not isinstance(lsds, np.ndarray) or not np.issubdtype(lsds.dtype, np.floating):
        raise TypeError(f"lsds must be a float numpy array (10, z, y, x) or (6, y, x), got "
                        f"{type(lsds).__name__} {getattr(lsds, 'dtype', '')}")
    if lsds.ndim == 4 and lsds.shape[0] == 10:
        groups = _GROUPS_3D
    elif lsds.ndim == 3 and lsds.shape[0] == 6:
        groups = _GROUPS_2D
    else:
        raise ValueError(f"lsds must be (10, z, y, x) or (6, y, x) with the channels first, "
                         f"got shape {lsds.shape}")
    panels = {}
    for name, channels in groups:
        part = lsds[channels]
        panels[prefix + name] = part[0] if part.shape[0] == 1 else part
    return panels
