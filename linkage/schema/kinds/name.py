"""Personal names: folded letters only, tokens as padded q-grams.

``O'Brien``, ``OBrien`` and ``o brien`` all become ``obrien``; ``Mrs Łukasz`` becomes
``lukasz``; letters of other scripts are kept (lower-cased). Fields that share a feature
(first and last name in the default schema) yield comparable tokens, so swapped names agree.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ._base import Kind, fold_text, null_if_empty, problem, qgram_tokens

_TITLES = r"(?:mr|mrs|ms|miss|mx|dr|prof|rev|revd|sir|dame|lady|lord|master)"


def normalise(e: pl.Expr) -> pl.Expr:
    s = fold_text(e).str.replace(rf"^\s*{_TITLES}\.?\s+", "")
    return null_if_empty(s.str.replace_all(r"[^\p{L}]+", ""))


def check(c: pl.Expr, raw: pl.Expr, today: dt.date) -> pl.Expr:
    return problem(raw, (c.is_null(), "no_letters"))


KIND = Kind(
    name="name",
    description="a personal name: folded letters, titles dropped; padded q-grams",
    normalise=normalise,
    check=check,
    tokens=qgram_tokens,
    weight=8,
    q=2,
)
