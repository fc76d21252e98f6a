"""Dice similarity of Bloom filters over tiles.

Dice = 2|A and B| / (|A| + |B|). Popcounts of every filter are computed once. A kernel scores
one tile of A against one tile of B; only pairs at or above a floor are kept (sparse
``i, j, score``), and each A record's best scores are tracked (the runner-up estimates
how high a non-match scores, which the threshold model uses). Memory is bounded by the tile
size, never by ``len(a) * len(b)``.

Scores are computed in float64 from exact integer counts, so every kernel returns exactly
the same numbers; pairs are returned sorted by ``(i, j)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..compiled import resolve_kernel
from ..defaults import KERNEL
from ..format.encoded import part_ranges, popcounts
from ..progress import progress
from .distribute import Runner, part_rows, task_threads

__all__ = ["TOP_K", "Pairs", "ScoreMerge", "Scores", "candidate_scores", "dice_pairs", "dice_pairs_parts",
           "dice_reference"]


@dataclass(frozen=True)
class Pairs:
    """Sparse pairs: row ``i`` of A, row ``j`` of B and their Dice ``score``."""

    i: np.ndarray
    j: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.score)

    def select(self, mask: np.ndarray) -> Pairs:
        return Pairs(self.i[mask], self.j[mask], self.score[mask])

    @classmethod
    def empty(cls) -> Pairs:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


@dataclass(frozen=True)
class Scores:
    """Kept pairs and, for every A record, its best and runner-up scores over all of B."""

    pairs: Pairs
    best: np.ndarray  # (len(a), TOP_K): each A record's highest Dice over all of B, descending (0 if fewer)

    kernel: str
    comparisons: int
    # Each A row's best scores and their B rows (score desc, then B row asc; -1: none), as many
    # as the pairs kept per row and TOP_K need: what scores of parts of B merge on.
    top: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)


class ScoreMerge:
    """Scores of A against parts of B (disjoint rows), merged as they arrive, in any order, into
    exactly the :class:`Scores` that one pass over all of B gives.

    Each A row keeps its best few scores and B rows (ties: the lower B row), as the kernels
    do, so memory grows with ``len(a)`` and the kept pairs, never with B.
    """

    def __init__(self, n_a: int, *, threshold: float, top_k: int | None) -> None:
        self.threshold, self.top_k = threshold, top_k
        k = max(TOP_K, top_k or 0)
        self.top_s = np.full((n_a, k), -1.0)
        self.top_j = np.full((n_a, k), -1, dtype=np.int64)
        self.kept: list[Pairs] = []
        self.comparisons, self.kernel = 0, None

    def add(self, part: Scores, start: int = 0) -> None:
        """Fold in ``part``, scored against B rows from ``start`` (its B rows count from there)."""
        s, j = part.top
        k = self.top_s.shape[1]
        cand_s = np.concatenate([self.top_s, s], axis=1)
        cand_j = np.concatenate([self.top_j, np.where(j >= 0, j + start, -1)], axis=1)
        order = np.lexsort((cand_j, -cand_s), axis=1)[:, :k]
        self.top_s = np.take_along_axis(cand_s, order, axis=1)
        self.top_j = np.take_along_axis(cand_j, order, axis=1)
        if self.top_k is None and len(part.pairs):
            self.kept.append(Pairs(part.pairs.i, part.pairs.j + start, part.pairs.score))
        self.comparisons += part.comparisons
        self.kernel = part.kernel

    def result(self) -> Scores:
        if self.top_k is not None:
            pairs = _top_pairs(self.top_s, self.top_j, self.top_k, self.threshold)
        elif self.kept:
            i, j, sc = (np.concatenate([getattr(p, x) for p in self.kept]) for x in ("i", "j", "score"))
            order = np.lexsort((j, i))
            pairs = Pairs(i[order], j[order], sc[order])
        else:
            pairs = Pairs.empty()
        return Scores(pairs=pairs, best=np.maximum(self.top_s[:, :TOP_K], 0.0), kernel=self.kernel or KERNEL,
                      comparisons=self.comparisons, top=(self.top_s, self.top_j))


def _dice(inter: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Dice from intersection counts and popcounts (broadcast); 0 where both filters are empty."""
    denom = (pa + pb).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2.0 * inter / denom, 0.0)


