"""Free text (a place of birth, an address line): folded words; padded q-grams."""

from __future__ import annotations

import polars as pl

from ._base import Kind, fold_text, nonempty, null_if_empty, qgram_tokens


def normalise(e: pl.Expr) -> pl.Expr:
    return null_if_empty(fold_text(e).str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars())


KIND = Kind(
    name="text",
    description="free text: folded lower-case letters and digits, single spaces; padded q-grams",
    normalise=normalise,
    check=nonempty,
    tokens=qgram_tokens,
    weight=8,
    q=2,
)
