"""Dice scoring speed, ours against anonlink, on the same realistic 1024-bit filters.

20,000 x 20,000 records (4 x 10^8 comparisons), threshold 0.8. Filters: the first 20,000
encoded records of each provider (``synth_families(20_400)``, sides A and B of the same
call; B holds a little fewer than A), encoded with :func:`linkage.encode_frame`; anonlink gets the very same filters as
``bitarray(endian='big')`` (bit ``i`` of a filter is bit ``7 - i % 8`` of byte ``i // 8`` in
both).

- ours, numba kernel, 1 thread and all threads;
- ours, numpy reference kernel, on the first 5,000 A records against all 20,000 B records
  (10^8 comparisons; the whole is ~4x as long and tells nothing more);
- anonlink 0.15 ``dice_coefficient_accelerated`` (C++ POPCNT kernel, one thread, ``k=None``:
  every pair at or above the threshold).

anonlink skips a pair whose popcounts alone rule out the threshold; it still counts as a
comparison here (rates are always ``len(A) * len(B) / seconds``). Both tools compute Dice as
``2 * |A and B| / (|A| + |B|)`` in float64 from exact counts, so the pairs must be identical.

Run: ``pytest benchmarks/bench_dice.py --benchmark-only -s``.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from bitarray import bitarray

import linkage as lk
from linkage.format.encoded import popcounts
from linkage.linker import dice_pairs

anonlink_sim = pytest.importorskip("anonlink.similarities")

N = 20_000
THRESHOLD = 0.8
NUMPY_ROWS = 5_000  # numpy reference: A[:5000] x B (all), 10^8 comparisons
ROUNDS = 5
POPCOUNT_LIMIT = 570e6  # comparisons/s: a tiled AVX-512 popcount on this kind of machine
ANONLINK = "anonlink (C++ POPCNT, 1 thread)"
RATES: dict[str, float] = {}  # label -> comparisons/s, filled in as the benchmarks run


@pytest.fixture(scope="module")
def filters(key):
    fam = lk.synth_families(N + N // 50, seed=20)  # B holds slightly fewer records than A: make both >= N
    a = lk.encode_frame(fam.a, key=key).clks[:N]
    b = lk.encode_frame(fam.b, key=key).clks[:N]
    assert a.shape == b.shape == (N, 128)
    return a, b


@pytest.fixture(scope="module")
def bitarrays(filters):
    def convert(x: np.ndarray) -> list[bitarray]:
        out = []
        for row in x:
            ba = bitarray(endian="big")
            ba.frombytes(row.tobytes())
            out.append(ba)
        return out

    a, b = filters
    ba, bb = convert(a), convert(b)
    assert ba[0].tolist() == np.unpackbits(a[0]).tolist()  # same bit order in both tools
    return ba, bb


@pytest.fixture(scope="module")
def anonlink_pairs(bitarrays):
    """anonlink's pairs (i, j) -> score, computed once (by its benchmark when it runs first)."""
    cache: dict = {}

    def get():
        if "pairs" not in cache:
            cache["pairs"] = _anonlink_pair_dict(_anonlink(bitarrays))
        return cache["pairs"]

    get.cache = cache
    return get


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    if not RATES:
        return
    print(f"\n\nDice {N:,} x {N:,} 1024-bit filters, threshold {THRESHOLD} (comparisons/s, best of {ROUNDS}):")
    base = RATES.get(ANONLINK)
    for label, rate in RATES.items():
        vs = f"  {rate / base:5.2f}x anonlink" if base and label != ANONLINK else ""
        print(f"  {label:<38} {rate / 1e6:8.1f} M/s{vs}  ({rate / POPCOUNT_LIMIT:.0%} of the popcount limit)")
    print(f"  popcount limit: a tiled AVX-512 popcount reaches about {POPCOUNT_LIMIT / 1e6:.0f} million "
          f"comparisons/s on this kind of machine")


def _anonlink(bitarrays):
    return anonlink_sim.dice_coefficient_accelerated(bitarrays, threshold=THRESHOLD, k=None)


def _anonlink_pair_dict(result) -> dict[tuple[int, int], float]:
    sims, (i0, i1) = result
    return {(int(i), int(j)): float(s) for s, i, j in zip(sims, i0, i1)}


def _our_pair_dict(pairs) -> dict[tuple[int, int], float]:
    return {(int(i), int(j)): float(s) for i, j, s in zip(pairs.i, pairs.j, pairs.score)}


