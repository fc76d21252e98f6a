"""Encoding speed, ours against clkhash, on the same 100,000 synthetic records and fields.

Fields: first name, last name, date of birth, sex, postcode; 1024-bit filters; bigrams for
names and postcode; bits per token as in our default schema (names 8, postcode 6, sex 8; the
date as 8 positional digits at 10 bits each, as clkhash encodes dates, against our 4 date
tokens at 20 bits each); keyed BLAKE2b hashing in both (clkhash's ``blakeHash``).

- ours: :func:`linkage.encode_frame` on the raw extract (standardisation included), all
  cores, best of 3 after a warm-up;
- clkhash 0.18 ``generate_clks`` on the same 100,000 records (no subset: it is fast enough),
  best of 2, in one process (``max_workers=1``) and on all cores (its default: one worker
  process per core). clkhash does no cleaning, so it
  is given our *standardised* values (missing values as ``""``, its missing-value sentinel):
  its time leaves out the standardisation that ours includes (printed separately).

Run: ``pytest benchmarks/bench_peers_encode.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import linkage as lk
from linkage.provider import standardise_frame

clk = pytest.importorskip("clkhash.clk")
ck_schema = pytest.importorskip("clkhash.schema")

N = 100_000
CLK_RECORDS = 100_000  # clkhash runs ~20,000 records/s per process here: all of them, not a subset
ROUNDS = 3
CLK_ROUNDS = 2  # ~5 s a round; the best of 2 rides out another process taking a core
OURS = "ours (encode_frame, all cores)"
RATES: dict[str, float] = {}  # label -> records/s


def _feature(identifier: str, fmt: dict, n: int, bits: int, positional: bool = False) -> dict:
    return {
        "identifier": identifier,
        "format": fmt,
        "hashing": {
            "comparison": {"type": "ngram", "n": n, "positional": positional},
            "strategy": {"bitsPerToken": bits},
            "hash": {"type": "blakeHash"},
            "missingValue": {"sentinel": ""},
        },
    }


CLKHASH_SCHEMA = {
    "version": 3,
    "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64}},
    "features": [
        {"identifier": "record_id", "ignored": True},
        _feature("first_name", {"type": "string", "encoding": "utf-8"}, 2, 8),
        _feature("last_name", {"type": "string", "encoding": "utf-8"}, 2, 8),
        _feature("date_of_birth", {"type": "date", "format": "%Y-%m-%d"}, 1, 10, positional=True),
        _feature("sex", {"type": "enum", "values": ["m", "f"]}, 1, 8),
        _feature("postcode", {"type": "string", "encoding": "utf-8"}, 2, 6),
    ],
}


@pytest.fixture(scope="module")
def records():
    df = lk.synth_families(N, seed=5).a
    assert df.height == N
    return df


@pytest.fixture(scope="module")
def clkhash_input(records):
    """Rows of standardised strings (record_id first, ignored by the schema), for clkhash."""
    t = time.perf_counter()
    values = standardise_frame(records, lk.Schema.default()).values
    seconds = time.perf_counter() - t
    print(f"\nstandardising {N:,} records for clkhash (ours, not in clkhash's time): {seconds:.2f} s")
    rows = values.select(["record_id", "first_name", "last_name", "date_of_birth", "sex", "postcode"]) \
        .fill_null("").rows()
    return rows[:CLK_RECORDS]


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    if not RATES:
        return
    print(f"\n\nencoding {N:,} records, 1024-bit filters (records/s):")
    ours = RATES.get(OURS)
    for label, rate in RATES.items():
        vs = f"  ours is {ours / rate:5.1f}x this" if ours and label != OURS else ""
        print(f"  {label:<44} {rate:12,.0f}{vs}")


def _record(benchmark, label: str, records: int, extra: dict) -> float:
    rate = records / benchmark.stats.stats.min
    RATES[label] = rate
    info = {"records": records, "records_per_s": round(rate), **extra}
    ours = RATES.get(OURS)
    ratio = ""
    if ours and label != OURS:
        info["ratio_ours_vs_this"] = round(ours / rate, 2)
        ratio = f"; ours ({ours:,.0f} records/s) is {ours / rate:.1f}x this"
    benchmark.extra_info.update(info)
    best = benchmark.stats.stats.min
    print(f"\nencode {label}: {records:,} records, best {best:.2f} s = {rate:,.0f} records/s{ratio}")
    return rate


def test_encode_ours(benchmark, records, key):
    lk.encode_frame(records.head(1000), key=key)  # compile / warm up
    enc = benchmark.pedantic(lk.encode_frame, args=(records,), kwargs={"key": key}, rounds=ROUNDS, iterations=1)
    assert enc.counts.rows_in == N and enc.clks.shape[1] == 128
    pop = np.bitwise_count(enc.clks).sum(axis=1)
    _record(benchmark, OURS, N, {"kernel": enc.kernel, "mean_bits_set": round(float(pop.mean()), 1)})
    print(f"ours: {enc.counts.line()}; {enc.kernel} kernel; mean bits set {pop.mean():.0f} of 1024")


@pytest.mark.parametrize("workers", [1, None], ids=["1 process", "all cores"])
def test_encode_clkhash(benchmark, clkhash_input, key, workers):
    schema = ck_schema.from_json_dict(CLKHASH_SCHEMA)
    clk.generate_clks(clkhash_input[:500], schema, key, max_workers=1)  # warm up
    clks = benchmark.pedantic(clk.generate_clks, args=(clkhash_input, schema, key),
                              kwargs={"max_workers": workers}, rounds=CLK_ROUNDS, iterations=1)
    assert len(clks) == len(clkhash_input) and len(clks[0]) == 1024
    n_workers = workers or os.cpu_count()
    mean_bits = float(np.mean([c.count() for c in clks[:10_000]]))
    _record(benchmark, f"clkhash 0.18 ({n_workers} process{'es' if n_workers > 1 else ''})", len(clks),
            {"workers": n_workers, "mean_bits_set": round(mean_bits, 1), "standardised_input": True})
    print(f"clkhash: {len(clks):,} records, {n_workers} worker process(es), best of {CLK_ROUNDS}; mean bits set "
          f"{mean_bits:.0f} of 1024")
