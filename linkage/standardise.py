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

import numpy as np
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
    "standardise_codes",
    "Standardised",
    "FieldCodes",
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
    return pl.when(s != "").then(s)


def _problem(raw: pl.Expr, *checks: tuple[pl.Expr, str]) -> pl.Expr:
    """The first failing check's code (``missing`` for a blank value), else null."""
    out = pl.when(_blank(raw)).then(pl.lit(MISSING))
    for failed, code in checks:
        out = out.when(failed).then(pl.lit(code))
    return out.otherwise(pl.lit(None, dtype=pl.Utf8))


# A problem code that still leaves a usable value (a warning, not a failure).
WARNINGS = frozenset({"not_uk_format"})


def _accept(candidate: pl.Expr, problem: pl.Expr) -> pl.Expr:
    """The candidate where it has no problem or only a warning, else null."""
    return pl.when(problem.is_null() | problem.is_in(sorted(WARNINGS))).then(candidate)


def fold_text(e: pl.Expr) -> pl.Expr:
    """Lower case, fold accents and special letters to ASCII where Unicode allows."""
    e = e.str.to_lowercase().str.replace_many(list(_FOLD), list(_FOLD.values()))
    return e.str.normalize("NFKD").str.replace_all(r"\p{M}+", "").str.to_lowercase()


# Each kind is a pair: `normalise` (raw -> candidate, the costly part, run once) and `check`
# (candidate, raw -> problem code). A standardised value is the candidate without a problem.


def _normalise_name(e: pl.Expr) -> pl.Expr:
    s = fold_text(e).str.replace(rf"^\s*{_TITLES}\.?\s+", "")
    return _null_if_empty(s.str.replace_all(r"[^\p{L}]+", ""))


def _check_name(c: pl.Expr, raw: pl.Expr) -> pl.Expr:
    return _problem(raw, (c.is_null(), "no_letters"))


