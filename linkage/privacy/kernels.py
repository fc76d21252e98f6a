"""Compiled (numba) kernel of the ranking, beside the numpy reference it must equal.

``top_two``: for each filter of a block, the register person with the best separable score
(the sum of their values' scores, read from one table per block) and whether they are first
alone; parallel over filters, compiled on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np

from ..compiled import numba

__all__ = ["top_two_numba", "top_two_numpy"]


def top_two_numpy(table: np.ndarray, codes: np.ndarray, excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: ``table`` (B, V) block scores, ``codes`` (R, F) each person's columns, ``excluded`` (R,) bool.

    Returns each row's best person (-1 if none may be proposed) and whether it beats every other
    person (ties: the lower person first, and not alone).
    """
    total = np.zeros((table.shape[0], codes.shape[0]), dtype=np.float32)
    for f in range(codes.shape[1]):
        total += table[:, codes[:, f]]
    total[:, excluded] = -np.inf
    rows = np.arange(len(total))
    top = np.argmax(total, axis=1) if total.shape[1] else np.zeros(len(total), dtype=np.int64)
    if not total.shape[1]:
        return np.full(len(total), -1, dtype=np.int64), np.zeros(len(total), dtype=bool)
    best = total[rows, top].copy()
    total[rows, top] = -np.inf
    second = total.max(axis=1)
    ok = np.isfinite(best)
    return np.where(ok, top, -1).astype(np.int64), ok & (best > second)


if numba is not None:
    from numba import njit, prange

    _ROWS_PER_TASK = 8
    _PEOPLE_PER_TILE = 2048

    @njit(cache=True, parallel=True, nogil=True)
    def _top_two(table, codes, excluded, top, alone):  # pragma: no cover - compiled
        n, n_people, n_fields = table.shape[0], codes.shape[0], codes.shape[1]
        n_tasks = (n + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK
        for task in prange(n_tasks):
            lo = task * _ROWS_PER_TASK
            hi = min(lo + _ROWS_PER_TASK, n)
            best = np.full(hi - lo, -np.inf, dtype=np.float32)
            second = np.full(hi - lo, -np.inf, dtype=np.float32)
            arg = np.full(hi - lo, -1, dtype=np.int64)
            # People in tiles, so a tile's codes stay in cache for all rows of the task.
            for p0 in range(0, n_people, _PEOPLE_PER_TILE):
                p1 = min(p0 + _PEOPLE_PER_TILE, n_people)
                for i in range(lo, hi):
                    k = i - lo
                    b, s2, a = best[k], second[k], arg[k]
                    for r in range(p0, p1):
                        if excluded[r]:
                            continue
                        s = np.float32(0.0)
                        for f in range(n_fields):
                            s += table[i, codes[r, f]]
                        if s > b:
                            s2 = b
                            b = s
                            a = r
                        elif s > s2:
                            s2 = s
                    best[k], second[k], arg[k] = b, s2, a
            for i in range(lo, hi):
                k = i - lo
                top[i] = arg[k]
                alone[i] = arg[k] >= 0 and best[k] > second[k]

    def top_two_numba(table: np.ndarray, codes: np.ndarray, excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compiled :func:`top_two_numpy`: the same answers, parallel over rows."""
        top = np.empty(table.shape[0], dtype=np.int64)
        alone = np.empty(table.shape[0], dtype=np.bool_)
        _top_two(np.ascontiguousarray(table, dtype=np.float32), np.ascontiguousarray(codes, dtype=np.int32),
                 np.ascontiguousarray(excluded, dtype=np.bool_), top, alone)
        return top, alone
else:  # pragma: no cover
    top_two_numba = None
