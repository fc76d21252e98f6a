"""What every field kind is made of, and the polars helpers the kinds share.

A kind is one table: how a raw value is standardised, how it is validated (reason codes,
never values), which tokens a standardised value yields, and its default weight, q-gram
size and options. Standardisation and tokens are part of the exchange contract: two
providers must standardise alike for their filters to agree, so they live beside the schema
and are pinned by the golden tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

__all__ = [
    "MISSING", "Kind", "Settings", "TokenParts", "fold_text", "indexed", "problem", "qgram_tokens", "qgrams",
    "whole_value",
]

MISSING = "missing"

class Settings(Protocol):
    """What a kind's tokens read of a field's settings (a :class:`linkage.schema.Field`)."""

    q: int | None

    def option(self, name: str) -> Any: ...


# (tag, frame of ``value`` (row index of the distinct value) and ``gram``) per kind of token.
TokenParts = list[tuple[str, pl.DataFrame]]


@dataclass(frozen=True)
class Kind:
    """One field kind: standardiser, validation, tokens and defaults, in one place.

    ``normalise`` maps raw text to a candidate (the costly part, run once per distinct
    value); ``check`` maps (candidate, raw, today) to a reason code, null when the value is
    fine; codes in ``warnings`` keep the value. ``tokens`` maps distinct standardised values
    to token parts. ``weight`` (bits per token), ``q`` (q-gram size; None when the kind has no
    q-grams), ``linkable`` (counts towards ``min_fields``) and ``options`` (kind-specific
    switches and their defaults) are the defaults a schema's field takes.
    """

    name: str
    description: str
    normalise: Callable[[pl.Expr], pl.Expr]
    check: Callable[[pl.Expr, pl.Expr, dt.date], pl.Expr]
    tokens: Callable[[pl.Series, Settings], TokenParts]
    weight: int
    q: int | None = None
    linkable: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    warnings: frozenset[str] = frozenset()

    def accept(self, candidate: pl.Expr, code: pl.Expr) -> pl.Expr:
        """The candidate where it has no problem or only a warning, else null."""
        return pl.when(code.is_null() | code.is_in(sorted(self.warnings))).then(candidate)

    def standardise(self, raw: pl.Expr, *, today: dt.date | None = None) -> pl.Expr:
        """Standardised value of each raw value; null where missing or invalid."""
        c = self.normalise(raw)
        return self.accept(c, self.check(c, raw, today or dt.date.today()))

    def problem(self, raw: pl.Expr, *, today: dt.date | None = None) -> pl.Expr:
        """Reason code of each raw value that is missing or fails validation; null when fine."""
        return self.check(self.normalise(raw), raw, today or dt.date.today())


def blank(e: pl.Expr) -> pl.Expr:
    return e.is_null() | (e.str.strip_chars() == "")


def null_if_empty(s: pl.Expr) -> pl.Expr:
    return pl.when(s != "").then(s)


def problem(raw: pl.Expr, *checks: tuple[pl.Expr, str]) -> pl.Expr:
    """The first failing check's code (``missing`` for a blank value), else null."""
    out = pl.when(blank(raw)).then(pl.lit(MISSING))
    for failed, code in checks:
        out = out.when(failed).then(pl.lit(code))
    return out.otherwise(pl.lit(None, dtype=pl.Utf8))


# Letters that Unicode NFKD leaves whole: fold them by hand (Łukasz -> lukasz, Øyvind -> oyvind).
_FOLD = {
    "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d",
    "ı": "i", "ħ": "h", "ŀ": "l", "ŧ": "t", "ĸ": "k", "ŋ": "n",
}


def fold_text(e: pl.Expr) -> pl.Expr:
    """Lower case, fold accents and special letters to ASCII where Unicode allows."""
    e = e.str.to_lowercase().str.replace_many(list(_FOLD), list(_FOLD.values()))
    return e.str.normalize("NFKD").str.replace_all(r"\p{M}+", "").str.to_lowercase()


def compact(e: pl.Expr) -> pl.Expr:
    """Upper-case letters and digits only."""
    return e.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def nonempty(c: pl.Expr, raw: pl.Expr, today: dt.date) -> pl.Expr:
    """The check of kinds whose only failure is that nothing is left."""
    return problem(raw, (c.is_null(), "no_letters_or_digits"))


PAD = "_"


def indexed(values: pl.Series) -> pl.DataFrame:
    """``value`` (row index) and ``s`` (the value) of each distinct value."""
    return pl.DataFrame({"value": pl.int_range(values.len(), dtype=pl.UInt32, eager=True), "s": values})


def qgrams(values: pl.Series, q: int) -> pl.DataFrame:
    """Padded q-grams of each value (``_john_`` -> ``_j jo oh hn n_``): columns ``value``, ``gram``."""
    pad = PAD * (q - 1)
    chars = indexed(values).select(
        "value", pl.concat_str(pl.lit(pad), pl.col("s"), pl.lit(pad)).str.split("").alias("c")
    ).explode("c")
    if q == 1:
        return chars.rename({"c": "gram"}).filter(pl.col("gram") != PAD)
    same = pl.col("value").shift(-(q - 1)) == pl.col("value")
    gram = pl.concat_str([pl.col("c").shift(-j) for j in range(q)])
    return chars.select("value", gram.alias("gram"), same.alias("keep")).filter("keep").drop("keep")


def whole_value(values: pl.Series, field: Settings) -> TokenParts:
    """One token of the whole value (sex, exact identifiers)."""
    return [("v", indexed(values).select("value", pl.col("s").alias("gram")))]


def qgram_tokens(values: pl.Series, field: Settings) -> TokenParts:
    """Padded q-grams of the whole value (names, free text)."""
    return [(f"q{field.q}", qgrams(values, field.q))]
