"""What the attacks share: bit profiles, Bernoulli likelihoods, and ranking register people.

A *model* of a value (a name, a year, a register person) is a set of bits it sets and the
probability that each is set when the value is present. An unknown filter ``x`` is scored
against it by the log-likelihood ratio of its bits under the model against the background
(each bit's rate over all filters), so values with more or fewer bits are comparable:

    score(x, v) = sum over b in bits(v) of  x_b log(p_vb / r_b) + (1 - x_b) log((1 - p_vb) / (1 - r_b))

with ``p_vb`` kept within ``[floor, 1 - floor]`` (a flipped bit costs a bounded amount).
Scores are one matrix product per block of filters. Register people are ranked by the sum
of the scores of their values (a *separable* score), or by a score of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..compiled import resolve_kernel
from ..progress import progress
from .kernels import top_two_numba, top_two_numpy

__all__ = [
    "FLOOR",
    "SHARE",
    "Ranking",
    "ValueModel",
    "bernoulli_weights",
    "codes_in",
    "min_filters",
    "profiles",
    "rank_dense",
    "rank_separable",
]

FLOOR = 0.05  # probabilities are kept within [FLOOR, 1 - FLOOR]: a flipped bit costs a bounded amount
SHARE = 0.8  # a bit belongs to a value when at least this share of its known filters set it
_ROWS = 1024  # filters scored per block


def min_filters(rate: np.ndarray, *, spurious: float = 8.0) -> int:
    """Fewest filters whose common bits hold at most ``spurious`` bits set by chance alone.

    A bit set by a share ``r`` of all filters is set in ``m`` unrelated filters with chance
    ``r ** m``; bits learnt from fewer filters than this are mostly noise.
    """
    for m in range(1, 64):
        if float(np.sum(rate.astype(np.float64) ** m)) <= spurious:
            return m
    return 64


def profiles(bits: np.ndarray, codes: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Filters per value and the share of them setting each bit: ``(n_values,)``, ``(n_values, L)``.

    ``codes`` gives each filter's value (-1: none, left out).
    """
    keep = codes >= 0
    codes, bits = codes[keep], bits[keep]
    counts = np.bincount(codes, minlength=n_values)
    sums = np.zeros((n_values, bits.shape[1]), dtype=np.float32)
    if len(codes):
        order = np.argsort(codes, kind="stable")
        c = codes[order]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        sums[c[starts]] = np.add.reduceat(bits[order].astype(np.float32), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 0.0).astype(np.float32)
    return counts, share


