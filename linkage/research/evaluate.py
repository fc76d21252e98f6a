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

__all__ = ["Evaluation", "as_frame", "evaluate", "pair_completeness", "score_histogram", "threshold_curve"]


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
    sampled bit of some band (the plan's positions). A true pair whose record is in neither
    file (not encoded) counts as missed; the sample that blocking scores against all of B is
    not counted, so this is a lower bound for those few records.
    """
    from ..linker.block import band_signatures

    truth = as_frame(truth, columns=("id_a", "id_b"), what="truth")
    rows = []
    for enc, col in ((a, "id_a"), (b, "id_b")):
        index = pl.DataFrame({col: enc.record_ids, "row": np.arange(len(enc))})
        rows.append(truth.select(col).join(index, on=col, how="left")["row"].to_numpy())
    ok = ~(np.isnan(rows[0].astype(float)) | np.isnan(rows[1].astype(float)))
    ia, ib = (r[ok].astype(np.int64) for r in rows)
    method = blocking.get("method", "none")
    if method == "keys":
        if a.block_keys is None or b.block_keys is None:
            raise InputError("the links were blocked on keys but the encoded files carry none")
        ka, kb = a.block_keys[ia], b.block_keys[ib]
        hit = ((ka == kb) & (ka != 0)).any(axis=1)
    elif method == "lsh":
        hit = np.zeros(len(ia), dtype=bool)
        for pos in np.asarray(blocking["positions"], dtype=np.int64):
            hit |= band_signatures(a.clks[ia], pos) == band_signatures(b.clks[ib], pos)
    else:
        hit = np.ones(len(ia), dtype=bool)
    n = len(truth)
    return (float(hit.sum() / n) if n else 1.0), n
