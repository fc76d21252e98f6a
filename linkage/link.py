"""Two-party linking at the linkage unit: check, score, solve, choose a threshold, band.

The linkage unit holds encodings only. Files are linked only if they carry the same schema
fingerprint and key check value; the link table holds pseudonymous ids, scores and bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .encode import Encoded
from .errors import IntegrityError, InputError
from .score import dice_pairs
from .solve import BELOW, band_labels, review_floor, solve_one_to_one
from .threshold import ThresholdFit, estimate_threshold

__all__ = ["LinkResult", "link", "check_compatible", "LINK_COLUMNS", "DEFAULT_FLOOR", "DEFAULT_REVIEW_WIDTH"]

LINK_COLUMNS = ("id_a", "id_b", "score", "band")
DEFAULT_FLOOR = 0.4  # lowest score scored pairs are kept at when the threshold is estimated
DEFAULT_REVIEW_WIDTH = 0.05
DEFAULT_TOP_K = 5  # candidates kept per A record: memory grows with len(a), not len(a) * len(b)


@dataclass(frozen=True)
class LinkResult:
    """Links (``id_a, id_b, score, band``), the threshold used and how it was chosen."""

    links: pl.DataFrame
    threshold: float
    review_width: float
    fit: ThresholdFit | None
    top_k: int | None
    kernel: str
    comparisons: int
    candidates: int

    def band_counts(self) -> dict[str, int]:
        vc = self.links["band"].value_counts()
        return {str(b): int(n) for b, n in vc.iter_rows()}

    def summary(self) -> dict[str, Any]:
        """What `linkage link` stores beside the links: threshold, estimates, counts."""
        out: dict[str, Any] = {
            "threshold": self.threshold,
            "threshold_source": "estimated" if self.fit else "given",
            "review_width": self.review_width,
            "kernel": self.kernel,
            "top_k": self.top_k,
            "comparisons": self.comparisons,
            "candidate_pairs": self.candidates,
            "bands": self.band_counts(),
        }
        if self.fit:
            out["estimated"] = {
                "precision": self.fit.precision,
                "recall": self.fit.recall,
                "f1": self.fit.f1,
                "expected_matches": self.fit.expected_matches,
                "method": self.fit.method,
            }
        return out


def check_compatible(a: Encoded, b: Encoded, *, names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse files encoded with different schemas or keys, or holding no records."""
    if a.schema.fingerprint() != b.schema.fingerprint():
        raise IntegrityError(
            f"{names[0]} and {names[1]} were encoded with different schemas (fingerprints differ); "
            "ask the providers to encode with the same schema"
        )
    if a.key_check != b.key_check:
        raise IntegrityError(
            f"{names[0]} and {names[1]} were encoded with different keys (key check values differ); "
            "ask the providers to use the same shared key"
        )
    for enc, name in zip((a, b), names):
        if len(enc) == 0:
            raise InputError(f"{name}: holds no encoded records")


def link(
    a: Encoded,
    b: Encoded,
    *,
    threshold: float | None = None,
    review_width: float = DEFAULT_REVIEW_WIDTH,
    min_score: float | None = None,
    floor: float = DEFAULT_FLOOR,
    top_k: int | None = DEFAULT_TOP_K,
    kernel: str = "auto",
    quiet: bool = True,
    names: tuple[str, str] = ("A", "B"),
) -> LinkResult:
    """Link two encoded files one-to-one.

    With ``threshold=None`` the threshold is estimated from the data (see
    :func:`linkage.threshold.estimate_threshold`). Links at or above the threshold are
    ``match``; within ``review_width`` below it, ``possible`` (clerical review). Assigned pairs
    down to ``min_score`` are also returned, as ``below``, for threshold curves. Each A record
    keeps its ``top_k`` best candidates (``None``: every pair above the floor), which bounds
    memory by the size of A. ``names`` label the two inputs in error messages.
    """
    check_compatible(a, b, names=names)
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise InputError("threshold must be in (0, 1]")
    if not 0.0 <= review_width < 1.0:
        raise InputError("review width must be in [0, 1)")
    lowest = floor if threshold is None else review_floor(threshold, review_width)
    if min_score is not None:
        lowest = min(lowest, min_score)
    lowest = max(lowest, 0.0)
    scores = dice_pairs(a.clks, b.clks, threshold=lowest, top_k=top_k, kernel=kernel, quiet=quiet)
    assigned = solve_one_to_one(scores.pairs)
    fit = None
    if threshold is None:
        keep = assigned.score >= floor
        fit = estimate_threshold(assigned.select(keep), scores.best, floor=floor)
        threshold = fit.threshold
    bands = band_labels(assigned.score, threshold=threshold, review_width=review_width)
    show = bands != BELOW if min_score is None else (bands != BELOW) | (assigned.score >= min_score)
    links = pl.DataFrame(
        {
            "id_a": a.record_ids.to_numpy()[assigned.i[show]],
            "id_b": b.record_ids.to_numpy()[assigned.j[show]],
            "score": assigned.score[show],
            "band": bands[show],
        },
        schema={"id_a": pl.Utf8, "id_b": pl.Utf8, "score": pl.Float64, "band": pl.Utf8},
    )
    return LinkResult(
        links=links,
        threshold=float(threshold),
        review_width=review_width,
        fit=fit,
        top_k=top_k,
        kernel=scores.kernel,
        comparisons=scores.comparisons,
        candidates=len(scores.pairs),
    )
