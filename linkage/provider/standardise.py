"""Standardisation of an extract, each distinct raw value once.

Each kind's standardiser and validation live with the kind (:mod:`linkage.schema.kinds`);
this module runs them over a column: distinct raw values are standardised once, and each
record gets the index of its standardised value and its reason code. Reason codes are the
only thing reported about a value: never the value itself.

Limits keep a hostile or broken extract cheap: a field value longer than
:data:`MAX_FIELD_CHARS` is left out with the reason ``too_long`` before any standardisation
or tokenisation (a 50 MB name costs no more than reading it), and record ids a link table
must not carry get a reason code (:func:`record_id_problems`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..schema import KINDS, RECORD_ID, Field, Schema

__all__ = [
    "MAX_FIELD_CHARS", "MAX_RECORD_ID_CHARS", "RECORD_ID_CONTROL", "RECORD_ID_FORMULA", "RECORD_ID_TOO_LONG",
    "TOO_LONG", "FieldCodes", "Standardised", "record_id_problems", "standardise_codes", "standardise_frame",
    "standardise_record_ids",
]

MAX_FIELD_CHARS = 1_000  # a longer field value is left out of the encoding as TOO_LONG
TOO_LONG = "too_long"
MAX_RECORD_ID_CHARS = 128
# Reason codes of record ids a link table must not carry (the record is rejected).
RECORD_ID_TOO_LONG = "record_id_too_long"  # over MAX_RECORD_ID_CHARS characters
RECORD_ID_CONTROL = "record_id_control_character"  # tab, CR, LF or another control character, or U+2028/9
RECORD_ID_FORMULA = "record_id_formula"  # starts with =, +, - or @: a spreadsheet would run it
_CONTROL = r"[\p{Cc}\p{Zl}\p{Zp}]"
_FORMULA_START = r"^[=+\-@]"


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
    # Values over the limit are cut here, before any standardisation or q-grams see them.
    too_long = pl.col("raw").str.len_chars() > MAX_FIELD_CHARS
    cut = distinct.select(pl.when(too_long).then(pl.lit(None, dtype=pl.Utf8)).otherwise(pl.col("raw")).alias("raw"),
                          too_long.fill_null(False).alias("too_long"))
    # Lazy, so polars computes each shared sub-expression once.
    cand = cut.lazy().select(pl.col("raw"), pl.col("too_long"), kind.normalise(pl.col("raw")).alias("c")).collect()
    check = kind.check(pl.col("c"), pl.col("raw"), today or dt.date.today())
    code = pl.when(pl.col("too_long")).then(pl.lit(TOO_LONG)).otherwise(check)
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


def record_id_problems(rid: pl.Series) -> pl.Series:
    """Reason code of each standardised record id a link table must not carry; null when fine.

    ``record_id_too_long`` (over :data:`MAX_RECORD_ID_CHARS` characters),
    ``record_id_control_character`` (a tab, CR, LF or other control character, or a Unicode
    line or paragraph separator) and ``record_id_formula`` (starts with ``=``, ``+``, ``-`` or
    ``@``, which a spreadsheet runs as a formula). Missing ids are null here.
    """
    r = pl.col("r")
    return pl.DataFrame({"r": rid.cast(pl.Utf8)}).select(
        pl.when(r.str.len_chars() > MAX_RECORD_ID_CHARS).then(pl.lit(RECORD_ID_TOO_LONG))
        .when(r.str.contains(_CONTROL)).then(pl.lit(RECORD_ID_CONTROL))
        .when(r.str.contains(_FORMULA_START)).then(pl.lit(RECORD_ID_FORMULA))
        .otherwise(pl.lit(None, dtype=pl.Utf8)).alias("problem")
    )["problem"]


def standardise_frame(df: pl.DataFrame, schema: Schema, *, today: dt.date | None = None) -> Standardised:
    """Standardise every field of ``df`` as the schema says; counts nothing, drops nothing."""
    today = today or dt.date.today()
    codes = [standardise_codes(df[schema.column(f.name)], f, today=today) for f in schema.fields]
    rid = standardise_record_ids(df[schema.column(RECORD_ID)])
    values = pl.DataFrame([rid] + [c.standardised().alias(f.name) for f, c in zip(schema.fields, codes)])
    problems = pl.DataFrame([c.problems().alias(f.name) for f, c in zip(schema.fields, codes)])
    return Standardised(values, problems)
