"""End to end at scale: `linkage link` on encoded files of N x N synthetic records, time and peak memory.

    .venv/bin/python benchmarks/scale.py [--records 1000000] [--b-records N] [--blocking keys]
                                         [--profile default] [--dir /tmp/linkage-scale] [--json OUT]

Synthetic families (seed 1, 65% of A's people in B; B about the size of A, or ``--b-records``
rows: a national file against a council's) are encoded once, a million rows at a time, with a
fixed key, the chosen hardening profile and the blocking keys of ``benchmarks/blocking.py``, and
written to ``--dir`` (reused when there). Then `linkage link A B --blocking ...` runs as its own
process, timed, its peak resident memory read from the operating system; the links are
evaluated against the truth. The CPU is printed: timings are for this machine only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from blocking import KEYS
from machine import machine

import linkage as lk
from linkage.format.encoded import Counts

KEY = bytes(range(32))


def encode_in_slices(frame: pl.DataFrame, schema: lk.Schema, rows: int = 1_000_000) -> lk.Encoded:
    """One Encoded of a large frame, encoded a slice at a time (as a provider would do it)."""
    parts = [lk.encode_frame(frame.slice(r, rows), schema, key=KEY) for r in range(0, len(frame), rows)]
    if len(parts) == 1:
        return parts[0]
    counts = Counts(*(sum(getattr(p.counts, f) for p in parts)
                         for f in ("rows_in", "encoded", "rejected", "opted_out")))
    return dataclasses.replace(
        parts[0], record_ids=pl.concat([p.record_ids for p in parts]), clks=np.concatenate([p.clks for p in parts]),
        block_keys=np.concatenate([p.block_keys for p in parts]), counts=counts, field_issues={})


def prepare(n: int, profile: str, folder: Path, b_records: int | None = None) -> tuple[Path, Path, Path]:
    """Encoded files of A and B and the truth, made once per size and profile."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{n}-{profile}" if b_records is None else f"{n}x{b_records}-{profile}"
    a, b, truth = (folder / f"{stem}-{x}" for x in ("a.enc.parquet", "b.enc.parquet", "truth.parquet"))
    if not (a.exists() and b.exists() and truth.exists()):
        t = time.perf_counter()
        data = lk.synth_families(n, seed=1, b_records=b_records)
        schema = lk.Schema(hardening={"profile": profile}, blocking_keys=KEYS)
        for frame, path in ((data.a, a), (data.b, b)):
            lk.write_encoded(encode_in_slices(frame, schema), path, force=True)
        data.truth.write_parquet(truth)
        print(f"made and encoded {n:,} x {len(data.b):,} records in {time.perf_counter() - t:.0f} s", flush=True)
    return a, b, truth


def pair_completeness(a: Path, b: Path, truth: Path) -> float:
    """Share of the true pairs that blocking made candidates: those sharing a blocking key (0: none)."""
    t = pl.read_parquet(truth)
    keys = [pl.read_parquet(p).drop("clk") for p in (a, b)]
    cols = [c for c in keys[0].columns if c.startswith("block_key_")]
    both = t.join(keys[0], left_on="id_a", right_on="record_id").join(keys[1], left_on="id_b", right_on="record_id",
                                                                       suffix="_b")
    hit = pl.any_horizontal([(pl.col(c) == pl.col(f"{c}_b")) & (pl.col(c) != 0) for c in cols])
    return round(both.select(hit.mean()).item() * len(both) / len(t), 5)  # a true pair not encoded is missed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--b-records", type=int, help="rows of B (default: about the size of A)")
    p.add_argument("--blocking", default="keys")
    p.add_argument("--profile", default="default")
    p.add_argument("--workers", type=int, help="run on a local Dask cluster of this many workers")
    p.add_argument("--worker-threads", type=int, default=1, help="threads of each Dask worker")
    p.add_argument("--dir", type=Path, default=Path("/tmp/linkage-scale"))
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    print(f"CPU: {machine()}", flush=True)
    a, b, truth = prepare(args.records, args.profile, args.dir, args.b_records)
    tag = args.blocking + (f"-dask{args.workers}" if args.workers else "")
    out = Path(str(b).replace("-b.enc.parquet", f"-{tag}.links.parquet"))
    cmd = [str(Path(sys.executable).parent / "linkage"), "link", str(a), str(b), "--out", str(out),
           "--blocking", args.blocking, "--force", "--quiet"]
    cmd += ["--workers", str(args.workers), "--worker-threads", str(args.worker_threads)] if args.workers else []
    t = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    # KiB on Linux; the largest process: the linker, or with Dask its biggest worker
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(run.stdout + run.stderr, flush=True)
    if run.returncode:
        raise SystemExit(run.returncode)
    links = pl.read_parquet(out)
    ev = lk.evaluate(links, pl.read_parquet(truth))
    summary = json.loads(Path(str(out) + ".summary.json").read_text())
    row = {"records": args.records, "b_records": summary["inputs"]["b"]["records"], "profile": args.profile,
           "blocking": summary["blocking"], "engine": summary["engine"], "seconds": round(seconds, 1),
           "seconds_by_stage": summary["seconds_by_stage"], "peak_gib": round(peak / 2**30, 2),
           "pair_completeness": pair_completeness(a, b, truth) if args.blocking == "keys" else None,
           "precision": round(ev.precision, 4),
           "recall": round(ev.recall, 4), "f1": round(ev.f1, 4), "estimated": summary.get("estimated"),
           "comparisons": summary["comparisons"], "cpu": machine()}
    print(json.dumps({k: v for k, v in row.items() if k != "estimated"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