# Accepted date layouts, each rewritten to Y-M-D (the layouts cannot be confused).
_DATE_LAYOUTS = (
    (r"^(\d{1,2})/(\d{1,2})/(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{4})(\d{2})(\d{2})$", "${1}-${2}-${3}"),
    (r"^(\d{1,2})-(\d{1,2})-(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", "${3}-${2}-${1}"),
    (r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", "${1}-${2}-${3}"),
)


def _normalise_date(e: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DD`` text from any accepted layout (not yet checked to be a real date)."""
    s = e.str.strip_chars()
    for pattern, repl in _DATE_LAYOUTS:
        s = s.str.replace(pattern, repl)
    return s.str.replace(r"-(\d)-", "-0${1}-").str.replace(r"-(\d)$", "-0${1}")


def _check_date(c: pl.Expr, raw: pl.Expr, *, today: dt.date) -> pl.Expr:
    real = c.str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_not_null()
    return _problem(
        raw,
        (~c.str.contains(r"^\d{4}-\d{2}-\d{2}$"), "unparseable"),
        (~real, "impossible"),
        (c < "1900-01-01", "before_1900"),
        (c > today.isoformat(), "future"),
    )


_SEX_CODES = {"m": "m", "male": "m", "1": "m", "f": "f", "female": "f", "2": "f"}
_SEX_NOT_KNOWN = ["0", "9", "u", "x", "unknown", "not known", "not specified", "n/k", "nk", "i"]


def _normalise_sex(e: pl.Expr) -> pl.Expr:
    key = e.str.strip_chars().str.to_lowercase()
    return key.replace_strict(list(_SEX_CODES), list(_SEX_CODES.values()), default=None).cast(pl.Utf8)


def _check_sex(c: pl.Expr, raw: pl.Expr) -> pl.Expr:
    return _problem(
        raw,
        (raw.str.strip_chars().str.to_lowercase().is_in(_SEX_NOT_KNOWN), "not_known"),
        (c.is_null(), "unrecognised"),
    )


# UK postcode: outward code (area, district) then inward code (sector digit, unit letters).
UK_POSTCODE = r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][ABD-HJLNP-UW-Z]{2}$"


def _compact(e: pl.Expr) -> pl.Expr:
    return e.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def _normalise_postcode(e: pl.Expr) -> pl.Expr:
    c = _compact(e)
    spaced = pl.concat_str(c.str.head(-3), pl.lit(" "), c.str.tail(3))
    return pl.when(c == "").then(None).when(c.str.contains(UK_POSTCODE)).then(spaced).otherwise(c)


def _check_postcode(c: pl.Expr, raw: pl.Expr) -> pl.Expr:
    return _problem(raw, (c.is_null(), "no_letters_or_digits"), (~c.str.contains(UK_POSTCODE), "not_uk_format"))


def _normalise_exact(e: pl.Expr) -> pl.Expr:
    return _null_if_empty(_compact(fold_text(e)))


def _normalise_text(e: pl.Expr) -> pl.Expr:
    return _null_if_empty(fold_text(e).str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars())


def _check_nonempty(c: pl.Expr, raw: pl.Expr) -> pl.Expr:
    return _problem(raw, (c.is_null(), "no_letters_or_digits"))


_KINDS: dict[str, tuple[Callable[[pl.Expr], pl.Expr], Callable[..., pl.Expr]]] = {
    "name": (_normalise_name, _check_name),
    "date": (_normalise_date, _check_date),
    "sex": (_normalise_sex, _check_sex),
    "postcode": (_normalise_postcode, _check_postcode),
    "exact": (_normalise_exact, _check_nonempty),
    "text": (_normalise_text, _check_nonempty),
}


def _standardiser(kind: str, doc: str) -> tuple[Callable[..., pl.Expr], Callable[..., pl.Expr]]:
    normalise, check = _KINDS[kind]

    def standardise(e: pl.Expr, **kw) -> pl.Expr:
        c = normalise(e)
        return _accept(c, check(c, e, **kw))

    def problem(e: pl.Expr, **kw) -> pl.Expr:
        return check(normalise(e), e, **kw)

    standardise.__name__ = f"standardise_{kind}"
    standardise.__doc__ = doc
    problem.__name__ = f"{kind}_problem"
    problem.__doc__ = f"Reason code of a {kind} value that is missing or fails validation (null when fine)."
    return standardise, problem


standardise_name, name_problem = _standardiser(
    "name",
    """Folded name letters only: titles dropped; hyphens, apostrophes and spaces removed.

    ``O'Brien``, ``OBrien`` and ``o brien`` all become ``obrien``; ``Mrs Łukasz`` becomes
    ``lukasz``. Letters of other scripts are kept (lower-cased).""",
)
standardise_date, date_problem = _standardiser(
    "date",
    """ISO ``YYYY-MM-DD`` from ISO, ``DD/MM/YYYY``, ``YYYYMMDD``, ``DD-MM-YYYY`` or ``DD.MM.YYYY``.

    Impossible dates (31/02), dates in the future or before 1900 become null: never guessed.
    Pass ``today=`` to fix what counts as the future.""",
)
standardise_sex, sex_problem = _standardiser(
    "sex", "``m`` or ``f`` from M/F, Male/Female, 1/2 (UK data standard); not known becomes null."
)
standardise_postcode, postcode_problem = _standardiser(
    "postcode",
    """Upper case with one space before the inward code (``sw1a1aa`` -> ``SW1A 1AA``).

    A value that is not a UK postcode is kept as upper-case letters and digits, with the
    warning ``not_uk_format``.""",
)
standardise_exact, exact_problem = _standardiser(
    "exact", "Upper-case letters and digits only (NHS or National Insurance numbers)."
)
standardise_text, text_problem = _standardiser(
    "text", "Folded lower-case letters and digits, single spaces between words."
)


def _kind_kwargs(f: Field, today: dt.date | None) -> dict:
    return {"today": today or dt.date.today()} if f.kind == "date" else {}


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


def standardise_codes(raw: pl.Series, field: Field, *, today: dt.date | None = None) -> FieldCodes:
    """Standardise one column as :class:`FieldCodes`: distinct raw values are standardised once."""
    frame = pl.DataFrame({"raw": raw.cast(pl.Utf8)})
    distinct = frame.unique().with_row_index("k")
    raw_index = frame.join(distinct, on="raw", how="left", maintain_order="left", nulls_equal=True)["k"].to_numpy()
    normalise, check = _KINDS[field.kind]
    # Lazy, so polars computes each shared sub-expression once.
    cand = distinct.lazy().select(pl.col("raw"), normalise(pl.col("raw")).alias("c")).collect()
    problem = check(pl.col("c"), pl.col("raw"), **_kind_kwargs(field, today))
    std = cand.lazy().select(_accept(pl.col("c"), problem).alias("v"), problem.alias("p")).collect()
    values = std["v"].drop_nulls().unique().sort()
    # Position of each distinct raw value's standardised value in `values` (len for null).
    lookup = pl.DataFrame({"v": values}).with_row_index("i")
    std_index = std.join(lookup, on="v", how="left", maintain_order="left")["i"].fill_null(values.len()).to_numpy()
    names = sorted(std["p"].drop_nulls().unique().to_list())
    code = {n: c for c, n in enumerate(names)}
    prob = std["p"].replace_strict(code, default=-1, return_dtype=pl.Int32).to_numpy()
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
    return rid.set(rid == "", None).alias("record_id")


def standardise_frame(df: pl.DataFrame, schema: Schema, *, today: dt.date | None = None) -> Standardised:
    """Standardise every field of ``df`` as the schema says; counts nothing, drops nothing."""
    today = today or dt.date.today()
    codes = [standardise_codes(df[f.source_column], f, today=today) for f in schema.fields]
    values = pl.DataFrame([standardise_record_ids(df["record_id"])]
                          + [c.standardised().alias(f.name) for f, c in zip(schema.fields, codes)])
    problems = pl.DataFrame([
        pl.concat([pl.Series(c.problem_names, dtype=pl.Utf8), pl.Series([None], dtype=pl.Utf8)])
        .gather(np.where(c.problem < 0, len(c.problem_names), c.problem)).alias(f.name)
        for f, c in zip(schema.fields, codes)
    ])
    return Standardised(values, problems)
