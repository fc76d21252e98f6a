"""End to end at scale: `linkage link` on encoded files of N x N synthetic records, time and peak memory.

    .venv/bin/python benchmarks/scale.py [--records 1000000] [--blocking keys] [--profile default]
                                         [--dir /tmp/linkage-scale]

Synthetic families (seed 1, B about the size of A, 65% overlap) are encoded once with a fixed
key, the chosen hardening profile and the blocking keys of ``benchmarks/blocking.py``, and
written to ``--dir`` (reused when there). Then `linkage link A B --blocking ...` runs as its own
process, timed, its peak resident memory read from the operating system; the links are
evaluated against the truth. The CPU is printed: timings are for this machine only.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from blocking import KEYS
from machine import machine

import linkage as lk

KEY = bytes(range(32))


def prepare(n: int, profile: str, folder: Path) -> tuple[Path, Path, Path]:
    """Encoded files of A and B and the truth, made once per size and profile."""
    folder.mkdir(parents=True, exist_ok=True)
    a, b, truth = (folder / f"{n}-{profile}-{x}" for x in ("a.enc.parquet", "b.enc.parquet", "truth.parquet"))
    if not (a.exists() and b.exists() and truth.exists()):
        t = time.perf_counter()
        data = lk.synth_families(n, seed=1)
        schema = lk.Schema(hardening={"profile": profile}, blocking_keys=KEYS)
        for frame, path in ((data.a, a), (data.b, b)):
            lk.write_encoded(lk.encode_frame(frame, schema, key=KEY), path, force=True)
        data.truth.write_parquet(truth)
        print(f"made and encoded {n:,} x {len(data.b):,} records in {time.perf_counter() - t:.0f} s", flush=True)
    return a, b, truth


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--blocking", default="keys")
    p.add_argument("--profile", default="default")
    p.add_argument("--dir", type=Path, default=Path("/tmp/linkage-scale"))
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    print(f"CPU: {machine()}", flush=True)
    a, b, truth = prepare(args.records, args.profile, args.dir)
    out = args.dir / f"{args.records}-{args.profile}-{args.blocking}.links.parquet"
    cmd = [str(Path(sys.executable).parent / "linkage"), "link", str(a), str(b), "--out", str(out),
           "--blocking", args.blocking, "--force", "--quiet"]
    t = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    print(run.stdout + run.stderr, flush=True)
    if run.returncode:
        raise SystemExit(run.returncode)
    links = pl.read_parquet(out)
    ev = lk.evaluate(links, pl.read_parquet(truth))
    summary = json.loads(Path(str(out) + ".summary.json").read_text())
    row = {"records": args.records, "profile": args.profile, "blocking": summary["blocking"],
           "seconds": round(seconds, 1), "peak_gib": round(peak / 2**30, 2), "precision": round(ev.precision, 4),
           "recall": round(ev.recall, 4), "f1": round(ev.f1, 4), "estimated": summary.get("estimated"),
           "comparisons": summary["comparisons"], "cpu": machine()}
    print(json.dumps({k: v for k, v in row.items() if k != "estimated"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