def dice_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs Dice, the slow and obvious way: the reference the kernels are tested against."""
    bits_a = np.unpackbits(a, axis=1).astype(np.int64)
    bits_b = np.unpackbits(b, axis=1).astype(np.int64)
    return _dice(bits_a @ bits_b.T, bits_a.sum(1)[:, None], bits_b.sum(1)[None, :])


TOP_K = 3  # best scores tracked per A record (the threshold model uses the best two)


def as_words(x: np.ndarray) -> np.ndarray:
    """Packed filters as uint64 words, zero-padded to a whole number of words."""
    pad = -x.shape[1] % 8
    if pad:
        x = np.concatenate([x, np.zeros((len(x), pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(x).view(np.uint64)


def _merge_top(best_s: np.ndarray, best_j: np.ndarray, tile: np.ndarray, j0: int) -> None:
    """Fold a tile's scores into each row's running top list (score desc, then B row asc)."""
    k = best_s.shape[1]
    order = np.argsort(-tile, axis=1, kind="stable")[:, :k]
    cand_s = np.concatenate([best_s, np.take_along_axis(tile, order, axis=1)], axis=1)
    cand_j = np.concatenate([best_j, order + j0], axis=1)
    keep = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]  # earlier (lower) B rows first on ties
    best_s[:] = np.take_along_axis(cand_s, keep, axis=1)
    best_j[:] = np.take_along_axis(cand_j, keep, axis=1)


class _NumpyTiles:
    """Reference tiles: bits unpacked to float32 and multiplied (exact counts below 2**24)."""

    rows, cols = 2048, 2048

    def __init__(self, a: np.ndarray, b: np.ndarray, keep_all: bool) -> None:
        self.a, self.b, self.keep_all = a, b, keep_all
        self.cache_b = np.unpackbits(b, axis=1).astype(np.float32) if b.size * 32 <= 512 << 20 else None

    def __call__(self, i0, i1, j0, j1, pa, pb, threshold, best_s, best_j):
        bits_a = np.unpackbits(self.a[i0:i1], axis=1).astype(np.float32)
        if self.cache_b is not None:
            bits_b = self.cache_b[j0:j1]
        else:
            bits_b = np.unpackbits(self.b[j0:j1], axis=1).astype(np.float32)
        s = _dice(bits_a @ bits_b.T, pa[:, None], pb[None, :])
        _merge_top(best_s, best_j, s, j0)
        if not self.keep_all:
            return None
        ii, jj = np.nonzero(s >= threshold)
        return ii, jj + j0, s[ii, jj]


class _NumbaTiles:
    """Compiled tiles over 64-bit words, parallel over A rows; kept pairs land in row buffers.

    Each B tile is held word-major (word ``x`` of every row together), so the innermost loop
    runs over B rows and vectorises (see :func:`.kernels.dice_tile_words`).
    """

    rows, cols = 1024, 2048

    def __init__(self, a: np.ndarray, b: np.ndarray, keep_all: bool) -> None:
        self.a, self.keep_all = as_words(a), keep_all
        words = as_words(b)
        self.b_tiles = [np.ascontiguousarray(words[j0:j0 + self.cols].T) for j0 in range(0, len(b), self.cols)]
        shape = (self.rows, min(self.cols, len(b))) if keep_all else (1, 1)
        self.out_j = np.empty(shape, dtype=np.int64)
        self.out_s = np.empty(shape, dtype=np.float64)
        self.out_n = np.zeros(self.rows, dtype=np.int64)

    def __call__(self, i0, i1, j0, j1, pa, pb, threshold, best_s, best_j):
        from .kernels import dice_tile_words

        n = i1 - i0
        dice_tile_words(self.a[i0:i1], self.b_tiles[j0 // self.cols], pa, pb, threshold, j0, best_s, best_j,
                        self.out_j, self.out_s, self.out_n, self.keep_all)
        if not self.keep_all:
            return None
        counts = self.out_n[:n]
        rows = np.repeat(np.arange(n), counts)
        pos = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.out_j[rows, pos] + j0, self.out_s[rows, pos]


def _top_pairs(best_s: np.ndarray, best_j: np.ndarray, top_k: int, threshold: float) -> Pairs:
    """Each row's ``top_k`` best pairs at or above ``threshold``, sorted by ``(i, j)``."""
    rows = np.repeat(np.arange(len(best_s)), top_k)
    js, ss = best_j[:, :top_k].ravel(), best_s[:, :top_k].ravel()
    ok = (js >= 0) & (ss >= threshold)
    i, j, sc = rows[ok], js[ok], ss[ok]
    order = np.lexsort((j, i))
    return Pairs(i[order], j[order], sc[order])


