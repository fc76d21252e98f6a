"""Compiled (numba) kernel of the scorer, beside the numpy reference it must equal.

``dice_candidates``: Dice of each A row with its candidates from blocking, best scores kept.
``dice_tile_words``: Dice over a tile of A against a word-major tile of B on packed 64-bit
words, popcounts precomputed, threshold applied inside the kernel, each A row's best ``k``
scores kept, parallel over A rows (all cores). Compiled on first use and cached on disk;
:func:`linkage.compiled.resolve_kernel` says whether it runs here.
"""

from __future__ import annotations

import numpy as np

from ..compiled import numba

__all__ = ["dice_candidates", "dice_tile_words"]

if numba is not None:
    from numba import njit, prange
    from numba.extending import intrinsic

    @intrinsic
    def _popcount(typingctx, x):
        """LLVM's ctpop: one POPCNT instruction on CPUs that have it."""
        sig = numba.types.uint64(numba.types.uint64)

        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])

        return sig, codegen

    @njit(cache=True, nogil=True, inline="always")
    def _fold_top(best_s, best_j, r, s, c):  # pragma: no cover - compiled
        """Insert (s, c) into row r's top list, ordered by score desc then B row asc."""
        k = best_s.shape[1]
        if s > best_s[r, k - 1]:
            p = k - 1
            while p > 0 and s > best_s[r, p - 1]:
                best_s[r, p] = best_s[r, p - 1]
                best_j[r, p] = best_j[r, p - 1]
                p -= 1
            best_s[r, p] = s
            best_j[r, p] = c

    @njit(parallel=True, cache=True, nogil=True)
    def dice_tile_words(a, bt, pa, pb, threshold, j0, best_s, best_j,
                        out_j, out_s, out_n, keep_all):  # pragma: no cover - compiled
        """Score rows of ``a`` (uint64 words) against a B tile held word-major, parallel over A rows.

        ``bt[x, c]`` is word ``x`` of B row ``c``: the innermost loop runs over B rows,
        contiguous in memory, so the compiler vectorises the AND and the popcount across rows
        (AVX2, or AVX-512's VPOPCNTQ where there is one); a loop over the 16 words of one pair
        does not vectorise (about 1.5x slower per thread on AVX2). Every row keeps its top
        scores in ``best_s``/``best_j`` (B rows offset by ``j0``). With ``keep_all``, pairs with
        Dice >= threshold also go to ``out_j[r, :out_n[r]]`` (B row) and ``out_s[r, :out_n[r]]``.
        """
        na = a.shape[0]
        w, nb = bt.shape
        for r in prange(na):
            inter = np.zeros(nb, dtype=np.int64)
            for x in range(w):
                ax = a[r, x]
                for c in range(nb):
                    inter[c] += _popcount(ax & bt[x, c])
            par = pa[r]
            n = 0
            k = best_s.shape[1]
            for c in range(nb):
                denom = par + pb[c]
                # A score clearly below both the row's k-th best and the threshold changes nothing:
                # skip its division (the margin keeps this exact whatever the rounding).
                low = best_s[r, k - 1]
                if keep_all and threshold < low:
                    low = threshold
                if 2.0 * inter[c] < low * denom * 0.999999:
                    continue
                s = 2.0 * inter[c] / denom if denom > 0 else 0.0
                if keep_all and s >= threshold:
                    out_j[r, n] = c
                    out_s[r, n] = s
                    n += 1
                _fold_top(best_s, best_j, r, s, c + j0)
            out_n[r] = n

    @njit(parallel=True, cache=True, nogil=True)
    def dice_candidates(a, b, pa, pb, indptr, cj, best_s, best_j, out):  # pragma: no cover - compiled
        """Dice of each A row ``r`` with its candidates ``cj[indptr[r]:indptr[r + 1]]`` (uint64 words).

        Scores go to ``out`` (in candidate order); each row keeps its top scores in
        ``best_s``/``best_j``, as :func:`dice_tile_words` does. Parallel over A rows.
        """
        w = a.shape[1]
        for r in prange(a.shape[0]):
            row = a[r].copy()
            for p in range(indptr[r], indptr[r + 1]):
                c = cj[p]
                inter = 0
                for x in range(w):
                    inter += _popcount(row[x] & b[c, x])
                denom = pa[r] + pb[c]
                s = 2.0 * inter / denom if denom > 0 else 0.0
                out[p] = s
                _fold_top(best_s, best_j, r, s, c)
