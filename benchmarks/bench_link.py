"""End-to-end `linkage link` on 100,000 x 100,000 encoded records, no blocking (~10^10 comparisons).

The two encoded files come from ``synth_families(100_000, seed=3)`` (A: 100,000 records, B a
few fewer), encoded with :func:`linkage.encode_frame` and written with
:func:`linkage.write_encoded`. The command runs once, in a fresh process, exactly as a user
runs it: interpreter start, reading and verifying both files, scoring, one-to-one solving,
threshold and writing the link table. Its wall time and peak resident memory are measured by
a small wrapper process whose only child is the command, so ``RUSAGE_CHILDREN``'s
``ru_maxrss`` is the command's own peak (the maximum over *all* children of the pytest process
would also count, say, clkhash's worker processes).

- ``default``: ``linkage link A B --out links.csv --quiet``: threshold estimated from the data
  (candidates from the floor, 0.4, up; the command's default ``--top-k`` bounds how many are
  kept per A record);
- ``threshold 0.8``: ``--threshold 0.8``: candidates from 0.75 (threshold - review width) up.

Keeping every pair above the 0.4 floor (``--top-k 0``) is left out on purpose: about 1.2% of
all pairs of these filters score 0.4 or more (~1.2 x 10^8 pairs), which takes minutes and
over 12 GiB.

Goals: under 60 s and under 2 GiB. A safety cap on the command's address space
(``LINKAGE_BENCH_MEM_CAP_GIB``, default 16; 0 for none) keeps a runaway from taking the
machine down; the command then fails with MemoryError and the benchmark says so.

Slow (about a minute per case on 2 cores): skip with ``-m "not slow"``.
Run: ``pytest benchmarks/bench_link.py --benchmark-only -s``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import linkage as lk
from linkage.format.links import summary_path

N = 100_000
GOAL_S = 60.0
GOAL_MIB = 2048.0
CAP_GIB = float(os.environ.get("LINKAGE_BENCH_MEM_CAP_GIB", "16"))
TIMEOUT_S = int(os.environ.get("LINKAGE_BENCH_LINK_TIMEOUT_S", "1200"))

# Runs the command as its only child: wall time, exit status, output, and the child's peak RSS.
_WRAPPER = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    cmd, cap, timeout = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    def limit():
        if cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", str(e.stdout or ""), str(e.stderr or "")
    wall = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": rc, "wall_s": wall, "peak_mib": peak_kib / 1024, "stdout": out, "stderr": err}))
""")


@pytest.fixture(scope="module")
def encoded_files(tmp_path_factory, key):
    folder = tmp_path_factory.mktemp("link")
    fam = lk.synth_families(N, seed=3)
    sizes = []
    for name, df in (("a", fam.a), ("b", fam.b)):
        enc = lk.encode_frame(df, key=key)
        lk.write_encoded(enc, folder / f"{name}.enc.parquet", provider=f"provider_{name}")
        sizes.append(len(enc))
    return folder, sizes


def _run_link(folder, out_name: str, extra: list[str]) -> dict:
    out = folder / out_name
    for p in (out, summary_path(out)):
        p.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "linkage", "link", str(folder / "a.enc.parquet"), str(folder / "b.enc.parquet"),
           "--out", str(out), "--quiet", *extra]
    cap = int(CAP_GIB * (1 << 30))
    res = subprocess.run([sys.executable, "-c", _WRAPPER, json.dumps(cmd), str(cap), str(TIMEOUT_S)],
                         capture_output=True, text=True, check=True)
    run = json.loads(res.stdout.strip().splitlines()[-1])
    run["cmd"] = "linkage link a.enc.parquet b.enc.parquet --out " + out_name + " --quiet " + " ".join(extra)
    run["out"] = out
    return run


@pytest.mark.slow
@pytest.mark.parametrize("case", ["default", "threshold 0.8"])
def test_link_100k(benchmark, encoded_files, case):
    folder, (na, nb) = encoded_files
    comparisons = na * nb
    extra = [] if case == "default" else ["--threshold", "0.8"]
    out_name = "links.csv" if case == "default" else "links_t08.csv"
    run = benchmark.pedantic(_run_link, args=(folder, out_name, extra), rounds=1, iterations=1)

    wall, peak = run["wall_s"], run["peak_mib"]
    rate = comparisons / wall
    ok_time, ok_mem = wall < GOAL_S, peak < GOAL_MIB
    benchmark.extra_info.update({
        "case": case, "records_a": na, "records_b": nb, "comparisons": comparisons,
        "wall_s": round(wall, 2), "comparisons_per_s": round(rate), "peak_rss_mib": round(peak),
        "goal_s": GOAL_S, "goal_mib": GOAL_MIB, "meets_time_goal": ok_time, "meets_memory_goal": ok_mem,
        "exit": run["rc"], "memory_cap_gib": CAP_GIB,
    })
    print(f"\n$ {run['cmd']}\n{run['stdout'].rstrip()}")
    if run["stderr"].strip():
        print(f"stderr: {run['stderr'].strip()[-2000:]}")
    print(f"link {na:,} x {nb:,} ({comparisons:,} comparisons, no blocking), {case}: exit {run['rc']}, "
          f"wall {wall:.1f} s ({'meets' if ok_time else 'MISSES'} the {GOAL_S:.0f} s goal), "
          f"{rate / 1e6:.0f} million comparisons/s end to end, peak RSS {peak:,.0f} MiB "
          f"({'meets' if ok_mem else 'MISSES'} the {GOAL_MIB / 1024:.0f} GiB goal)")

    if run["rc"] == "timeout":
        pytest.fail(f"`linkage link` ran past {TIMEOUT_S} s (LINKAGE_BENCH_LINK_TIMEOUT_S)")
    if run["rc"] != 0 and "NotImplementedError" in run["stderr"]:
        pytest.skip("threshold estimation is still a placeholder (NotImplementedError); the figures above "
                    "cover reading, scoring and solving up to that point")
    if run["rc"] != 0 and "MemoryError" in run["stderr"]:
        pytest.fail(f"`linkage link` ran out of memory under the {CAP_GIB:g} GiB safety cap "
                    "(LINKAGE_BENCH_MEM_CAP_GIB)")
    assert run["rc"] == 0, run["stderr"]
    summary = json.loads(summary_path(run["out"]).read_text())
    assert summary["comparisons"] == comparisons
    benchmark.extra_info["candidate_pairs"] = summary["candidate_pairs"]
    benchmark.extra_info["bands"] = summary["bands"]