def _record(benchmark, label: str, comparisons: int, extra: dict | None = None) -> float:
    rate = comparisons / benchmark.stats.stats.min
    RATES[label] = rate
    info = {"comparisons": comparisons, "comparisons_per_s": round(rate), "threshold": THRESHOLD,
            "fraction_of_popcount_limit": round(rate / POPCOUNT_LIMIT, 3), **(extra or {})}
    base = RATES.get(ANONLINK)
    ratio = ""
    if base and label != ANONLINK:
        info["ratio_vs_anonlink"] = round(rate / base, 3)
        ratio = f"; {rate / base:.2f}x anonlink ({base / 1e6:.1f} M/s)"
    benchmark.extra_info.update(info)
    print(f"\nDice {label}: {comparisons:,} comparisons, best {benchmark.stats.stats.min:.3f} s = "
          f"{rate / 1e6:.1f} million comparisons/s{ratio}; {rate / POPCOUNT_LIMIT:.0%} of the ~570 M/s "
          f"popcount limit")
    return rate


def test_dice_anonlink(benchmark, filters, bitarrays, anonlink_pairs):
    a, b = filters
    anonlink_sim.dice_coefficient_accelerated([bitarrays[0][:200], bitarrays[1][:200]], threshold=THRESHOLD)
    result = benchmark.pedantic(_anonlink, args=(bitarrays,), rounds=ROUNDS, iterations=1)
    anonlink_pairs.cache["pairs"] = _anonlink_pair_dict(result)
    # anonlink computes Dice only where |pa - pb| <= 2 * pa * (1/t - 1); report how much that prunes
    pa, pb = popcounts(a), popcounts(b)
    delta = (2 * pa * (1 / THRESHOLD - 1)).astype(np.uint32).astype(np.int64)
    scored = float((np.abs(pa[:, None] - pb[None, :]) <= delta[:, None]).mean())
    _record(benchmark, ANONLINK, len(a) * len(b),
            {"pairs": len(result[0]), "fraction_scored_after_popcount_filter": round(scored, 3)})
    print(f"anonlink: {len(result[0]):,} pairs >= {THRESHOLD}; its popcount filter leaves {scored:.0%} "
          f"of the pairs to score (the rate counts all {len(a) * len(b):,})")


@pytest.mark.parametrize("threads", ["1 thread", "all threads"])
def test_dice_numba(benchmark, filters, anonlink_pairs, threads):
    a, b = filters
    n_threads = 1 if threads == "1 thread" else numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(n_threads)
    try:
        dice_pairs(a[:1000], b[:1000], threshold=THRESHOLD, kernel="numba")  # compile / load the cache
        scores = benchmark.pedantic(dice_pairs, args=(a, b), kwargs={"threshold": THRESHOLD, "kernel": "numba"},
                                    rounds=ROUNDS, iterations=1)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert scores.kernel == "numba" and scores.comparisons == len(a) * len(b)
    _record(benchmark, f"ours numba, {threads} ({n_threads})", scores.comparisons,
            {"kernel": "numba", "threads": n_threads, "pairs": len(scores.pairs)})
    ref = anonlink_pairs()
    ours = _our_pair_dict(scores.pairs)
    print(f"pairs >= {THRESHOLD}: ours {len(ours):,}, anonlink {len(ref):,}")
    assert len(ours) == len(ref)
    assert ours == ref  # same pairs and bit-identical float64 scores


def test_dice_numpy(benchmark, filters, anonlink_pairs):
    a, b = filters
    a = a[:NUMPY_ROWS]
    dice_pairs(a[:100], b[:100], threshold=THRESHOLD, kernel="numpy")
    scores = benchmark.pedantic(dice_pairs, args=(a, b), kwargs={"threshold": THRESHOLD, "kernel": "numpy"},
                                rounds=ROUNDS, iterations=1)
    assert scores.kernel == "numpy" and scores.comparisons == NUMPY_ROWS * N
    _record(benchmark, f"ours numpy reference ({NUMPY_ROWS:,} x {N:,})", scores.comparisons,
            {"kernel": "numpy", "subset": f"A[:{NUMPY_ROWS}] x B", "pairs": len(scores.pairs)})
    print(f"(numpy reference timed on A[:{NUMPY_ROWS:,}] x all {N:,} B = {scores.comparisons:,} comparisons; "
          "the rate is per comparison, so it compares directly)")
    ref = {ij: s for ij, s in anonlink_pairs().items() if ij[0] < NUMPY_ROWS}
    assert _our_pair_dict(scores.pairs) == ref
