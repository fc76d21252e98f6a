"""Token features of standardised values, each distinct value and token listed once.

Which tokens a value yields is its kind's business (:mod:`linkage.schema.kinds`); here each
token gets its feature name and a tag as a prefix (domain separation), so the same text in
two features hashes to unrelated bits, and fields sharing a feature (first and last name)
yield comparable tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..schema import KINDS, Field

__all__ = ["SEP", "FieldTokens", "field_tokens"]

SEP = "\x1f"  # cannot occur in a standardised value


@dataclass(frozen=True)
class FieldTokens:
    """Distinct tagged ``tokens`` of a field, and (``value``, ``tok``) index pairs linking them."""

    tokens: pl.Series
    value: np.ndarray
    tok: np.ndarray


def field_tokens(values: pl.Series, field: Field) -> FieldTokens:
    """Tokens of distinct standardised values (no nulls), each distinct token listed once."""
    tokens, value, tok = [], [], []
    offset = 0
    for tag, frame in KINDS[field.kind].tokens(values, field):
        grams = frame["gram"].unique().sort()
        codes = frame["gram"].cast(pl.Enum(grams)).to_physical().to_numpy().astype(np.int64)
        tokens.append(f"{field.feature}{SEP}{tag}{SEP}" + grams)
        value.append(frame["value"].to_numpy())
        tok.append(codes + offset)
        offset += grams.len()
    return FieldTokens(
        tokens=pl.concat(tokens) if tokens else pl.Series([], dtype=pl.Utf8),
        value=np.concatenate(value) if value else np.empty(0, np.uint32),
        tok=np.concatenate(tok) if tok else np.empty(0, np.int64),
    )
