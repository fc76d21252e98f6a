"""Projected time of a national job on a cluster, from measured per-task costs.

    .venv/bin/python benchmarks/projection.py [--a 2000000] [--b 60000000] [--machines 1,4,16,64]

Inputs, all measured on this machine (2 cores) and committed under ``benchmarks/results/``:

- ``scale_200k_x_10m_default_keys.json`` (`scale.py --records 200000 --b-records 10000000`):
  seconds per candidate pair and per sample comparison, from the run's stage times, and the
  share of all pairs that the blocking keys make candidates;
- the client's cost of merging one part's scores into the running result, timed here for
  the projected A (it runs on the client, one part after another: the part that does not
  shrink with machines), and of the one-to-one assignment and threshold, scaled from the run.

The projection: candidates = share x A x B (the keys' share depends on how names and dates are
spread, not on the size of the files); sample = the sample's records x B; both divided among
the machines as the parts of B are (a million rows, or two parts per machine); plus the
command's merge of each part and its assignment and threshold, which do not divide. Machines like this one (2 cores,
AVX2); a cluster's network and file system are not modelled beyond the merge.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from machine import machine

from linkage.linker.block import Blocking
from linkage.linker.distribute import part_rows
from linkage.linker.score import TOP_K, Pairs, ScoreMerge, Scores

RESULTS = Path(__file__).parent / "results"
PART_ROWS = 1 << 20  # rows of a part whose merge is timed (its size does not matter to the merge)


def merge_seconds(n_a: int, top_k: int = 5, repeat: int = 3) -> float:
    """Seconds the client takes to merge one part's scores for ``n_a`` records of A."""
    rng = np.random.default_rng(0)
    k = max(TOP_K, top_k)
    merged = ScoreMerge(n_a, threshold=0.4, top_k=top_k)
    s = -np.sort(-rng.random((n_a, k)), axis=1)
    j = rng.integers(0, PART_ROWS, (n_a, k))
    part = Scores(Pairs.empty(), s[:, :TOP_K], "numba", 0, top=(s, j))
    times = []
    for r in range(repeat):
        t = time.perf_counter()
        merged.add(part, r * PART_ROWS)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=int, default=2_000_000, help="records of A (the council side, held in memory)")
    p.add_argument("--b", type=int, default=60_000_000, help="records of B (national, read in parts)")
    p.add_argument("--machines", default="1,4,16,64")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    run = json.loads((RESULTS / "scale_200k_x_10m_default_keys.json").read_text())
    n_a, n_b = run["records"], run["b_records"]
    stages, blk = run["seconds_by_stage"], run["blocking"]
    cores = 2
    per_candidate = stages["candidates"] * cores / blk["candidate_pairs"]  # core-seconds
    per_comparison = stages["sample"] * cores / (blk["sample_records"] * n_b)
    share = blk["candidate_pairs"] / (n_a * n_b)
    assign_per_a = stages["assignment_and_threshold"] / n_a
    sample = Blocking().sample_size(args.a, args.b)
    merge = merge_seconds(args.a)
    candidates = share * args.a * args.b
    work = candidates * per_candidate + sample * args.b * per_comparison  # core-seconds that divide
    assign = assign_per_a * args.a
    print(f"CPU: {machine()}")
    print(f"measured on {n_a:,} x {n_b:,}: {per_candidate * 1e9:.0f} ns a candidate, "
          f"{per_comparison * 1e9:.2f} ns a sample comparison (core time), candidates {share:.2e} of all pairs; "
          f"merging a part of {args.a:,} records' scores {merge:.2f} s")
    print(f"projected {args.a:,} x {args.b:,}: {candidates:,.0f} candidates, sample {sample:,} records; "
          f"{work / 3600:,.1f} core-hours that divide; assignment and threshold {assign / 60:.1f} min")
    rows = []
    for m in (int(x) for x in args.machines.split(",")):
        # One worker per machine using its cores; parts as linkage makes them (part_rows).
        parts = -(-args.b // part_rows(args.b, lists=len(blk["keys"]), workers=m))
        busy = min(m, parts) * cores
        serial = parts * merge + assign  # the command merges each part's scores, then assigns
        seconds = work / busy + serial
        rows.append({"machines": m, "cores": m * cores, "parts": parts, "minutes": round(seconds / 60, 1),
                     "client_minutes": round(serial / 60, 1)})
        print(f"  {m:>3} machines ({m * cores:>3} cores), {parts:>3} parts: {seconds / 60:7.1f} min "
              f"({serial / 60:.1f} min in the command's process)")
    if args.json:
        args.json.write_text(json.dumps({"a": args.a, "b": args.b, "candidates": candidates, "sample": sample,
                                         "core_hours": work / 3600, "assignment_seconds": assign,
                                         "per_candidate_ns": per_candidate * 1e9, "merge_seconds": merge,
                                         "projection": rows, "cpu": machine()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
