"""Quality of links against ground truth: precision, recall, F1, curves and histograms.

Computation only; :mod:`linkage.research.plots` draws the results. Recall is measured against every
true pair in the truth table, so true pairs that were never scored count as missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..errors import InputError
from ..format.encoded import Encoded
from ..format.links import MATCH

__all__ = ["ClusterEvaluation", "Evaluation", "as_frame", "evaluate", "evaluate_clusters", "pair_completeness",
           "score_histogram", "threshold_curve"]


def as_frame(df: Any, *, columns: tuple[str, ...], what: str) -> pl.DataFrame:
    """A polars frame (pandas accepted) that has ``columns``; a clear error otherwise."""
    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df)
        except Exception:
            raise InputError(f"{what}: expected a polars or pandas DataFrame") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)} (needs {', '.join(columns)})")
    return df


@dataclass(frozen=True)
class Evaluation:
    """Quality of the ``match`` links, and curves over all scored links."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    truth_pairs: int
    curve: pl.DataFrame
    histogram: pl.DataFrame

    def __str__(self) -> str:
        return self.table()

    def table(self) -> str:
        rows = [
            ("true pairs", f"{self.truth_pairs:,}"),
            ("links (match)", f"{self.true_positives + self.false_positives:,}"),
            ("true positives", f"{self.true_positives:,}"),
            ("false positives", f"{self.false_positives:,}"),
            ("false negatives", f"{self.false_negatives:,}"),
            ("precision", f"{self.precision:.4f}"),
            ("recall", f"{self.recall:.4f}"),
            ("F1", f"{self.f1:.4f}"),
        ]
        return "\n".join(f"  {k:<16} {v:>10}" for k, v in rows)


