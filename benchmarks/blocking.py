"""Blocking against all-pairs scoring: pairs kept, comparisons removed, quality and time.

    .venv/bin/python benchmarks/blocking.py [--records 10000,100000] [--profiles none,default]
                                            [--methods lsh,keys] [--json OUT]

For FEBRL4 and synthetic families of each size (B the same size, 65% overlap), encoded with
each hardening profile and a fixed key, `link` runs with every pair scored and with each
blocking method (LSH; the providers' keys, :data:`KEYS`), the threshold estimated without
labels. Reported: F1 of both; pair completeness (the share of all-pairs scoring's true
matches that blocking still links); the reduction ratio (pairs that are not candidates) and
the share of pairs scored (candidates and the sample of A scored against all of B); the
completeness blocking estimated for itself; estimated against true recall; and seconds. The
CPU is printed: timings are for this machine only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))  # first: its conftest
from conftest import TEST_KEY, febrl4_frames
from machine import machine as cpu

import linkage as lk
from linkage.linker.block import Blocking
from linkage.research.synth import synth_families

# The keys the README suggests: each needs one field right and another close.
KEYS = [["date_of_birth"], ["soundex(first_name)", "soundex(last_name)"], ["soundex(first_name)", "postcode"],
        ["soundex(last_name)", "year(date_of_birth)"], ["soundex(first_name)", "year(date_of_birth)"],
        ["soundex(first_name)", "month_day(date_of_birth)"], ["soundex(last_name)", "month_day(date_of_birth)"]]


def measure(name: str, a: pl.DataFrame, b: pl.DataFrame, truth: pl.DataFrame, profile: str,
            methods: list[str]) -> list[dict]:
    """All-pairs scoring once, then each blocking method, on one data set encoded with one profile."""
    schema = lk.Schema(hardening={"profile": profile}, blocking_keys=KEYS)  # keys do not change the filters
    ea, eb = lk.encode_frame(a, schema, key=TEST_KEY), lk.encode_frame(b, schema, key=TEST_KEY)
    t = time.perf_counter()
    full = lk.link(ea, eb, blocking="none")
    t_full = time.perf_counter() - t
    found = full.links.filter(pl.col("band") == "match").join(truth, on=["id_a", "id_b"], how="semi")
    ev_full = lk.evaluate(full.links, truth)
    rows = []
    for method in methods:
        t = time.perf_counter()
        try:
            blk = lk.link(ea, eb, blocking=Blocking(method))
        except lk.LinkageError as e:  # LSH that would not fit is refused: say so in the table
            row = {"data": name, "profile": profile, "records": f"{len(ea):,} x {len(eb):,}", "method": method,
                   "f1_all_pairs": round(ev_full.f1, 4), "refused": str(e)}
            print(json.dumps(row), flush=True)
            rows.append(row)
            continue
        t_blk = time.perf_counter() - t
        kept = found.join(blk.links.filter(pl.col("band") == "match"), on=["id_a", "id_b"], how="semi")
        ev_blk = lk.evaluate(blk.links, truth)
        s = blk.summary()
        info = s["blocking"]
        est = s.get("estimated", {})
        row = {
            "data": name, "profile": profile, "records": f"{len(ea):,} x {len(eb):,}", "method": info["method"],
            "f1_all_pairs": round(ev_full.f1, 4), "f1_blocked": round(ev_blk.f1, 4),
            "pair_completeness": round(kept.height / max(found.height, 1), 4),
            "reduction_ratio": round(info.get("reduction_ratio", 0.0), 5),  # of the candidate pairs
            "scored_share": round(s["comparisons"] / (len(ea) * len(eb)), 4),  # candidates and the sample
            "bands": info.get("bands"), "bits_per_band": info.get("bits_per_band"),
            "estimated_completeness": info.get("estimated_completeness"),
            "recall_estimated": round(est.get("recall", float("nan")), 4), "recall_true": round(ev_blk.recall, 4),
            "seconds_all_pairs": round(t_full, 1), "seconds_blocked": round(t_blk, 1),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", default="10000", help="sizes of synthetic A (and B), comma-separated")
    p.add_argument("--profiles", default="none,default")
    p.add_argument("--methods", default="lsh,keys", help="blocking methods to compare with all pairs")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    print(f"CPU: {cpu()}", flush=True)
    sets = {"FEBRL4": febrl4_frames()}
    for n in (int(x) for x in args.records.split(",")):
        d = synth_families(n, seed=0)
        sets[f"synthetic {n:,}"] = (d.a, d.b, d.truth)
    rows = [row for name, (a, b, truth) in sets.items() for profile in args.profiles.split(",")
            for row in measure(name, a, b, truth, profile, args.methods.split(","))]
    with pl.Config(tbl_rows=40, tbl_cols=20, tbl_width_chars=250):
        print(pl.DataFrame(rows))
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
