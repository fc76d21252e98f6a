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

from dataclasses import dataclass

import numpy as np

from .progress import progress

__all__ = ["Pairs", "Scores", "dice_pairs", "dice_reference", "popcounts", "KERNELS"]


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


def popcounts(filters: np.ndarray) -> np.ndarray:
    """Bits set in each packed filter (``(n, nbytes)`` uint8)."""
    return np.bitwise_count(filters).sum(axis=1, dtype=np.int64)


def _dice(inter: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    denom = (pa[:, None] + pb[None, :]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = 2.0 * inter / denom
    s[denom == 0] = 0.0
    return s


def dice_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs Dice, the slow and obvious way: the reference the kernels are tested against."""
    bits_a = np.unpackbits(a, axis=1).astype(np.int64)
    bits_b = np.unpackbits(b, axis=1).astype(np.int64)
    return _dice(bits_a @ bits_b.T, bits_a.sum(1), bits_b.sum(1))


def _numpy_tile(bits_a: np.ndarray, bits_b: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    # 0/1 values in float32: every intersection count is an exact integer (< 2**24).
    return _dice(bits_a @ bits_b.T, pa, pb)


KERNELS = ("numpy",)


def resolve_kernel(kernel: str = "auto") -> str:
    """The kernel to run: ``auto`` picks the fastest available, and says so."""
    if kernel == "auto":
        return "numpy"
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be 'auto' or one of {', '.join(KERNELS)}")
    return kernel


def _unpack(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x, axis=1).astype(np.float32)


TOP_K = 3


def _merge_top(best: np.ndarray, tile: np.ndarray) -> None:
    """Fold a tile's scores into each row's running best ``TOP_K`` (descending)."""
    k = best.shape[1]
    top = -np.partition(-tile, k - 1, axis=1)[:, :k] if tile.shape[1] > k else tile
    both = np.concatenate([best, top], axis=1)
    both.sort(axis=1)
    best[:] = both[:, ::-1][:, :k]


def dice_pairs(
    a: np.ndarray,
    b: np.ndarray,
    *,
    threshold: float,
    tile: int = 2048,
    kernel: str = "numpy",
    quiet: bool = True,
) -> Scores:
    """Pairs of A and B rows with Dice >= ``threshold``, plus each A row's best ``TOP_K`` scores."""
    kernel = resolve_kernel(kernel)
    if a.shape[1] != b.shape[1]:
        raise ValueError("filters of A and B differ in length")
    na, nb = len(a), len(b)
    pa, pb = popcounts(a), popcounts(b)
    best = np.zeros((na, TOP_K), dtype=np.float64)
    keep_i, keep_j, keep_s = [], [], []
    cache_b = nb * a.shape[1] * 8 * 4 <= 512 << 20
    bits_b_all = _unpack(b) if cache_b else None
    with progress(total=na, desc="scoring", quiet=quiet) as bar:
        for i0 in range(0, na, tile):
            i1 = min(i0 + tile, na)
            bits_a = _unpack(a[i0:i1])
            for j0 in range(0, nb, tile):
                j1 = min(j0 + tile, nb)
                bits_b = bits_b_all[j0:j1] if cache_b else _unpack(b[j0:j1])
                s = _numpy_tile(bits_a, bits_b, pa[i0:i1], pb[j0:j1])
                _merge_top(best[i0:i1], s)
                ii, jj = np.nonzero(s >= threshold)
                if len(ii):
                    keep_i.append(ii + i0)
                    keep_j.append(jj + j0)
                    keep_s.append(s[ii, jj])
            bar.update(i1 - i0)
    if keep_i:
        i, j, sc = np.concatenate(keep_i), np.concatenate(keep_j), np.concatenate(keep_s)
        order = np.lexsort((j, i))
        pairs = Pairs(i[order], j[order], sc[order])
    else:
        pairs = Pairs.empty()
    return Scores(pairs=pairs, best=best, kernel=kernel, comparisons=na * nb)
