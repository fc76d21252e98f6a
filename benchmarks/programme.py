"""Many files into clusters: our no-label run against anonlink's multi-party greedy solver with its
threshold chosen with the labels, on the same encodings of a synthetic programme.

    .venv/bin/python benchmarks/programme.py [--cohort 14000] [--seeds 1,2,3] [--ceiling] [--out FILE.json]

(anonlink comes with the ``peers`` extra: ``make bench`` installs it.)

For each seed, :func:`linkage.research.synth.synth_programme` makes three councils' cohort files and
benefits, offending and school files (families, twins, families in two councils, duplicate benefit
claims, aliases); each is encoded with the default schema and one fixed key. Then, on the very same
filters:

- **ours**: ``link_many`` with default settings and no labels, without and with ``dedupe``; and
  the same runs' links clustered without keeping apart the files that share nobody; with
  ``dedupe``, each pair of files' threshold and estimates beside the truth;
- **ours, oracle threshold**: our pairwise links re-clustered at one threshold chosen with the
  labels (the best any single threshold could do with our solver, keeping apart the same pairs
  of files), to show what the no-label thresholds give away;
- **anonlink**: ``find_candidate_pairs`` (Dice, top 10 per record per pair of files, from 0.5) and
  ``greedy_solve``, the multi-party greedy solver, at the threshold on a grid that the labels say
  is best.

With ``--ceiling``, on the largest pair of files (a council with benefits): our links without
labels, at the best threshold in hindsight, and a supervised model on the plaintext (what the
identifiers themselves can carry, with labels).

Quality is pairwise over records in one cluster (:func:`linkage.research.evaluate.evaluate_clusters`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from array import array
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from conftest import TEST_KEY
from machine import machine

import linkage as lk
from linkage.linker.cluster import greedy_clusters, link_many
from linkage.research.evaluate import evaluate_clusters
from linkage.research.synth import PROGRAMME_PROVIDERS, synth_programme

GRID = np.round(np.arange(0.54, 0.701, 0.01), 3)
CANDIDATE_FLOOR = 0.5  # anonlink's candidates, and our links for the oracle threshold, from here
ANONLINK_K = 10


def encode(data) -> list:
    """Each provider's extract encoded with the default schema and the fixed test key, labelled."""
    return [dataclasses.replace(lk.encode_frame(data.extracts[p], key=TEST_KEY), provider=p)
            for p in PROGRAMME_PROVIDERS]


def quality(clusters: pl.DataFrame, truth: pl.DataFrame) -> dict:
    ev = evaluate_clusters(clusters, truth)
    return {"precision": round(ev.precision, 4), "recall": round(ev.recall, 4), "f1": round(ev.f1, 4),
            "exact": round(ev.exact, 4), "true_positives": ev.true_positives, "predicted_pairs": ev.predicted_pairs,
            "true_pairs": ev.true_pairs}


def cluster_frame(files, root: np.ndarray) -> pl.DataFrame:
    ids = pl.concat([f.record_ids.cast(pl.Utf8) for f in files])
    provider = np.repeat(np.array([f.provider for f in files], dtype=object), [len(f) for f in files])
    return pl.DataFrame({"linkage_id": root.astype(str), "provider": provider.astype(str), "record_id": ids})


def with_nodes(files, pairs: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Links between providers' records with each record's row among all files (``a``, ``b``), and
    each row's provider index: what :func:`greedy_clusters` takes."""
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in files])])
    node = pl.concat([pl.DataFrame({"provider": f.provider, "record_id": f.record_ids.cast(pl.Utf8),
                                    "node": np.arange(offsets[k], offsets[k + 1])}) for k, f in enumerate(files)])
    joined = pairs.join(node.rename({"provider": "provider_a", "record_id": "id_a", "node": "a"}),
                        on=["provider_a", "id_a"], maintain_order="left").join(
        node.rename({"provider": "provider_b", "record_id": "id_b", "node": "b"}), on=["provider_b", "id_b"],
        maintain_order="left")
    return joined, np.repeat(np.arange(len(files)), np.diff(offsets))


