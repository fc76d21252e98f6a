"""Two-party linking at the linkage unit: check, score, solve, choose a threshold, band.

The linkage unit holds encodings only. Files are linked only if they carry the same schema
fingerprint and key check value; the link table holds pseudonymous ids, scores and bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..defaults import FLOOR, KERNEL, REVIEW_WIDTH, TOP_K
from ..errors import InputError, IntegrityError
from ..format.encoded import Encoded, read_encoded
from ..format.files import check_outputs
from ..format.links import BELOW, LINK_COLUMNS, link_table_outputs, write_links
from .score import dice_pairs
from .solve import band_labels, review_floor, solve_one_to_one
from .threshold import ThresholdFit, estimate_threshold

__all__ = ["LinkResult", "LinkRun", "check_compatible", "link", "link_files"]


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
        diff = a.schema.difference(b.schema, names=names) or "their fingerprints differ"
        raise IntegrityError(
            f"{names[0]} and {names[1]} were encoded with different schemas ({diff}); "
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
    review_width: float = REVIEW_WIDTH,
    min_score: float | None = None,
    floor: float = FLOOR,
    top_k: int | None = TOP_K,
    kernel: str = KERNEL,
    quiet: bool = True,
    names: tuple[str, str] = ("A", "B"),
) -> LinkResult:
    """Link two encoded files one-to-one.

    With ``threshold=None`` the threshold is estimated from the data (see
    :func:`linkage.linker.threshold.estimate_threshold`). Links at or above the threshold are
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
    columns = (a.record_ids.to_numpy()[assigned.i[show]], b.record_ids.to_numpy()[assigned.j[show]],
               assigned.score[show], bands[show])
    types = (pl.Utf8, pl.Utf8, pl.Float64, pl.Utf8)
    links = pl.DataFrame(dict(zip(LINK_COLUMNS, columns)), schema=dict(zip(LINK_COLUMNS, types)))
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


@dataclass(frozen=True)
class LinkRun:
    """What :func:`link_files` did: the result, the summary written beside the table, the files."""

    result: LinkResult
    summary: dict[str, Any]
    out: Path
    replaced: tuple[Path, ...]


def link_files(
    file_a: str | Path,
    file_b: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    quiet: bool = True,
    **options: Any,
) -> LinkRun:
    """Verify and link two encoded files, and write the link table and its summary.

    ``options`` are those of :func:`link`. ``force`` replaces the table and its summary,
    nothing else.
    """
    file_a, file_b = Path(file_a), Path(file_b)
    outputs = link_table_outputs(out)
    replaced = check_outputs(outputs, inputs=(file_a, file_b), force=force)
    a, b = read_encoded(file_a), read_encoded(file_b)
    res = link(a, b, quiet=quiet, names=(str(file_a), str(file_b)), **options)
    summary = {"file_a": file_a.name, "file_b": file_b.name, "provider_a": a.provider, "provider_b": b.provider,
               "schema_fingerprint": a.schema.fingerprint(), "key_check": a.key_check, **res.summary()}
    write_links(res.links, outputs[0], summary=summary, force=force)
    return LinkRun(res, summary, outputs[0], tuple(replaced))