def _prf(tp: np.ndarray, fp: np.ndarray, n_true: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp, fp = np.asarray(tp, dtype=np.float64), np.asarray(fp, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        r = tp / n_true if n_true else np.zeros_like(tp)
        f = np.where(2 * tp + fp + (n_true - tp) > 0, 2 * tp / (2 * tp + fp + (n_true - tp)), 0.0)
    return p, r, f


def threshold_curve(score: np.ndarray, is_true: np.ndarray, n_true: int, grid: np.ndarray) -> pl.DataFrame:
    """Precision, recall and F1 of the links with score >= t, for each t in ``grid``."""
    order = np.argsort(-score, kind="stable")
    s, t = score[order], is_true[order]
    cum_true = np.concatenate([[0], np.cumsum(t)])
    n_at = np.searchsorted(-s, -grid, side="right")  # links with score >= threshold
    tp = cum_true[n_at]
    fp = n_at - tp
    p, r, f = _prf(tp, fp, n_true)
    return pl.DataFrame({"threshold": grid, "links": n_at, "precision": p, "recall": r, "f1": f})


def score_histogram(score: np.ndarray, is_true: np.ndarray, *, bins: int = 50) -> pl.DataFrame:
    """Counts of true and false links per score bin on [0, 1]."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    t, _ = np.histogram(score[is_true], bins=edges)
    f, _ = np.histogram(score[~is_true], bins=edges)
    return pl.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "true": t, "false": f})


def evaluate(links: Any, truth: Any, *, grid_step: float = 0.005) -> Evaluation:
    """Precision, recall and F1 of the ``match`` links against ``truth`` (``id_a, id_b``).

    Links without a ``band`` column all count as matches. The curve covers every link given,
    so a link table written with a low ``min_score`` shows the whole trade-off.
    """
    links = as_frame(links, columns=("id_a", "id_b", "score"), what="links")
    truth = as_frame(truth, columns=("id_a", "id_b"), what="truth")
    truth = truth.select(pl.col("id_a").cast(pl.Utf8), pl.col("id_b").cast(pl.Utf8)).unique()
    flagged = links.with_columns(pl.col("id_a").cast(pl.Utf8), pl.col("id_b").cast(pl.Utf8)).join(
        truth.with_columns(pl.lit(True).alias("_true")), on=["id_a", "id_b"], how="left"
    )
    is_true = flagged["_true"].fill_null(False).to_numpy()
    score = flagged["score"].cast(pl.Float64).to_numpy()
    is_match = (flagged["band"] == MATCH).to_numpy() if "band" in flagged.columns else np.ones(len(score), bool)
    n_true = truth.height
    tp = int((is_true & is_match).sum())
    fp = int((~is_true & is_match).sum())
    p, r, f = (float(x[0]) for x in _prf(np.array([tp]), np.array([fp]), n_true))
    lo = float(np.floor(score.min() / grid_step) * grid_step) if len(score) else 0.0
    grid = np.round(np.arange(lo, 1.0 + grid_step / 2, grid_step), 6)
    return Evaluation(
        precision=p,
        recall=r,
        f1=f,
        true_positives=tp,
        false_positives=fp,
        false_negatives=n_true - tp,
        truth_pairs=n_true,
        curve=threshold_curve(score, is_true, n_true, grid),
        histogram=score_histogram(score, is_true),
    )


def pair_completeness(truth: Any, a: Encoded, b: Encoded, blocking: dict[str, Any]) -> tuple[float, int]:
    """Share of the true pairs that blocking made candidates, and how many true pairs there are.

    ``blocking`` is the ``blocking`` entry of a link summary: with ``keys``, a true pair is a
    candidate when its records share a blocking key; with ``lsh``, when they agree on every
    sampled bit of some band (the plan's positions). A true pair whose record is missing from
    either file (not encoded) counts as missed; the sample that blocking scores against all of B is
    not counted, so this is a lower bound for those few records.
    """
    from ..linker.block import band_signatures

    truth = as_frame(truth, columns=("id_a", "id_b"), what="truth")
    rows = []
    for enc, col in ((a, "id_a"), (b, "id_b")):
        index = pl.DataFrame({col: enc.record_ids, "row": np.arange(len(enc))})
        rows.append(truth.select(col).join(index, on=col, how="left", maintain_order="left")["row"].to_numpy())
    ok = ~(np.isnan(rows[0].astype(float)) | np.isnan(rows[1].astype(float)))
    ia, ib = (r[ok].astype(np.int64) for r in rows)
    method = blocking.get("method", "none")
    if method == "keys":
        if a.block_keys is None or b.block_keys is None:
            raise InputError("the links were blocked on keys but the encoded files carry none")
        ka, kb = a.block_keys[ia], b.block_keys[ib]
        hit = ((ka == kb) & (ka != 0)).any(axis=1)
    elif method == "lsh":
        if "positions" not in blocking:
            raise InputError("the link summary does not say which bits LSH sampled (written by an older linkage); "
                             "link again to measure pair completeness")
        hit = np.zeros(len(ia), dtype=bool)
        for pos in np.asarray(blocking["positions"], dtype=np.int64):
            hit |= band_signatures(a.clks[ia], pos) == band_signatures(b.clks[ib], pos)
    else:
        hit = np.ones(len(ia), dtype=bool)
    n = len(truth)
    return (float(hit.sum() / n) if n else 1.0), n


@dataclass(frozen=True)
class ClusterEvaluation:
    """Pairwise quality of clusters against the truth: overall, per pair of providers, and whole people.

    A pair of records is predicted when they share a cluster and true when they are one
    person; ``exact`` is the share of people whose records are exactly one cluster.
    """

    precision: float
    recall: float
    f1: float
    predicted_pairs: int
    true_pairs: int
    true_positives: int
    exact: float
    people: int
    by_providers: pl.DataFrame  # provider_a, provider_b, predicted, true, true_positives, precision, recall, f1

    def table(self) -> str:
        rows = [("people", f"{self.people:,}"), ("true pairs", f"{self.true_pairs:,}"),
                ("predicted pairs", f"{self.predicted_pairs:,}"), ("true positives", f"{self.true_positives:,}"),
                ("precision", f"{self.precision:.4f}"), ("recall", f"{self.recall:.4f}"), ("F1", f"{self.f1:.4f}"),
                ("exact clusters", f"{self.exact:.4f}")]
        return "\n".join(f"  {k:<16} {v:>10}" for k, v in rows)


def _pairs_within(groups: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Pairs of records within each group of ``keys``, counted per pair of providers (a <= b)."""
    counts = groups.group_by([*keys, "provider"]).len()
    left = counts.rename({"provider": "provider_a", "len": "n_a"})
    right = counts.rename({"provider": "provider_b", "len": "n_b"})
    both = left.join(right, on=keys).filter(pl.col("provider_a") <= pl.col("provider_b"))
    pairs = pl.when(pl.col("provider_a") == pl.col("provider_b")).then(pl.col("n_a") * (pl.col("n_a") - 1) // 2) \
        .otherwise(pl.col("n_a") * pl.col("n_b"))
    return both.group_by("provider_a", "provider_b").agg(pairs.sum().alias("pairs"))


def evaluate_clusters(clusters: Any, truth: Any) -> ClusterEvaluation:
    """Pairwise precision, recall and F1 of ``clusters`` (``linkage_id, provider, record_id``)
    against ``truth`` (``provider, record_id, person_id``), overall and per pair of providers.

    Records in the clusters but not in the truth are people of their own; true records left
    out of the clusters are never paired, so their pairs count as missed.
    """
    clusters = as_frame(clusters, columns=("linkage_id", "provider", "record_id"), what="clusters")
    truth = as_frame(truth, columns=("provider", "record_id", "person_id"), what="truth")
    key = ["provider", "record_id"]
    as_text = [pl.col(k).cast(pl.Utf8) for k in key]
    c = clusters.select(*as_text, pl.col("linkage_id").cast(pl.Utf8)).unique(key, keep="first")
    t = truth.select(*as_text, pl.col("person_id").cast(pl.Utf8)).unique(key, keep="first")
    # A record in only one of the two is alone: a group of its own, named by its row.
    row = pl.int_range(pl.len()).cast(pl.Utf8)
    both = c.join(t, on=key, how="full", coalesce=True).with_columns(
        pl.col("linkage_id").fill_null(pl.lit("unclustered:") + row),
        pl.col("person_id").fill_null(pl.lit("unknown:") + row))
    predicted = _pairs_within(both, ["linkage_id"]).rename({"pairs": "predicted"})
    true = _pairs_within(both, ["person_id"]).rename({"pairs": "true"})
    hits = _pairs_within(both, ["linkage_id", "person_id"]).rename({"pairs": "true_positives"})
    per = predicted.join(true, on=["provider_a", "provider_b"], how="full", coalesce=True) \
        .join(hits, on=["provider_a", "provider_b"], how="full", coalesce=True).fill_null(0)
    per = per.with_columns(
        pl.when(pl.col("predicted") > 0).then(pl.col("true_positives") / pl.col("predicted")).otherwise(1.0)
        .alias("precision"),
        pl.when(pl.col("true") > 0).then(pl.col("true_positives") / pl.col("true")).otherwise(1.0).alias("recall"),
    ).with_columns(
        pl.when(pl.col("precision") + pl.col("recall") > 0)
        .then(2 * pl.col("precision") * pl.col("recall") / (pl.col("precision") + pl.col("recall")))
        .otherwise(0.0).alias("f1")).sort("provider_a", "provider_b")
    n_pred, n_true, tp = (int(per[x].sum()) for x in ("predicted", "true", "true_positives"))
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    # A person is exact when their records are one cluster that holds nobody else's.
    real = both.filter(~pl.col("person_id").str.starts_with("unknown:"))
    per_person = real.group_by("person_id").agg(pl.col("linkage_id").n_unique().alias("k"),
                                                pl.col("linkage_id").first().alias("cluster"), pl.len().alias("n"))
    size = both.group_by("linkage_id").len().rename({"linkage_id": "cluster", "len": "size"})
    per_person = per_person.join(size, on="cluster")
    exact = float(((per_person["k"] == 1) & (per_person["n"] == per_person["size"])).mean()) if len(per_person) \
        else 1.0
    return ClusterEvaluation(precision=p, recall=r, f1=f1, predicted_pairs=n_pred, true_pairs=n_true,
                             true_positives=tp, exact=exact, people=len(per_person), by_providers=per)
