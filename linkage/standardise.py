"""Standardisation of identifiers as polars expressions.

Each standardiser maps a ``pl.Expr`` of raw strings to a ``pl.Expr`` of standardised values
(null when the value is missing or fails validation); a matching ``*_problem`` expression
gives the reason code (null when the value is fine). They are vectorised, composable and
idempotent: standardising a standardised value changes nothing.

Reason codes are the only thing reported about a value: never the value itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import polars as pl

from .schema import Field, Schema

__all__ = [
    "fold_text",
    "standardise_name",
    "standardise_date",
    "standardise_sex",
    "standardise_postcode",
    "standardise_exact",
    "standardise_text",
    "standardise_frame",
    "Standardised",
]

MISSING = "missing"

# Letters that Unicode NFKD leaves whole: fold them by hand (Łukasz -> lukasz, Øyvind -> oyvind).
_FOLD = {
    "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d",
    "ı": "i", "ħ": "h", "ŀ": "l", "ŧ": "t", "ĸ": "k", "ŋ": "n",
}
_TITLES = r"(?:mr|mrs|ms|miss|mx|dr|prof|rev|revd|sir|dame|lady|lord|master)"


def _blank(e: pl.Expr) -> pl.Expr:
    return e.is_null() | (e.str.strip_chars() == "")


def _null_if_empty(s: pl.Expr) -> pl.Expr:
    return pl.when(s != "").then(s).name.keep()


def _problem(e: pl.Expr, *checks: tuple[pl.Expr, str]) -> pl.Expr:
    """The first failing check's code (``missing`` for a blank value), else null."""
    out = pl.when(_blank(e)).then(pl.lit(MISSING))
    for failed, code in checks:
        out = out.when(failed).then(pl.lit(code))
    return out.otherwise(pl.lit(None, dtype=pl.Utf8)).alias("problem")


def fold_text(e: pl.Expr) -> pl.Expr:
    """Lower case, fold accents and special letters to ASCII where Unicode allows."""
    e = e.str.to_lowercase().str.replace_many(list(_FOLD), list(_FOLD.values()))
    return e.str.normalize("NFKD").str.replace_all(r"\p{M}+", "").str.to_lowercase()


def standardise_name(e: pl.Expr) -> pl.Expr:
    """Folded name letters only: titles dropped; hyphens, apostrophes and spaces removed.

    ``O'Brien``, ``OBrien`` and ``o brien`` all become ``obrien``; ``Mrs Łukasz`` becomes
    ``lukasz``. Letters of other scripts are kept (lower-cased).
    """
    s = fold_text(e).str.replace(rf"^\s*{_TITLES}\.?\s+", "")
    s = s.str.replace_all(r"[^\p{L}]+", "")
    return _null_if_empty(s)


def name_problem(e: pl.Expr) -> pl.Expr:
    return _problem(e, (standardise_name(e).is_null(), "no_letters"))