def dice_pairs(
    a: np.ndarray,
    b: np.ndarray,
    *,
    threshold: float,
    top_k: int | None = None,
    kernel: str = KERNEL,
    quiet: bool = True,
) -> Scores:
    """Pairs of A and B rows with Dice >= ``threshold``, and each A row's best ``TOP_K`` scores.

    With ``top_k``, only each A row's ``top_k`` best pairs (ties: lower B row first) are kept,
    so memory grows with ``len(a) * top_k`` whatever the threshold; without it, every pair at or
    above the threshold is kept. Every kernel returns exactly the same pairs and scores, sorted
    by ``(i, j)``.
    """
    kernel = resolve_kernel(kernel)
    if a.shape[1] != b.shape[1]:
        raise ValueError("filters of A and B differ in length")
    if top_k is not None and top_k < 1:
        raise ValueError("top_k must be at least 1")
    na, nb = len(a), len(b)
    pa, pb = popcounts(a), popcounts(b)
    k = max(TOP_K, top_k or 0)
    best_s = np.full((na, k), -1.0)
    best_j = np.full((na, k), -1, dtype=np.int64)
    keep_i, keep_j, keep_s = [], [], []
    tiles = (_NumbaTiles if kernel == "numba" else _NumpyTiles)(a, b, keep_all=top_k is None)
    with progress(total=na, desc="scoring", quiet=quiet) as bar:
        for i0 in range(0, na, tiles.rows):
            i1 = min(i0 + tiles.rows, na)
            for j0 in range(0, nb, tiles.cols):
                j1 = min(j0 + tiles.cols, nb)
                kept = tiles(i0, i1, j0, j1, pa[i0:i1], pb[j0:j1], threshold, best_s[i0:i1], best_j[i0:i1])
                if kept is not None and len(kept[0]):
                    keep_i.append(kept[0] + i0)
                    keep_j.append(kept[1])
                    keep_s.append(kept[2])
            bar.update(i1 - i0)
    if top_k is not None:
        pairs = _top_pairs(best_s, best_j, top_k, threshold)
    elif keep_i:
        i, j, sc = np.concatenate(keep_i), np.concatenate(keep_j), np.concatenate(keep_s)
        order = np.lexsort((j, i))
        pairs = Pairs(i[order], j[order], sc[order])
    else:
        pairs = Pairs.empty()
    best = np.maximum(best_s[:, :TOP_K], 0.0)
    return Scores(pairs=pairs, best=best, kernel=kernel, comparisons=na * nb, top=(best_s, best_j))


@dataclass(frozen=True)
class _PairsJob:
    threshold: float
    top_k: int | None
    kernel: str
    threads: int | None
    quiet: bool


def _pairs_part(span: tuple[int, int], a: np.ndarray, source: Any, job: _PairsJob) -> tuple[int, Scores]:
    """All of A against rows ``span`` of B (B rows counted from the part's start)."""
    part = source.read_part(*span)
    with task_threads(job.threads):
        got = dice_pairs(a, part.clks, threshold=job.threshold, top_k=job.top_k, kernel=job.kernel, quiet=job.quiet)
    if job.top_k is not None:  # each row's best few (top) hold the pairs: not sent twice
        got = dataclasses.replace(got, pairs=Pairs.empty())
    return span[0], got


