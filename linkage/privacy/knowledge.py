"""What an attacker at the linkage unit holds, and the ground truth an audit measures against.

The attacker holds every encoded filter, the public schema (tokenisation is a public
algorithm), a plaintext register of people (standardised as the schema says) and, for the
attacks that use it, the true identity of a share of the encoded records. It never holds
the key. The ground truth (which register row each encoded record is) is kept apart in
:class:`Truth` and used only to measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from ..errors import InputError
from ..format.encoded import Encoded
from ..provider.extract import as_text_frame
from ..provider.standardise import standardise_frame
from ..provider.tokens import field_tokens
from ..schema import RECORD_ID, Field, Schema

__all__ = ["YEAR", "Knowledge", "TokenSets", "Truth", "build_knowledge", "complement_pairs", "frame_tokens",
           "unpack_bits"]

YEAR = "year"  # the derived feature: year of birth, from the schema's first date field
_PAIRED = -0.5  # correlation at or below which two bits count as complements
_PAIRED_SHARE = 0.9  # share of bits that must pair up for filters to count as balanced


def unpack_bits(clks: np.ndarray) -> np.ndarray:
    """Packed filters ``(n, nbytes)`` as a ``(n, 8 * nbytes)`` 0/1 uint8 matrix."""
    return np.unpackbits(np.ascontiguousarray(clks, dtype=np.uint8), axis=1)


def complement_pairs(bits: np.ndarray) -> np.ndarray:
    """Pairs ``(m, 2)`` of bits that are each other's most anti-correlated bit (correlation at most -0.5)."""
    x = bits.astype(np.float32)
    x -= x.mean(axis=0)
    sd = np.sqrt((x * x).mean(axis=0))
    x /= np.where(sd > 0, sd, 1.0)
    corr = (x.T @ x) / max(len(x), 1)
    np.fill_diagonal(corr, np.inf)
    partner = np.argmin(corr, axis=1)
    i = np.arange(len(partner))
    mutual = (partner[partner] == i) & (i < partner) & (corr[i, partner] <= _PAIRED)
    return np.stack([i[mutual], partner[mutual]], axis=1)


@dataclass(frozen=True)
class TokenSets:
    """Each person's distinct tokens as (``person``, ``tok``) pairs into ``tokens``.

    ``weight`` is the number of bit positions each token sets (its field's weight, public in
    the schema); ``field`` names the field the token came from first.
    """

    tokens: pl.Series
    person: np.ndarray
    tok: np.ndarray
    weight: np.ndarray
    field: np.ndarray

    @property
    def n_tokens(self) -> int:
        return self.tokens.len()

    def counts(self, mask: np.ndarray | None = None) -> np.ndarray:
        """People holding each token, over the people selected by ``mask``."""
        tok = self.tok if mask is None else self.tok[mask[self.person]]
        return np.bincount(tok, minlength=self.n_tokens)