def bernoulli_weights(members: np.ndarray, prob: np.ndarray | float, rate: np.ndarray, *,
                      floor: float = FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``W`` (L, V) and offsets ``c`` (V,) so that ``x @ W + c`` is each value's score.

    ``members`` (V, L) says which bits each value sets; ``prob`` (V, L, or a number) how
    likely each is set when the value is present; ``rate`` (L,) each bit's background rate.
    """
    members = np.asarray(members, dtype=bool)
    p = np.clip(np.broadcast_to(np.asarray(prob, dtype=np.float64), members.shape), floor, 1 - floor)
    r = np.clip(rate, floor / 10, 1 - floor / 10)[None, :]
    w1 = np.log(p / r)
    w0 = np.log((1 - p) / (1 - r))
    W = np.where(members, w1 - w0, 0.0)
    c = np.where(members, w0, 0.0).sum(axis=1)
    return np.ascontiguousarray(W.T, dtype=np.float32), c.astype(np.float32)


def codes_in(values: pl.Series, vocabulary: pl.Series) -> np.ndarray:
    """Position of each value in ``vocabulary`` (distinct), -1 where absent or null."""
    vocab = pl.DataFrame({"v": vocabulary.cast(pl.Utf8)}).with_row_index("i")
    frame = pl.DataFrame({"v": values.cast(pl.Utf8)})
    idx = frame.join(vocab, on="v", how="left", maintain_order="left")["i"]
    return idx.fill_null(-1).cast(pl.Int64).to_numpy()


@dataclass(frozen=True)
class ValueModel:
    """One feature's values as Bernoulli models; register people point at theirs by ``codes``.

    ``W``/``c`` score each of ``values`` (see :func:`bernoulli_weights`); ``codes`` gives each
    register person's value (-1: no model for it, scored 0, as the background).
    """

    label: str
    values: pl.Series
    W: np.ndarray
    c: np.ndarray
    codes: np.ndarray

    def scores(self, x: np.ndarray) -> np.ndarray:
        return x @ self.W + self.c


@dataclass(frozen=True)
class Ranking:
    """Each attacked filter's top-ranked register row (-1: none) and whether it ranked first alone.

    ``decoded`` holds, per feature, the index of the value decoded for each filter (-1: none)
    into ``values[feature]``.
    """

    top: np.ndarray
    unique: np.ndarray
    decoded: dict[str, np.ndarray]
    values: dict[str, pl.Series]


def _top_two(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best column of each row and whether it beats every other column (in place: ``s`` is spoilt)."""
    rows = np.arange(len(s))
    top = np.argmax(s, axis=1)
    best = s[rows, top].copy()
    s[rows, top] = -np.inf
    second = s.max(axis=1) if s.shape[1] > 1 else np.full(len(s), -np.inf)
    ok = np.isfinite(best)
    return np.where(ok, top, -1), ok & (best > second)


def rank_separable(x: np.ndarray, models: Sequence[ValueModel], n_register: int, *, excluded: np.ndarray | None = None,
                   decode: Sequence[str] = (), kernel: str = "auto", quiet: bool = True,
                   desc: str = "ranking") -> Ranking:
    """Rank register people for each filter of ``x`` by the sum of their values' scores.

    ``excluded`` register rows are never proposed. Features named in ``decode`` are also
    decoded alone: the value with the best score (only values with a model can be decoded).
    ``kernel`` (``auto``, ``numba``, ``numpy``) changes only the speed.
    """
    top_two = top_two_numba if resolve_kernel(kernel) == "numba" else top_two_numpy
    n = len(x)
    top = np.full(n, -1, dtype=np.int64)
    unique = np.zeros(n, dtype=bool)
    decoded = {m.label: np.full(n, -1, dtype=np.int64) for m in models if m.label in decode}
    mask = np.zeros(n_register, dtype=bool)
    if excluded is not None and len(excluded):
        mask[excluded] = True
    # Each person's column in the stacked table of a block; a value without a model scores 0.
    offsets = np.cumsum([0] + [len(m.values) + 1 for m in models[:-1]])
    codes = np.stack([np.where(m.codes >= 0, m.codes, len(m.values)) + off for m, off in zip(models, offsets)],
                     axis=1) if models else np.zeros((n_register, 0), dtype=np.int64)
    with progress(total=n, desc=desc, unit="filter", quiet=quiet) as bar:
        for lo in range(0, n, _ROWS):
            hi = min(lo + _ROWS, n)
            xb = x[lo:hi].astype(np.float32)
            blocks = []
            for m in models:
                s = m.scores(xb)
                if m.label in decoded and s.shape[1]:
                    decoded[m.label][lo:hi] = np.argmax(s, axis=1)
                blocks += [s, np.zeros((hi - lo, 1), dtype=np.float32)]
            table = np.concatenate(blocks, axis=1) if blocks else np.zeros((hi - lo, 1), dtype=np.float32)
            top[lo:hi], unique[lo:hi] = top_two(table, codes, mask)
            bar.update(hi - lo)
    return Ranking(top=top, unique=unique, decoded=decoded, values={m.label: m.values for m in models})


def rank_dense(x: np.ndarray, score: Callable[[np.ndarray], np.ndarray], candidates: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Top candidate (a register row from ``candidates``) of each filter, and whether it is alone first.

    ``score(xb)`` gives a block's scores against every candidate, in the order of ``candidates``.
    """
    n = len(x)
    top = np.full(n, -1, dtype=np.int64)
    unique = np.zeros(n, dtype=bool)
    if not len(candidates):
        return top, unique
    for lo in range(0, n, _ROWS):
        hi = min(lo + _ROWS, n)
        t, u = _top_two(score(x[lo:hi].astype(np.float32)))
        top[lo:hi] = np.where(t >= 0, candidates[np.maximum(t, 0)], -1)
        unique[lo:hi] = u
    return top, unique