def dice_pairs_parts(a: np.ndarray, b: Any, *, threshold: float, top_k: int | None = None, kernel: str = KERNEL,
                     runner: Runner | None = None, quiet: bool = True) -> Scores:
    """:func:`dice_pairs` of A against B read a part at a time (``b``: anything with ``read_part``,
    such as an encoded file), the parts run on ``runner`` and merged: the same result, in
    memory that grows with one part of B."""
    runner = runner or Runner()
    # Parts of some 2e10 comparisons (seconds each): few enough that merging them costs little.
    rows = part_rows(len(b), workers=runner.workers, most=min(1 << 20, max(1 << 15, int(2e10 // max(len(a), 1)))))
    spans = part_ranges(len(b), rows)
    one = len(spans) == 1 and runner.workers == 1
    job = _PairsJob(threshold, top_k, resolve_kernel(kernel), runner.threads, quiet or not one)
    merged = ScoreMerge(len(a), threshold=threshold, top_k=top_k)
    with progress(total=len(b), desc="scoring B", quiet=quiet or one) as bar:
        for start, part in runner.map(_pairs_part, spans, runner.share(a), runner.share(b), job):
            merged.add(part, start)
            bar.update(part.comparisons // max(len(a), 1))
    return merged.result()


def candidate_scores(a: np.ndarray, b: np.ndarray, ci: np.ndarray, cj: np.ndarray, *, threshold: float,
                     top_k: int | None = None, kernel: str = KERNEL, pb: np.ndarray | None = None,
                     pairs: bool = True) -> Scores:
    """:class:`Scores` of candidate pairs ``(ci, cj)`` (unique, sorted), as :func:`dice_pairs` makes them.

    Each A row's best scores are over its candidates only; pairs are kept as
    :func:`dice_pairs` keeps them (at or above ``threshold``; with ``top_k``, each row's best
    few). Every kernel returns the same. ``b`` may be packed bytes or 64-bit words (as
    :func:`as_words` gives them), ``pb`` its popcounts when already known. ``pairs=False``
    with ``top_k`` leaves the pairs out: each row's best few (``top``) hold them.
    """
    kernel = resolve_kernel(kernel)
    ci, cj = np.ascontiguousarray(ci, dtype=np.int64), np.ascontiguousarray(cj, dtype=np.int64)
    na = len(a)
    b = b.view(np.uint8) if b.dtype == np.uint64 else b
    pa, pb = popcounts(a), popcounts(b) if pb is None else pb
    k = max(TOP_K, top_k or 0)
    score = np.empty(len(ci), dtype=np.float64)
    if kernel == "numba":
        from .kernels import dice_candidates

        best_s = np.full((na, k), -1.0)
        best_j = np.full((na, k), -1, dtype=np.int64)
        indptr = np.searchsorted(ci, np.arange(na + 1))
        dice_candidates(as_words(a), as_words(b), pa, pb, indptr, cj, best_s, best_j, score)
    else:
        for s in range(0, len(ci), 1 << 16):
            ii, jj = ci[s:s + (1 << 16)], cj[s:s + (1 << 16)]
            score[s:s + (1 << 16)] = _dice(np.bitwise_count(a[ii] & b[jj]).sum(axis=1, dtype=np.int64),
                                                pa[ii], pb[jj])
        order = np.lexsort((cj, -score, ci))  # by A row, best first, ties to the lower B row
        rank = np.arange(len(ci)) - np.searchsorted(ci, np.arange(na))[ci[order]]
        top = rank < k
        best_s, best_j = np.full((na, k), -1.0), np.full((na, k), -1, dtype=np.int64)
        best_s[ci[order][top], rank[top]] = score[order][top]
        best_j[ci[order][top], rank[top]] = cj[order][top]
    if top_k is not None:
        kept = _top_pairs(best_s, best_j, top_k, threshold) if pairs else Pairs.empty()
    else:
        keep = score >= threshold
        kept = Pairs(ci[keep], cj[keep], score[keep])
    return Scores(pairs=kept, best=np.maximum(best_s[:, :TOP_K], 0.0), kernel=kernel, comparisons=len(ci),
                  top=(best_s, best_j))


def estimate_kept_pairs(a: np.ndarray, b: np.ndarray, *, threshold: float, sample: int = 256, seed: int = 0) -> float:
    """How many pairs score ``threshold`` or more, from a seeded sample of A's rows against all of B.

    Cheap (``sample * len(b)`` comparisons): it lets a job that keeps every pair above a low
    score be refused before it runs out of memory.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    rows = np.random.default_rng(seed).choice(len(a), min(sample, len(a)), replace=False)
    kept = dice_pairs(a[np.sort(rows)], b, threshold=threshold, top_k=None)
    return len(kept.pairs) * len(a) / len(rows)
