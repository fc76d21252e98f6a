"""Dates (of birth): ISO ``YYYY-MM-DD`` from five layouts; day, month, year tokens.

Accepted: ISO, ``DD/MM/YYYY``, ``YYYYMMDD``, ``DD-MM-YYYY``, ``DD.MM.YYYY``. Impossible
dates (31/02), dates in the future or before 1900 are invalid: reported, never guessed.
Tokens are the year, the month, the day and, with ``swap_day_month``, an order-free
day-and-month token, so a swapped day and month still agrees on it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ._base import Kind, Settings, TokenParts, indexed, problem

# Accepted layouts, each rewritten to Y-M-D (the layouts cannot be confused).
_LAYOUTS = (
    (r"^(\d{1,2})/(\d{1,2})/(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{4})(\d{2})(\d{2})$", "${1}-${2}-${3}"),
    (r"^(\d{1,2})-(\d{1,2})-(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", "${1}-${2}-${3}"),
)


def normalise(e: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DD`` text from any accepted layout (not yet checked to be a real date)."""
    s = e.str.strip_chars()
    for pattern, repl in _LAYOUTS:
        s = s.str.replace(pattern, repl)
    return s.str.replace(r"-(\d)-", "-0${1}-").str.replace(r"-(\d)$", "-0${1}")


def check(c: pl.Expr, raw: pl.Expr, today: dt.date) -> pl.Expr:
    real = c.str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_not_null()
    return problem(
        raw,
        (~c.str.contains(r"^\d{4}-\d{2}-\d{2}$"), "unparseable"),
        (~real, "impossible"),
        (c < "1900-01-01", "before_1900"),
        (c > today.isoformat(), "future"),
    )


def tokens(values: pl.Series, field: Settings) -> TokenParts:
    frame, s = indexed(values), pl.col("s")
    parts = [(tag, frame.select("value", s.str.slice(start, n).alias("gram")))
             for tag, start, n in (("y", 0, 4), ("m", 5, 2), ("d", 8, 2))]
    if field.option("swap_day_month"):
        m, d = s.str.slice(5, 2), s.str.slice(8, 2)
        md = pl.min_horizontal(m, d) + "/" + pl.max_horizontal(m, d)
        parts.append(("md", frame.select("value", md.alias("gram"))))
    return parts


KIND = Kind(
    name="date",
    description="a date: ISO from five layouts, impossible dates invalid; year, month, day tokens",
    normalise=normalise,
    check=check,
    tokens=tokens,
    weight=20,
    options={"swap_day_month": True},
)
