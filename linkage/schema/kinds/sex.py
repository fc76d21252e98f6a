"""Sex: ``m`` or ``f`` from M/F, Male/Female, 1/2 (UK data standard); one token.

``0/9/U/X``, "unknown" and blanks mean not known and are left out. Sex alone does not tell
people apart, so by default it does not count towards ``min_fields``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ._base import Kind, problem, whole_value

_CODES = {"m": "m", "male": "m", "1": "m", "f": "f", "female": "f", "2": "f"}
_NOT_KNOWN = ["0", "9", "u", "x", "unknown", "not known", "not specified", "n/k", "nk", "i"]


def normalise(e: pl.Expr) -> pl.Expr:
    key = e.str.strip_chars().str.to_lowercase()
    return key.replace_strict(list(_CODES), list(_CODES.values()), default=None).cast(pl.Utf8)


def check(c: pl.Expr, raw: pl.Expr, today: dt.date) -> pl.Expr:
    return problem(
        raw,
        (raw.str.strip_chars().str.to_lowercase().is_in(_NOT_KNOWN), "not_known"),
        (c.is_null(), "unrecognised"),
    )


KIND = Kind(
    name="sex",
    description="sex: m or f from M/F, Male/Female, 1/2; not known left out; one token",
    normalise=normalise,
    check=check,
    tokens=whole_value,
    weight=8,
    linkable=False,
)
