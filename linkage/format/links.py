"""Link tables: what the linkage unit releases (pseudonymous ids, scores, bands) and its summary.

A link table is ``.csv`` or ``.parquet`` with columns ``id_a, id_b, score, band``; a
``<table>.summary.json`` beside it records how it was made (threshold, estimates, counts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from .files import atomic_path, refuse_existing, write_safe_csv

__all__ = [
    "BANDS",
    "BELOW",
    "LINK_COLUMNS",
    "MATCH",
    "POSSIBLE",
    "check_link_table_path",
    "link_table_outputs",
    "read_links",
    "read_summary",
    "summary_path",
    "write_links",
]

LINK_COLUMNS = ("id_a", "id_b", "score", "band")
MATCH = "match"  # at or above the threshold
POSSIBLE = "possible"  # just below it: for clerical review
BELOW = "below"  # assigned, but below the review band (written only on request)
BANDS = (MATCH, POSSIBLE, BELOW)
# The clerical-review list: each possible link (candidate_of "link") and the other candidates
# of its A record ("a") and of its B record ("b"), for reviewers at the providers.
REVIEW_COLUMNS = ("review_id", "candidate_of", "id_a", "id_b", "score")
_SUFFIXES = (".csv", ".parquet")


def summary_path(path: str | Path) -> Path:
    """The summary written beside a link table."""
    path = Path(path)
    return path.with_name(path.name + ".summary.json")


def check_link_table_path(path: str | Path) -> None:
    """A link table is written as ``.csv`` or ``.parquet``."""
    if Path(path).suffix.lower() not in _SUFFIXES:
        raise InputError(f"{path}: the link table must end in .csv or .parquet")


def link_table_outputs(path: str | Path) -> list[Path]:
    """The files writing a link table to ``path`` creates: the table and its summary."""
    check_link_table_path(path)
    return [Path(path), summary_path(path)]


def write_links(links: pl.DataFrame, path: str | Path, *, summary: dict[str, Any] | None = None,
                force: bool = False) -> Path:
    """Write a link table (``.csv`` or ``.parquet``) and its summary JSON beside it, atomically."""
    path, spath = link_table_outputs(path)
    refuse_existing([path, spath], force)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            write_safe_csv(links, tmp, float_precision=6)  # an id a spreadsheet would run is quoted
        else:
            links.write_parquet(tmp)
        with atomic_path(spath) as stmp:
            stmp.write_text(json.dumps(summary or {}, indent=2, sort_keys=True) + "\n")
    return path


def write_review(review: pl.DataFrame, path: str | Path, *, force: bool = False) -> Path:
    """Write the clerical-review list (CSV or Parquet), atomically and spreadsheet-safe."""
    path = Path(path)
    check_link_table_path(path)
    refuse_existing([path], force)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            write_safe_csv(review, tmp, float_precision=6)
        else:
            review.write_parquet(tmp)
    return path


def read_links(path: str | Path) -> pl.DataFrame:
    """Read a link table written by `linkage link` (CSV or Parquet), or its clusters.csv."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    ids = dict.fromkeys(("id_a", "id_b", "record_id", "linkage_id", "provider", "provider_a", "provider_b"), pl.Utf8)
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        head = pl.read_csv(path, n_rows=0).columns
        return pl.read_csv(path, schema_overrides={c: t for c, t in ids.items() if c in head})
    except Exception:
        raise InputError(f"{path}: not a readable link table (CSV or Parquet)") from None


def read_summary(path: str | Path) -> dict[str, Any] | None:
    """The summary stored beside a link table, if there is one."""
    try:
        return json.loads(summary_path(path).read_text())
    except (OSError, ValueError):
        return None
