"""Exact identifiers (NHS or National Insurance numbers): letters and digits; one token.

Only an identical value agrees, so a typo in it gives no partial credit.
"""

from __future__ import annotations

import polars as pl

from ._base import Kind, compact, fold_text, nonempty, null_if_empty, whole_value


def normalise(e: pl.Expr) -> pl.Expr:
    return null_if_empty(compact(fold_text(e)))


KIND = Kind(
    name="exact",
    description="an exact identifier (NHS number): upper-case letters and digits; one token",
    normalise=normalise,
    check=nonempty,
    tokens=whole_value,
    weight=30,
)