def oracle_threshold(files, truth: pl.DataFrame, apart: list[list[str]]) -> dict:
    """Our pairwise links from the floor (one-to-one per pair of files), clustered at each grid threshold
    (keeping ``apart`` the pairs of files that our run without labels found to share nobody)."""
    res = link_many(files, threshold=CANDIDATE_FLOOR)
    pairs, provider_of = with_nodes(files, res.pairs)
    index = {f.provider: k for k, f in enumerate(files)}
    best = None
    for t in GRID:
        keep = pairs.filter(pl.col("score") >= t)
        root, _ = greedy_clusters(keep["a"].to_numpy(), keep["b"].to_numpy(), keep["score"].to_numpy(), provider_of,
                                  apart=[(index[p], index[q]) for p, q in apart])
        q = quality(cluster_frame(files, root), truth) | {"threshold": float(t)}
        if best is None or q["f1"] > best["f1"]:
            best = q
    return best


def anonlink_best(files, truth: pl.DataFrame) -> dict:
    from anonlink.candidate_generation import find_candidate_pairs
    from anonlink.similarities import dice_coefficient_accelerated
    from anonlink.solving import greedy_solve
    from bitarray import bitarray

    def bitarrays(clks: np.ndarray) -> list:
        out = []
        for row in clks.view(np.uint8).reshape(len(clks), -1):
            ba = bitarray(endian="big")
            ba.frombytes(row.tobytes())
            out.append(ba)
        return out

    started = time.perf_counter()
    sims, (d0, d1), (r0, r1) = find_candidate_pairs([bitarrays(np.asarray(f.clks)) for f in files],
                                                    dice_coefficient_accelerated, CANDIDATE_FLOOR, k=ANONLINK_K)
    sims, d0, d1, r0, r1 = (np.frombuffer(x, dtype=x.typecode) for x in (sims, d0, d1, r0, r1))
    seconds = time.perf_counter() - started
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in files])])
    best = None
    for t in GRID:
        keep = sims >= t
        cand = (array(sims.dtype.char, sims[keep]), tuple(array(x.dtype.char, x[keep]) for x in (d0, d1)),
                tuple(array(x.dtype.char, x[keep]) for x in (r0, r1)))
        root = np.arange(offsets[-1])
        for g, group in enumerate(greedy_solve(cand)):
            for dset, rec in group:
                root[offsets[dset] + rec] = offsets[-1] + g
        q = quality(cluster_frame(files, root), truth) | {"threshold": float(t)}
        if best is None or q["f1"] > best["f1"]:
            best = q
    return best | {"candidate_seconds": round(seconds, 1)}