@dataclass(frozen=True)
class Knowledge:
    """What the attacker holds: filters, schema, register, and the identities it was given.

    ``bits`` is every encoded filter unpacked (``(n, L)`` 0/1 uint8). ``register`` is the
    attacker's plaintext population, standardised, one column per schema field plus ``year``.
    ``known`` lists the encoded records whose identity the attacker holds, ``known_values``
    their standardised plaintext (same columns), ``known_rows`` their register rows (-1 when
    not in the register). ``attacked`` lists the other records: the ones to re-identify.
    """

    bits: np.ndarray
    schema: Schema
    register: pl.DataFrame
    known: np.ndarray
    known_values: pl.DataFrame
    known_rows: np.ndarray
    attacked: np.ndarray
    seed: int = 0
    quiet: bool = True
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return self.bits.shape[0]

    @property
    def filter_bits(self) -> int:
        return self.bits.shape[1]

    @cached_property
    def name_fields(self) -> list[str]:
        """Fields of kind ``name`` (first name and surname in the default schema)."""
        return [f.name for f in self.schema.fields if f.kind == "name"]

    @cached_property
    def date_field(self) -> str | None:
        """The first field of kind ``date`` (its year is the ``year`` feature), if any."""
        return next((f.name for f in self.schema.fields if f.kind == "date"), None)

    @cached_property
    def targets(self) -> list[str]:
        """Features whose recovery is reported: every name field, then ``year``."""
        return self.name_fields + ([YEAR] if self.date_field else [])

    @cached_property
    def bit_rate(self) -> np.ndarray:
        """Share of all filters setting each bit (the attacker sees every filter)."""
        return self.bits.mean(axis=0, dtype=np.float64)

    @cached_property
    def excluded_rows(self) -> np.ndarray:
        """Register rows of the known records: an attacker does not propose them for others."""
        rows = self.known_rows[self.known_rows >= 0]
        return np.unique(rows)

    def unbalanced(self) -> tuple[np.ndarray, int] | None:
        """The bits left when balancing is undone, and the complement pairs found; None if not balanced.

        Filters count as balanced when every one sets exactly half its bits, or when nearly all
        bits pair up with a complement (their most anti-correlated bit; bit flipping blurs but
        does not hide this). Of each pair the sparser bit (the original) is kept.
        """
        if "unbalanced" not in self._cache:
            pairs = complement_pairs(self.bits)
            balanced = bool(np.all(self.bits.sum(axis=1) == self.filter_bits // 2))
            if not balanced and 2 * len(pairs) < _PAIRED_SHARE * self.filter_bits:
                self._cache["unbalanced"] = None
            else:
                rate = self.bit_rate
                drop = np.where(rate[pairs[:, 0]] <= rate[pairs[:, 1]], pairs[:, 1], pairs[:, 0])
                self._cache["unbalanced"] = (np.setdiff1d(np.arange(self.filter_bits), drop), len(pairs))
        return self._cache["unbalanced"]

    def tokens(self, frame: pl.DataFrame, *, qgrams_only: bool = False) -> TokenSets:
        """Tokens of each row of ``frame`` (register or known values), as the schema makes them."""
        return frame_tokens(frame, self.schema.fields, qgrams_only=qgrams_only)


@dataclass(frozen=True)
class Truth:
    """The register row of each encoded record (-1 when not in it), and its true feature values."""

    rows: np.ndarray
    values: pl.DataFrame


def frame_tokens(frame: pl.DataFrame, fields: Sequence[Field], *, qgrams_only: bool = False) -> TokenSets:
    """Each row's distinct tokens over ``fields`` (columns of ``frame``), vectorised per distinct value."""
    tokens, person, tok, weight, fld = [], [], [], [], []
    for i, f in enumerate(fields):
        col = frame[f.name]
        values = col.drop_nulls().unique().sort()
        codes = col.cast(pl.Enum(values)).to_physical()
        ft = field_tokens(values, f)
        keep = np.ones(ft.tokens.len(), dtype=bool)
        if qgrams_only:
            tags = ft.tokens.str.split("\x1f").list.get(1)
            keep = tags.str.starts_with("q").to_numpy()
        code = codes.to_numpy()
        present = ~codes.is_null().to_numpy()
        rows = np.flatnonzero(present)
        code = code[present].astype(np.int64)
        # Pairs (row, token): join rows to their value's tokens.
        order = np.argsort(ft.value, kind="stable")
        v_sorted, t_sorted = ft.value[order].astype(np.int64), ft.tok[order]
        t_sorted_keep = keep[t_sorted]
        v_sorted, t_sorted = v_sorted[t_sorted_keep], t_sorted[t_sorted_keep]
        start = np.searchsorted(v_sorted, code, side="left")
        stop = np.searchsorted(v_sorted, code, side="right")
        n_each = stop - start
        r = np.repeat(rows, n_each)
        idx = np.repeat(start - np.cumsum(n_each) + n_each, n_each) + np.arange(n_each.sum())
        tokens.append(ft.tokens)
        person.append(r)
        tok.append(t_sorted[idx] if len(idx) else np.empty(0, np.int64))
        weight.append(np.full(ft.tokens.len(), f.weight))
        fld.append(np.full(ft.tokens.len(), i))
    if not tokens:
        return TokenSets(pl.Series([], dtype=pl.Utf8), np.empty(0, np.int64), np.empty(0, np.int64),
                         np.empty(0, np.int64), np.empty(0, np.int64))
    offsets = np.cumsum([0] + [t.len() for t in tokens[:-1]])
    local = pl.concat(tokens)
    distinct = local.unique().sort()
    glob = np.searchsorted(distinct.to_numpy(), local.to_numpy())
    w = np.zeros(distinct.len(), dtype=np.int64)
    np.maximum.at(w, glob, np.concatenate(weight))
    first_field = np.full(distinct.len(), len(fields), dtype=np.int64)
    np.minimum.at(first_field, glob, np.concatenate(fld))
    pairs_p = np.concatenate(person).astype(np.int64)
    pairs_t = np.concatenate([glob[t + off] for t, off in zip(tok, offsets)]).astype(np.int64)
    key = np.unique(pairs_p * distinct.len() + pairs_t)
    return TokenSets(distinct, key // distinct.len(), key % distinct.len(), w, first_field)


def _standardised(df: pl.DataFrame, schema: Schema, what: str) -> pl.DataFrame:
    """Standardised values (``record_id``, every field, ``year``) of an extract, or an InputError."""
    df = as_text_frame(df)
    missing = [c for c in schema.input_columns if c not in df.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}; it must have the encoded file's "
                         "columns (its schema's [columns])")
    values = standardise_frame(df, schema).values
    date = next((f.name for f in schema.fields if f.kind == "date"), None)
    year = pl.col(date).str.slice(0, 4) if date else pl.lit(None, dtype=pl.Utf8)
    return values.with_columns(year.alias(YEAR))


def build_knowledge(encoded: Encoded, plain: pl.DataFrame, *, known: float, register: pl.DataFrame | None = None,
                    seed: int = 0, quiet: bool = True, plain_name: str = "plain",
                    register_name: str = "register") -> tuple[Knowledge, Truth]:
    """The attacker's knowledge and the ground truth, from an encoded file and its plaintext.

    ``plain`` is the plaintext the file was encoded from (raw, as read from the extract; it is
    standardised with the file's schema and joined on ``record_id``). ``register`` is the
    attacker's plaintext population (default: ``plain``); a register row is an encoded
    record's true person when their record ids are equal. A share ``known`` of the encoded
    records, drawn with ``seed``, is given to the attacker with its plaintext.
    """
    if not 0.0 <= known < 1.0:
        raise ValueError("known must be at least 0 and below 1")
    schema = encoded.schema
    n = len(encoded)
    if n == 0:
        raise InputError("the encoded file holds no records; nothing to audit")
    std_plain = _standardised(plain, schema, plain_name)
    ids = pl.DataFrame({RECORD_ID: encoded.record_ids}).with_row_index("enc")
    plain_first = std_plain.filter(pl.col(RECORD_ID).is_not_null()).unique(RECORD_ID, keep="first",
                                                                           maintain_order=True)
    joined = ids.join(plain_first, on=RECORD_ID, how="left", maintain_order="left")
    present = ids.join(plain_first.select(RECORD_ID), on=RECORD_ID, how="semi")
    missing = n - present.height
    if missing:
        raise InputError(f"{plain_name}: {missing:,} of the encoded file's {n:,} record ids are not in it; "
                         "pass the plaintext the file was encoded from")
    truth_values = joined.drop("enc", RECORD_ID)

    std_reg = std_plain if register is None else _standardised(register, schema, register_name)
    reg_index = std_reg.select(RECORD_ID).with_row_index("row").filter(pl.col(RECORD_ID).is_not_null())
    reg_index = reg_index.unique(RECORD_ID, keep="first", maintain_order=True)
    rows = ids.join(reg_index, on=RECORD_ID, how="left", maintain_order="left")["row"]
    truth_rows = rows.fill_null(-1).cast(pl.Int64).to_numpy()

    rng = np.random.default_rng(seed)
    n_known = int(round(known * n))
    known_idx = np.sort(rng.choice(n, size=n_known, replace=False)) if n_known else np.empty(0, np.int64)
    is_known = np.zeros(n, dtype=bool)
    is_known[known_idx] = True
    knowledge = Knowledge(
        bits=unpack_bits(encoded.clks),
        schema=schema,
        register=std_reg.drop(RECORD_ID),
        known=known_idx.astype(np.int64),
        known_values=truth_values[known_idx],
        known_rows=truth_rows[known_idx],
        attacked=np.flatnonzero(~is_known),
        seed=seed,
        quiet=quiet,
    )
    return knowledge, Truth(rows=truth_rows, values=truth_values)
