"""How agglomeration scores an edge: from the pooled statistics of its contacts, lower first.

Two regions touch on a contact face; every affinity on the face is a contact.
The region adjacency graph (:mod:`mbl_seg.rag`) keeps, per edge, the number of
contacts, the sum of their affinities and (if asked) a histogram of them; when
two regions merge, the edges to a common neighbour are pooled exactly (the
counts, sums and histograms add up). A *scoring* turns those statistics into
the edge's score; agglomeration merges the lowest score first.

A scoring is any callable ``scoring(contacts, sums, histograms) -> scores``
over arrays of edges (one row each), with an attribute ``histograms`` (True if
it reads them; they are then counted, 256 bins over [0, 1]), and optionally a
method ``one(contacts, sum, histogram_row)`` that scores a single edge faster
(the merge loop rescores one pooled edge at a time). Two come with the
course:

* :class:`Mean`: ``1 - sum / contacts``, the default (``scoring="mean"``);
* :class:`Quantile`: ``1 -`` the ``q`` quantile of the contacts
  (``scoring="quantile", quantile=q``; 0.5 is the median).

A scoring of your own is a function, e.g. one that trusts large faces more::

    def sure_of_large_faces(contacts, sums, histograms):
        return 1 - sums / contacts + 0.5 / np.sqrt(contacts)

    agglomerate(affs, fragments, thresholds=[0.5], scoring=sure_of_large_faces)

Used in: notebooks/07_agglomeration, :mod:`mbl_seg.agglomeration`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validate import as_number
from .rag import _edge_quantile, edge_quantile, quantile_of_row

__all__ = ["Mean", "Quantile", "as_scoring"]


@dataclass(frozen=True)
class Mean:
    """``1 -`` the mean affinity of an edge's contacts.

    >>> Mean()(np.array([4, 2]), np.array([3.0, 0.5]), None).tolist()
    [0.25, 0.75]
    """

    histograms = False

    def __call__(self, contacts: np.ndarray, sums: np.ndarray, histograms=None) -> np.ndarray:
        return 1.0 - np.asarray(sums, np.float64) / np.maximum(contacts, 1)

    def one(self, contacts: int, total: float, row=None) -> float:
        """The score of one edge (the merge loop's fast path)."""
        return 1.0 - total / contacts


@dataclass(frozen=True)
class Quantile:
    """``1 -`` the ``q`` quantile of an edge's contacts, read from its histogram.

    The value of rank ``min(floor(q * n), n - 1)`` among the ``n`` sorted
    contacts, as waterz defines it (:func:`mbl_seg.rag.edge_quantile`).

    >>> h = np.zeros((1, 4), np.int32); h[0, [0, 3]] = [2, 2]  # 0.125 x 2, 0.875 x 2
    >>> Quantile(0.5)(np.array([4]), np.array([2.0]), h).tolist()
    [0.125]
    """

    q: float = 0.5
    histograms = True

    def __post_init__(self) -> None:
        q = as_number(self.q, "quantile", nonnegative=True)
        if q > 1:
            raise ValueError(f"quantile must be in [0, 1], got {self.q}")
        object.__setattr__(self, "q", q)

    def __call__(self, contacts: np.ndarray, sums: np.ndarray, histograms) -> np.ndarray:
        if np.ndim(histograms) == 2:  # q was checked when this scoring was made
            return 1.0 - _edge_quantile(histograms, self.q)
        return 1.0 - edge_quantile(histograms, self.q)

    def one(self, contacts: int, total: float, row: np.ndarray) -> float:
        """The score of one edge (the merge loop's fast path)."""
        return 1.0 - quantile_of_row(row, contacts, self.q)


def as_scoring(scoring="mean", quantile: float = 0.5) -> Callable:
    """A scoring from a name ("mean", "quantile" with ``quantile``) or a callable of your own.

    >>> as_scoring("quantile", 0.75)
    Quantile(q=0.75)
    >>> as_scoring(lambda contacts, sums, histograms: 1 - sums / contacts).histograms
    False
    """
    if scoring == "mean":
        return Mean()
    if scoring == "quantile":
        return Quantile(quantile)
    if isinstance(scoring, str) or not callable(scoring):
        raise ValueError("scoring must be 'mean', 'quantile' (with quantile=...) or a function "
                         f"(contacts, sums, histograms) -> scores, got {scoring!r}")
    if not hasattr(scoring, "histograms"):
        return _Function(scoring)
    return scoring


@dataclass(frozen=True)
class _Function:
    """A scoring function of one's own, without histograms unless it says so."""

    function: Callable
    histograms = False

    def __call__(self, contacts, sums, histograms=None) -> np.ndarray:
        return np.asarray(self.function(contacts, sums, histograms), np.float64)
