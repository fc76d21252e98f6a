"""One-to-one assignment of scored pairs, and match bands.

Greedy by descending score with deterministic ties (lower A row, then lower B row, first):
the result is the same as taking pairs one by one in that order and keeping each whose rows
are both still free. It is computed in rounds, vectorised: every pair that is the first
remaining choice of both its A row and its B row is kept (greedy would keep it too), then
pairs touching a kept row are dropped.
"""

from __future__ import annotations

import numpy as np

from ..format.links import BELOW, MATCH, POSSIBLE
from .score import Pairs

__all__ = ["band_labels", "review_floor", "solve_one_to_one"]


def _first_per_key(keys: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each key (keys in rank order)."""
    _, first = np.unique(keys, return_index=True)
    return first


def solve_one_to_one(pairs: Pairs) -> Pairs:
    """Greedy one-to-one links: descending score, ties to the lower ``i`` then ``j``."""
    if not len(pairs):
        return pairs
    order = np.lexsort((pairs.j, pairs.i, -pairs.score))
    i, j = pairs.i[order], pairs.j[order]
    alive = np.arange(len(order))
    taken = np.zeros(len(order), dtype=bool)
    while len(alive):
        ai, aj = i[alive], j[alive]
        mutual = np.intersect1d(_first_per_key(ai), _first_per_key(aj), assume_unique=True)
        chosen = alive[mutual]
        taken[chosen] = True
        used_i = np.isin(ai, i[chosen])
        used_j = np.isin(aj, j[chosen])
        alive = alive[~(used_i | used_j)]
    keep = order[taken]
    keep = keep[np.lexsort((pairs.j[keep], pairs.i[keep], -pairs.score[keep]))]
    return Pairs(pairs.i[keep], pairs.j[keep], pairs.score[keep])


def review_floor(threshold: float, review_width: float) -> float:
    """Lowest score of the ``possible`` band, rounded so 0.8 - 0.1 is 0.7, not 0.7000000000000001."""
    return round(threshold - review_width, 9)


def band_labels(score: np.ndarray, *, threshold: float, review_width: float) -> np.ndarray:
    """``match`` at or above the threshold, ``possible`` within ``review_width`` below it, else ``below``."""
    out = np.full(len(score), BELOW, dtype=object)
    out[score >= review_floor(threshold, review_width)] = POSSIBLE
    out[score >= threshold] = MATCH
    return out
