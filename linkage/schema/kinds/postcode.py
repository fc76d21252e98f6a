"""UK postcodes: upper case, one space before the inward code; q-grams, outward code, sector.

A value that is not in UK postcode format is still encoded as upper-case letters and digits,
with the warning ``not_uk_format`` (the value is kept).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ._base import Kind, Settings, TokenParts, compact, indexed, problem, qgrams

# Outward code (area, district) then inward code (sector digit, unit letters).
UK_POSTCODE = r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][ABD-HJLNP-UW-Z]{2}$"


def normalise(e: pl.Expr) -> pl.Expr:
    c = compact(e)
    spaced = pl.concat_str(c.str.head(-3), pl.lit(" "), c.str.tail(3))
    return pl.when(c == "").then(None).when(c.str.contains(UK_POSTCODE)).then(spaced).otherwise(c)


def check(c: pl.Expr, raw: pl.Expr, today: dt.date) -> pl.Expr:
    return problem(raw, (c.is_null(), "no_letters_or_digits"), (~c.str.contains(UK_POSTCODE), "not_uk_format"))


def tokens(values: pl.Series, field: Settings) -> TokenParts:
    parts = [(f"q{field.q}", qgrams(values.str.replace_all(" ", ""), field.q))]
    uk = indexed(values).filter(pl.col("s").str.contains(" "))
    halves = pl.col("s").str.split(" ")
    parts.append(("out", uk.select("value", halves.list.first().alias("gram"))))
    sector = halves.list.first() + " " + halves.list.last().str.slice(0, 1)
    parts.append(("sec", uk.select("value", sector.alias("gram"))))
    return parts


KIND = Kind(
    name="postcode",
    description="a UK postcode: normalised spacing; q-grams plus outward code and sector",
    normalise=normalise,
    check=check,
    tokens=tokens,
    weight=6,
    q=2,
    warnings=frozenset({"not_uk_format"}),
)
