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

import polars as pl

from .schema import Field

__all__ = ["field_tokens", "qgrams", "SEP"]

SEP = "\x1f"  # cannot occur in a standardised value
PAD = "_"


def qgrams(values: pl.Series, q: int) -> pl.DataFrame:
    """Padded q-grams of each value: columns ``value`` (row index into ``values``), ``gram``."""
    pad = PAD * (q - 1)
    frame = pl.DataFrame({"value": pl.int_range(values.len(), dtype=pl.UInt32, eager=True), "s": values})
    chars = frame.select(
        "value", pl.concat_str(pl.lit(pad), pl.col("s"), pl.lit(pad)).str.split("").alias("c")
    ).explode("c")
    if q == 1:
        return chars.rename({"c": "gram"}).filter(pl.col("gram") != PAD)
    same = pl.col("value").shift(-(q - 1)) == pl.col("value")
    gram = pl.concat_str([pl.col("c").shift(-j) for j in range(q)])
    return chars.select("value", gram.alias("gram"), same.alias("keep")).filter("keep").drop("keep")


def _tagged(frame: pl.DataFrame, feature: str, tag: str, col: str = "gram") -> pl.DataFrame:
    return frame.select("value", (pl.lit(f"{feature}{SEP}{tag}{SEP}") + pl.col(col)).alias("token"))


def _date_tokens(values: pl.Series, field: Field) -> list[pl.DataFrame]:
    f = field.token_feature
    frame = pl.DataFrame({"value": pl.int_range(values.len(), dtype=pl.UInt32, eager=True), "s": values})
    y, m, d = pl.col("s").str.slice(0, 4), pl.col("s").str.slice(5, 2), pl.col("s").str.slice(8, 2)
    parts = frame.select("value", y.alias("y"), m.alias("m"), d.alias("d"))
    out = [_tagged(parts, f, tag, tag) for tag in ("y", "m", "d")]
    if field.swap_day_month:
        lo = pl.min_horizontal("m", "d")
        hi = pl.max_horizontal("m", "d")
        out.append(_tagged(parts.with_columns(md=lo + "/" + hi), f, "md", "md"))
    return out


def _postcode_tokens(values: pl.Series, field: Field) -> list[pl.DataFrame]:
    f = field.token_feature
    compact = values.str.replace_all(" ", "")
    out = [_tagged(qgrams(compact, field.q), f, f"q{field.q}")]
    frame = pl.DataFrame({"value": pl.int_range(values.len(), dtype=pl.UInt32, eager=True), "s": values})
    uk = frame.filter(pl.col("s").str.contains(" "))
    outward = pl.col("s").str.split(" ").list.first()
    sector = outward + " " + pl.col("s").str.split(" ").list.last().str.slice(0, 1)
    out.append(_tagged(uk.with_columns(o=outward), f, "out", "o"))
    out.append(_tagged(uk.with_columns(sec=sector), f, "sec", "sec"))
    return out


def field_tokens(values: pl.Series, field: Field) -> pl.DataFrame:
    """Tokens of distinct standardised values (no nulls): columns ``value`` (index), ``token``."""
    f = field.token_feature
    if field.kind in ("name", "text"):
        parts = [_tagged(qgrams(values, field.q), f, f"q{field.q}")]
    elif field.kind == "date":
        parts = _date_tokens(values, field)
    elif field.kind == "postcode":
        parts = _postcode_tokens(values, field)
    else:  # sex, exact: the whole value
        frame = pl.DataFrame({"value": pl.int_range(values.len(), dtype=pl.UInt32, eager=True), "s": values})
        parts = [_tagged(frame, f, "v", "s")]
    return pl.concat(parts).unique(maintain_order=True)
