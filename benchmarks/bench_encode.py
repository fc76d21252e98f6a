"""Encoding speed and peak memory: 1,000,000 synthetic records (issue 2's benchmark).

Run with `make bench` (or `pytest benchmarks/bench_encode.py --benchmark-only -s`).
"""

import json
import subprocess
import sys
import textwrap

import pytest

import linkage as lk
from linkage.provider.keys import write_key

N = 1_000_000


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_encode_1m(benchmark, families_1m, key, kernel):
    df = families_1m.a
    lk.encode_frame(df.head(1000), key=key, kernel=kernel)  # compile / warm up
    enc = benchmark.pedantic(lk.encode_frame, args=(df,), kwargs={"key": key, "kernel": kernel},
                             rounds=3, iterations=1)
    rate = N / benchmark.stats.stats.min
    benchmark.extra_info.update({"records": N, "records_per_s": round(rate), "kernel": kernel})
    print(f"\nencode {N:,} records, {kernel} kernel: best {benchmark.stats.stats.min:.2f} s = {rate:,.0f} records/s; "
          f"{enc.counts.line()}")
    assert enc.counts.rows_in == N


def test_encode_1m_peak_memory(benchmark, tmp_path, families_1m):
    """Peak resident memory of `linkage encode` on the 1M-record extract, in a fresh process."""
    src = tmp_path / "a.parquet"
    families_1m.a.write_parquet(src)
    write_key(tmp_path / "k.key")
    code = textwrap.dedent(f"""
        import json, resource, sys
        import polars as pl
        import linkage as lk

        def high_water_mib():
            # VmHWM starts afresh at exec; ru_maxrss can carry the forking parent's size.
            try:
                for line in open("/proc/self/status"):
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
            except OSError:
                pass
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        df = pl.read_parquet({str(src)!r})
        before = high_water_mib()
        enc = lk.encode_frame(df, key=lk.read_key({str(tmp_path / 'k.key')!r}))
        print(json.dumps({{"before_mib": before, "peak_mib": high_water_mib()}}))
    """)
    out = benchmark.pedantic(subprocess.run, args=([sys.executable, "-c", code],),
                             kwargs={"capture_output": True, "text": True, "check": True}, rounds=1, iterations=1)
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nencode {N:,} records: peak RSS {mem['peak_mib']:.0f} MiB "
          f"({mem['before_mib']:.0f} MiB held before encoding: interpreter, libraries and the input frame)")
    benchmark.extra_info.update(mem)
    assert mem["peak_mib"] < 8 * 1024