def _pair_truth(truth: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    ta = truth.filter(pl.col("provider") == a).select("record_id", "person_id")
    tb = truth.filter(pl.col("provider") == b).select("record_id", "person_id")
    return ta.join(tb, on="person_id").select(pl.col("record_id").alias("id_a"),
                                              pl.col("record_id_right").alias("id_b"))


def _plain_features(va: pl.DataFrame, vb: pl.DataFrame) -> np.ndarray:
    """Comparison features of standardised plaintext, row by row (a benchmark only: Python per pair)."""
    import jellyfish

    jw = jellyfish.jaro_winkler_similarity

    def sim(x, y, f=jw):
        return -1.0 if x is None or y is None else float(f(x, y))

    rows = []
    for ra, rb in zip(va.iter_rows(named=True), vb.iter_rows(named=True)):
        fa, la, fb, lb = ra["first_name"], ra["last_name"], rb["first_name"], rb["last_name"]
        da, db, pa, pb = ra["date_of_birth"], rb["date_of_birth"], ra["postcode"], rb["postcode"]
        row = [sim(fa, fb), sim(la, lb), max(sim(fa, lb), sim(la, fb)),
               sim(fa, fb, lambda x, y: jellyfish.soundex(x) == jellyfish.soundex(y))]
        if da and db:
            ya, ma, dda = da.split("-")
            yb, mb, ddb = db.split("-")
            row += [da == db, ya == yb, ma == mb, dda == ddb, (ma, dda) == (ddb, mb),
                    sum(x != y for x, y in zip(da, db))]
        else:
            row += [-1.0] * 6
        row += [sim(pa, pb, lambda x, y: x == y), sim(pa, pb, lambda x, y: x.split()[0] == y.split()[0]),
                sim(pa, pb, lambda x, y: x[:-2] == y[:-2]), sim(pa, pb),
                sim(ra["sex"], rb["sex"], lambda x, y: x == y)]
        rows.append([float(v) for v in row])
    return np.array(rows)


def _dice_of(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Dice of the given pairs of rows of packed filters."""
    x, y = np.unpackbits(a.view(np.uint8)[i], axis=1), np.unpackbits(b.view(np.uint8)[j], axis=1)
    return 2 * (x & y).sum(1) / np.maximum(x.sum(1) + y.sum(1), 1)


def ceiling(data, files, a: str = "council_1", b: str = "dwp") -> dict:
    """One pair of files: ours without labels; the best threshold of our links with labels; and a
    supervised model on the plaintext (5-fold cross-validated gradient boosting on name, date and
    postcode comparisons and the Dice score; candidates: each record's 10 best by Dice, and pairs
    that agree on date of birth or on both names), one-to-one, at its best cut."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from linkage.linker.score import Pairs, dice_pairs
    from linkage.linker.solve import solve_one_to_one
    from linkage.provider.standardise import standardise_frame

    by = {f.provider: f for f in files}
    truth = _pair_truth(data.truth, a, b)
    ours = lk.evaluate(lk.link(by[a], by[b]).links, truth)
    floor = lk.link(by[a], by[b], threshold=CANDIDATE_FLOOR)
    best = lk.evaluate(floor.links, truth).curve.sort("f1", descending=True).row(0, named=True)
    schema = lk.Schema()
    values = {p: standardise_frame(data.extracts[p], schema).values for p in (a, b)}
    rows = {p: pl.DataFrame({"record_id": by[p].record_ids.cast(pl.Utf8)}).join(
        values[p], on="record_id", how="left", maintain_order="left") for p in (a, b)}
    dice = dice_pairs(np.asarray(by[a].clks), np.asarray(by[b].clks), threshold=0.3, top_k=ANONLINK_K).pairs
    # Plaintext candidates too: pairs that agree on date of birth, or on both names.
    ra, rb = rows[a].with_row_index("i"), rows[b].with_row_index("j")
    extra = pl.concat([ra.drop_nulls(on).join(rb.drop_nulls(on), on=on).select("i", "j")
                       for on in (["date_of_birth"], ["first_name", "last_name"])])
    ij = pl.concat([pl.DataFrame({"i": dice.i, "j": dice.j}).cast(pl.UInt32), extra.cast(pl.UInt32)]).unique()
    ij = ij.sort("i", "j")
    cand = Pairs(ij["i"].to_numpy().astype(np.int64), ij["j"].to_numpy().astype(np.int64), np.zeros(len(ij)))
    X = _plain_features(rows[a][cand.i], rows[b][cand.j])
    pa, pb = np.asarray(by[a].clks), np.asarray(by[b].clks)
    X = np.c_[X, _dice_of(pa, pb, cand.i, cand.j)]
    ida, idb = rows[a]["record_id"].to_numpy()[cand.i], rows[b]["record_id"].to_numpy()[cand.j]
    true = set(zip(truth["id_a"].to_list(), truth["id_b"].to_list()))
    y = np.array([(x, z) in true for x, z in zip(ida, idb)])
    # Folds by A record: a record's candidates are never split between training and testing.
    prob = cross_val_predict(HistGradientBoostingClassifier(max_iter=300, random_state=0), X, y,
                             groups=cand.i, cv=GroupKFold(n_splits=5), method="predict_proba")[:, 1]
    plain = None
    for cut in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        keep = prob >= cut
        linked = solve_one_to_one(Pairs(cand.i[keep], cand.j[keep], prob[keep]))
        pairs = set(zip(rows[a]["record_id"].to_numpy()[linked.i], rows[b]["record_id"].to_numpy()[linked.j]))
        tp = len(pairs & true)
        prec, rec = tp / max(len(pairs), 1), tp / len(true)
        f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
        if plain is None or f1 > plain["f1"]:
            plain = {"cut": cut, "precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4)}
    return {"pair": f"{a} x {b}", "true_pairs": len(true),
            "ours": {"precision": round(ours.precision, 4), "recall": round(ours.recall, 4), "f1": round(ours.f1, 4)},
            "ours_links_best_threshold": {k: round(float(v), 4) for k, v in best.items() if k != "links"},
            "plaintext_supervised": plain, "true_pairs_among_candidates": int(y.sum())}


def not_apart(files, res) -> pl.DataFrame:
    """The same run's match links clustered without keeping any pair of files apart."""
    match, provider_of = with_nodes(files, res.pairs.filter(pl.col("band") == "match"))
    root, _ = greedy_clusters(match["a"].to_numpy(), match["b"].to_numpy(), match["score"].to_numpy(), provider_of,
                              same=(match["provider_a"] == match["provider_b"]).to_numpy())
    return cluster_frame(files, root)


def per_pair(res, truth: pl.DataFrame) -> list[dict]:
    """Each pair of files (and each file with itself): threshold, where it came from, the estimates
    made without labels, and the true pairwise quality of the clusters for that pair of providers."""
    true = evaluate_clusters(res.clusters, truth).by_providers
    out = []
    for p in res.summary["pairs_of_files"] + [{"provider_a": d["provider"], "provider_b": d["provider"],
                                               "threshold": d["threshold"], "threshold_source": "dedupe"}
                                              for d in res.summary["duplicates"]]:
        a, b = sorted((p["provider_a"], p["provider_b"]))
        t = true.filter((pl.col("provider_a") == a) & (pl.col("provider_b") == b))
        est = p.get("estimated") or {}
        out.append({"pair": f"{a} x {b}", "threshold": p["threshold"], "source": p["threshold_source"],
                    "estimated_precision": est.get("precision"), "estimated_recall": est.get("recall"),
                    **({k: (round(v, 4) if isinstance(v, float) else v) for k, v in t.row(0, named=True).items()
                        if k in ("true", "predicted", "precision", "recall", "f1")} if len(t) else {})})
    return out


def run(cohort: int, seed: int, with_ceiling: bool) -> dict:
    data = synth_programme(cohort, seed=seed)
    files = encode(data)
    row: dict = {"seed": seed, "records": {f.provider: len(f) for f in files}}
    for dedupe in (False, True):
        started = time.perf_counter()
        res = link_many(files, dedupe=dedupe)
        row["apart"] = res.summary["apart"]
        name = "ours_dedupe" if dedupe else "ours"
        row[name] = quality(res.clusters, data.truth) | {"seconds": round(time.perf_counter() - started, 1)}
        print(seed, name, row[name], flush=True)
        row[f"{name}_not_apart"] = quality(not_apart(files, res), data.truth)
        print(seed, f"{name}, no files kept apart", row[f"{name}_not_apart"], flush=True)
        if dedupe:
            row["pairs_of_files"] = per_pair(res, data.truth)
    row["ours_oracle_threshold"] = oracle_threshold(files, data.truth, row["apart"])
    print(seed, "ours, oracle threshold", row["ours_oracle_threshold"], flush=True)
    row["anonlink_label_tuned"] = anonlink_best(files, data.truth)
    print(seed, "anonlink, label-tuned", row["anonlink_label_tuned"], flush=True)
    if with_ceiling:
        row["ceiling"] = ceiling(data, files)
        print(seed, "ceiling", row["ceiling"], flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", type=int, default=14_000)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--ceiling", action="store_true",
                    help="also measure what one pair of files can reach with labels, encoded and in plaintext")
    args = ap.parse_args()
    rows = [run(args.cohort, int(s), args.ceiling) for s in args.seeds.split(",")]
    result = {"machine": machine(), "cohort": args.cohort, "runs": rows}
    for name in ("ours", "ours_not_apart", "ours_dedupe", "ours_dedupe_not_apart", "ours_oracle_threshold",
                 "anonlink_label_tuned"):
        f1 = [r[name]["f1"] for r in rows]
        result[f"mean_f1_{name}"] = round(float(np.mean(f1)), 4)
        print(f"{name:<24} F1 mean {np.mean(f1):.4f} (min {min(f1):.4f}, max {max(f1):.4f})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
