"""Compiled (numba) kernels of the encoder, beside the numpy code they must equal.

- ``or_rows``: each record's filter as the OR of its fields' value filters.
- ``or_pairs``: each distinct value's filter as the OR of its tokens' filters.

Compiled on first use and cached on disk; :func:`linkage.compiled.resolve_kernel` says
whether they run here.
"""

from __future__ import annotations

from ..compiled import numba

__all__ = ["or_pairs", "or_rows"]

if numba is not None:

    @numba.njit(parallel=True, cache=True, nogil=True)
    def or_rows(tables, index, out):  # pragma: no cover - compiled
        """``out[r] = OR over f of tables[index[r, f]]`` (words of any unsigned type)."""
        n, nf = index.shape
        w = out.shape[1]
        for r in numba.prange(n):
            for f in range(nf):
                t = index[r, f]
                for x in range(w):
                    out[r, x] |= tables[t, x]

    @numba.njit(cache=True, nogil=True)
    def or_pairs(value, tok, tok_filters, out):  # pragma: no cover - compiled
        """``out[value[p]] |= tok_filters[tok[p]]`` for every pair ``p``."""
        w = out.shape[1]
        for p in range(value.shape[0]):
            v = value[p]
            t = tok[p]
            for x in range(w):
                out[v, x] |= tok_filters[t, x]
