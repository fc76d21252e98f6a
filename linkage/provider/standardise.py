"""Standardisation of an extract, each distinct raw value once.

Each kind's standardiser and validation live with the kind (:mod:`linkage.schema.kinds`);
this module runs them over a column: distinct raw values are standardised once, and each
record gets the index of its standardised value and its reason code. Reason codes are the
only thing reported about a value: never the value itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..schema import KINDS, RECORD_ID, Field, Schema

__all__ = ["FieldCodes", "Standardised", "standardise_codes", "standardise_frame", "standardise_record_ids"]


@dataclass(frozen=True)
class FieldCodes:
    """One field of an extract as codes, so each distinct value is standardised once.

    ``values`` holds the distinct standardised values (sorted, no nulls); ``index`` gives each
    record's position in ``values``, or ``len(values)`` when its value is missing or invalid;
    ``problem`` gives each record's position in ``problem_names``, or -1 when it has none.
    """

    values: pl.Series
    index: np.ndarray
    problem_names: list[str]
    problem: np.ndarray

    @property
    def present(self) -> np.ndarray:
        return self.index < self.values.len()

    def problem_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Records per problem code, over the records selected by ``mask``."""
        codes = self.problem if mask is None else self.problem[mask]
        counts = np.bincount(codes[codes >= 0], minlength=len(self.problem_names))
        pairs = sorted(zip(self.problem_names, counts.tolist()), key=lambda kv: -kv[1])
        return {name: n for name, n in pairs if n}

    def standardised(self) -> pl.Series:
        """Each record's standardised value (null where missing or invalid)."""
        return pl.concat([self.values, pl.Series([None], dtype=pl.Utf8)]).gather(self.index)

    def problems(self) -> pl.Series:
        """Each record's reason code (null where the value is fine)."""
        names = pl.concat([pl.Series(self.problem_names, dtype=pl.Utf8), pl.Series([None], dtype=pl.Utf8)])
        return names.gather(np.where(self.problem < 0, len(self.problem_names), self.problem))


def standardise_codes(raw: pl.Series, field: Field, *, today: dt.date | None = None) -> FieldCodes:
    """Standardise one column as :class:`FieldCodes`: distinct raw values are standardised once."""
    kind = KINDS[field.kind]
    frame = pl.DataFrame({"raw": raw.cast(pl.Utf8)})
    distinct = frame.unique().with_row_index("k")
    raw_index = frame.join(distinct, on="raw", how="left", maintain_order="left", nulls_equal=True)["k"].to_numpy()
    # Lazy, so polars computes each shared sub-expression once.
    cand = distinct.lazy().select(pl.col("raw"), kind.normalise(pl.col("raw")).alias("c")).collect()
    code = kind.check(pl.col("c"), pl.col("raw"), today or dt.date.today())
    std = cand.lazy().select(kind.accept(pl.col("c"), code).alias("v"), code.alias("p")).collect()
    values = std["v"].drop_nulls().unique().sort()
    # Position of each distinct raw value's standardised value in `values` (len for null).
    lookup = pl.DataFrame({"v": values}).with_row_index("i")
    std_index = std.join(lookup, on="v", how="left", maintain_order="left")["i"].fill_null(values.len()).to_numpy()
    names = sorted(std["p"].drop_nulls().unique().to_list())
    number = {n: c for c, n in enumerate(names)}
    prob = std["p"].replace_strict(number, default=-1, return_dtype=pl.Int32).to_numpy()
    return FieldCodes(values=values, index=std_index[raw_index].astype(np.int64), problem_names=names,
                      problem=prob[raw_index])


@dataclass(frozen=True)
class Standardised:
    """Standardised values (``record_id`` then one column per field) and problem codes."""

    values: pl.DataFrame
    problems: pl.DataFrame


def standardise_record_ids(raw: pl.Series) -> pl.Series:
    """Record ids with surrounding spaces removed; blank ids become null."""
    rid = raw.cast(pl.Utf8).str.strip_chars()
    return rid.set(rid == "", None).alias(RECORD_ID)


def standardise_frame(df: pl.DataFrame, schema: Schema, *, today: dt.date | None = None) -> Standardised:
    """Standardise every field of ``df`` as the schema says; counts nothing, drops nothing."""
    today = today or dt.date.today()
    codes = [standardise_codes(df[schema.column(f.name)], f, today=today) for f in schema.fields]
    rid = standardise_record_ids(df[schema.column(RECORD_ID)])
    values = pl.DataFrame([rid] + [c.standardised().alias(f.name) for f, c in zip(schema.fields, codes)])
    problems = pl.DataFrame([c.problems().alias(f.name) for f, c in zip(schema.fields, codes)])
    return Standardised(values, problems)
