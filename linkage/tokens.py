"""Token features of standardised values.

Tokens are made once per *distinct* value of a field, never once per record, and each
token carries its feature name and a tag (domain separation), so the same text in two
features hashes to unrelated bits. Fields sharing a feature (first and last name) yield
comparable tokens, so swapped names still agree.

- names and free text: padded q-grams (``_john_`` -> ``_j jo oh hn n_``);
- dates (``YYYY-MM-DD``): day, month, year, and an order-free day-and-month token, so a
  swapped day and month still agrees on it;
- postcodes: q-grams of the compact form, plus outward code and sector when it is a UK
  postcode;
- sex and exact identifiers: one token of the whole value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .schema import Field

__all__ = ["FieldTokens", "field_tokens", "qgrams", "SEP"]

SEP = "\x1f"  # cannot occur in a standardised value
PAD = "_"


@dataclass(frozen=True)
class FieldTokens:
    """Distinct tagged ``tokens`` of a field, and (``value``, ``tok``) index pairs linking them."""

    tokens: pl.Series
    value: np.ndarray
    tok: np.ndarray


def _indexed(values: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"value": pl.int_range(values.len(), dtype=pl.UInt32, eager=True), "s": values})


def qgrams(values: pl.Series, q: int) -> pl.DataFrame:
    """Padded q-grams of each value: columns ``value`` (row index into ``values``), ``gram``."""
    pad = PAD * (q - 1)
    chars = _indexed(values).select(
        "value", pl.concat_str(pl.lit(pad), pl.col("s"), pl.lit(pad)).str.split("").alias("c")
    ).explode("c")
    if q == 1:
        return chars.rename({"c": "gram"}).filter(pl.col("gram") != PAD)
    same = pl.col("value").shift(-(q - 1)) == pl.col("value")
    gram = pl.concat_str([pl.col("c").shift(-j) for j in range(q)])
    return chars.select("value", gram.alias("gram"), same.alias("keep")).filter("keep").drop("keep")


def _parts(values: pl.Series, field: Field) -> list[tuple[str, pl.DataFrame]]:
    """(tag, frame of ``value``, ``gram``) for each kind of token the field yields."""
    if field.kind in ("name", "text"):
        return [(f"q{field.q}", qgrams(values, field.q))]
    frame = _indexed(values)
    if field.kind == "date":
        s = pl.col("s")
        parts = [(tag, frame.select("value", s.str.slice(start, n).alias("gram")))
                 for tag, start, n in (("y", 0, 4), ("m", 5, 2), ("d", 8, 2))]
        if field.swap_day_month:
            m, d = s.str.slice(5, 2), s.str.slice(8, 2)
            md = pl.min_horizontal(m, d) + "/" + pl.max_horizontal(m, d)
            parts.append(("md", frame.select("value", md.alias("gram"))))
        return parts
    if field.kind == "postcode":
        parts = [(f"q{field.q}", qgrams(values.str.replace_all(" ", ""), field.q))]
        uk = frame.filter(pl.col("s").str.contains(" "))
        halves = pl.col("s").str.split(" ")
        parts.append(("out", uk.select("value", halves.list.first().alias("gram"))))
        sector = halves.list.first() + " " + halves.list.last().str.slice(0, 1)
        parts.append(("sec", uk.select("value", sector.alias("gram"))))
        return parts
    return [("v", frame.select("value", pl.col("s").alias("gram")))]  # sex, exact: whole value


def field_tokens(values: pl.Series, field: Field) -> FieldTokens:
    """Tokens of distinct standardised values (no nulls), each distinct token listed once."""
    tokens, value, tok = [], [], []
    offset = 0
    for tag, frame in _parts(values, field):
        grams = frame["gram"].unique().sort()
        codes = frame["gram"].cast(pl.Enum(grams)).to_physical().to_numpy().astype(np.int64)
        tokens.append(f"{field.token_feature}{SEP}{tag}{SEP}" + grams)
        value.append(frame["value"].to_numpy())
        tok.append(codes + offset)
        offset += grams.len()
    return FieldTokens(
        tokens=pl.concat(tokens) if tokens else pl.Series([], dtype=pl.Utf8),
        value=np.concatenate(value) if value else np.empty(0, np.uint32),
        tok=np.concatenate(tok) if tok else np.empty(0, np.int64),
    )