# Accepted date layouts: (pattern, replacement giving Y-M-D).
_DATE_LAYOUTS = (
    (r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", "${1}-${2}-${3}"),
    (r"^(\d{1,2})/(\d{1,2})/(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{4})(\d{2})(\d{2})$", "${1}-${2}-${3}"),
    (r"^(\d{1,2})-(\d{1,2})-(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", "${3}-${2}-${1}"),
)


def _date_parts(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    s = e.str.strip_chars()
    ymd: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for pattern, repl in reversed(_DATE_LAYOUTS):
        ymd = pl.when(s.str.contains(pattern)).then(s.str.replace(pattern, repl)).otherwise(ymd)
    parts = ymd.str.split("-")
    y = parts.list.get(0, null_on_oob=True).cast(pl.Int32)
    m = parts.list.get(1, null_on_oob=True).cast(pl.Int32)
    d = parts.list.get(2, null_on_oob=True).cast(pl.Int32)
    return y, m, d


def _date_reason(e: pl.Expr, today: dt.date) -> pl.Expr:
    y, m, d = _date_parts(e)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = (
        pl.when(m == 2).then(28 + leap.cast(pl.Int32))
        .when(m.is_in([4, 6, 9, 11])).then(30)
        .otherwise(31)
    )
    stamp = y * 10000 + m * 100 + d
    today_stamp = today.year * 10000 + today.month * 100 + today.day
    return _problem(
        e,
        (y.is_null(), "unparseable"),
        ((m < 1) | (m > 12) | (d < 1) | (d > days), "impossible"),
        (y < 1900, "before_1900"),
        (stamp > today_stamp, "future"),
    )


def standardise_date(e: pl.Expr, *, today: dt.date | None = None) -> pl.Expr:
    """ISO ``YYYY-MM-DD`` from ISO, ``DD/MM/YYYY``, ``YYYYMMDD``, ``DD-MM-YYYY`` or ``DD.MM.YYYY``.

    Impossible dates (31/02), dates in the future or before 1900 become null: never guessed.
    """
    today = today or dt.date.today()
    y, m, d = _date_parts(e)
    iso = pl.format(
        "{}-{}-{}", y.cast(pl.Utf8), m.cast(pl.Utf8).str.zfill(2), d.cast(pl.Utf8).str.zfill(2)
    )
    return pl.when(_date_reason(e, today).is_null()).then(iso).alias("date")


def date_problem(e: pl.Expr, *, today: dt.date | None = None) -> pl.Expr:
    return _date_reason(e, today or dt.date.today())


_SEX_CODES = {
    "m": "m", "male": "m", "1": "m", "f": "f", "female": "f", "2": "f",
}
_SEX_NOT_KNOWN = ["0", "9", "u", "x", "unknown", "not known", "not specified", "n/k", "nk", "i"]


def _sex_key(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars().str.to_lowercase()


def standardise_sex(e: pl.Expr) -> pl.Expr:
    """``m`` or ``f`` from M/F, Male/Female, 1/2 (UK data standard); not known becomes null."""
    codes = _sex_key(e).replace_strict(list(_SEX_CODES), list(_SEX_CODES.values()), default=None)
    return codes.cast(pl.Utf8)


def sex_problem(e: pl.Expr) -> pl.Expr:
    return _problem(
        e,
        (_sex_key(e).is_in(_SEX_NOT_KNOWN), "not_known"),
        (standardise_sex(e).is_null(), "unrecognised"),
    )


# UK postcode: outward code (area, district) then inward code (sector digit, unit letters).
UK_POSTCODE = r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][ABD-HJLNP-UW-Z]{2}$"


def _postcode_compact(e: pl.Expr) -> pl.Expr:
    return e.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def standardise_postcode(e: pl.Expr) -> pl.Expr:
    """Upper case with one space before the inward code (``sw1a1aa`` -> ``SW1A 1AA``).

    A value that is not a UK postcode is kept as upper-case letters and digits (and counted
    by :func:`postcode_problem` as ``not_uk_format``).
    """
    c = _postcode_compact(e)
    spaced = c.str.replace(r"^(.+)(.{3})$", "${1} ${2}")
    return pl.when(c == "").then(None).when(c.str.contains(UK_POSTCODE)).then(spaced).otherwise(c).alias("postcode")


def postcode_problem(e: pl.Expr) -> pl.Expr:
    c = _postcode_compact(e)
    return _problem(e, (c == "", "no_letters_or_digits"), (~c.str.contains(UK_POSTCODE), "not_uk_format"))


def standardise_exact(e: pl.Expr) -> pl.Expr:
    """Upper-case letters and digits only (NHS or National Insurance numbers)."""
    return _null_if_empty(_postcode_compact(fold_text(e)))


def exact_problem(e: pl.Expr) -> pl.Expr:
    return _problem(e, (standardise_exact(e).is_null(), "no_letters_or_digits"))


def standardise_text(e: pl.Expr) -> pl.Expr:
    """Folded lower-case letters and digits, single spaces between words."""
    s = fold_text(e).str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    return _null_if_empty(s)


def text_problem(e: pl.Expr) -> pl.Expr:
    return _problem(e, (standardise_text(e).is_null(), "no_letters_or_digits"))


# A problem code that still leaves a usable value (a warning, not a failure).
WARNINGS = frozenset({"not_uk_format"})

_KINDS: dict[str, tuple[Callable[..., pl.Expr], Callable[..., pl.Expr]]] = {
    "name": (standardise_name, name_problem),
    "date": (standardise_date, date_problem),
    "sex": (standardise_sex, sex_problem),
    "postcode": (standardise_postcode, postcode_problem),
    "exact": (standardise_exact, exact_problem),
    "text": (standardise_text, text_problem),
}


def field_exprs(f: Field, *, today: dt.date) -> tuple[pl.Expr, pl.Expr]:
    """The value and problem expressions of one schema field, over its input column."""
    std, problem = _KINDS[f.kind]
    col = pl.col(f.source_column).cast(pl.Utf8)
    kw = {"today": today} if f.kind == "date" else {}
    return std(col, **kw).alias(f.name), problem(col, **kw).alias(f.name)


@dataclass(frozen=True)
class Standardised:
    """Standardised values (``record_id`` then one column per field) and problem codes."""

    values: pl.DataFrame
    problems: pl.DataFrame


def standardise_frame(df: pl.DataFrame, schema: Schema, *, today: dt.date | None = None) -> Standardised:
    """Standardise every field of ``df`` as the schema says; counts nothing, drops nothing."""
    today = today or dt.date.today()
    pairs = [field_exprs(f, today=today) for f in schema.fields]
    rid = pl.col("record_id").cast(pl.Utf8).str.strip_chars()
    values = df.select(pl.when(rid == "").then(None).otherwise(rid).alias("record_id"), *(v for v, _ in pairs))
    problems = df.select(*(p for _, p in pairs))
    return Standardised(values, problems)
