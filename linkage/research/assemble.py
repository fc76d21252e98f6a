"""For researchers: the providers' attribute files joined on ``linkage_id``, and small cells hidden.

Attribute files come from the providers (`linkage attach`): ``linkage_id`` and attributes, no
record id and no identifier. :func:`assemble` joins them into one analysis frame;
:func:`suppress` hides counts below a threshold before anything is published (primary
suppression, the statistical disclosure control rule most UK data owners set at 10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError

__all__ = ["assemble", "suppress"]

SUPPRESSED = "suppressed_cells"


def _frame(source: Any, name: str) -> pl.DataFrame:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        try:
            return pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path,
                                                                                            infer_schema=False)
        except Exception:
            raise InputError(f"{path}: not a readable attribute file (Parquet or CSV)") from None
    if isinstance(source, pl.DataFrame):
        return source
    raise InputError(f"{name}: expected a polars DataFrame or the path of an attribute file")


def assemble(sources: dict[str, Any], *, base: str | None = None) -> pl.DataFrame:
    """Join attribute files on ``linkage_id`` into one frame; columns are prefixed ``<source>.``.

    ``sources`` maps a short name (``council``, ``dwp``) to a frame or a file from `linkage
    attach`. ``base`` (default: the first) sets the rows: every other source is left-joined
    to it. At most one source may hold several rows per person (spells, offences); summarise
    the others first, so a join never multiplies rows silently. A record id is refused:
    researchers work with linkage ids only.
    """
    if not sources:
        raise InputError("assemble needs at least one attribute file")
    frames = {name: _frame(src, name) for name, src in sources.items()}
    for name, f in frames.items():
        if "linkage_id" not in f.columns:
            raise InputError(f"{name}: has no linkage_id column; attach the release to it first (`linkage attach`)")
        if any(c in ("record_id", "id_a", "id_b") for c in f.columns):
            raise InputError(f"{name}: holds record ids; researchers receive linkage ids only (`linkage attach`)")
    many = [name for name, f in frames.items() if f["linkage_id"].is_duplicated().any()]
    if len(many) > 1:
        raise InputError(f"{' and '.join(many)} each hold several rows per person: joining them would multiply rows; "
                         "summarise all but one per linkage_id first")
    base = base or next(iter(frames))
    if base not in frames:
        raise InputError(f"base {base!r} is not one of the sources")

    def prefixed(name: str) -> pl.DataFrame:
        f = frames[name]
        return f.rename({c: f"{name}.{c}" for c in f.columns if c != "linkage_id"})

    out = prefixed(base)
    for name in frames:
        if name != base:
            out = out.join(prefixed(name), on="linkage_id", how="left")
    return out


def suppress(table: pl.DataFrame, *, min_count: int = 10, counts: list[str] | None = None) -> pl.DataFrame:
    """``table`` with every count from 1 to ``min_count - 1`` hidden (null), and a column saying
    how many cells of each row were hidden.

    ``counts``: the count columns (default: every numeric column). Zero is kept (it discloses
    nobody). This is primary suppression only: where row or column totals are published
    beside the cells, also hide a second cell so that a hidden one cannot be recovered.
    """
    if min_count < 1:
        raise InputError("min_count must be at least 1")
    counts = counts or [c for c, t in table.schema.items() if t.is_numeric()]
    missing = [c for c in counts if c not in table.columns]
    if missing:
        raise InputError(f"no count column(s) {', '.join(missing)} in the table")
    text = [c for c in counts if not table.schema[c].is_numeric()]
    if text:
        raise InputError(f"count column(s) {', '.join(text)} are not numbers; cast them first")
    small = [(pl.col(c) > 0) & (pl.col(c) < min_count) for c in counts]
    hidden = pl.sum_horizontal([s.cast(pl.Int32) for s in small]) if small else pl.lit(0)
    return table.with_columns(*[pl.when(s).then(None).otherwise(pl.col(c)).alias(c) for c, s in zip(counts, small)],
                              hidden.alias(SUPPRESSED))
