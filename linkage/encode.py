"""Keyed Bloom-filter encoding of standardised records.

The pipeline, all vectorised: standardise (polars) -> distinct values per field -> their
tokens -> each distinct token hashed once with keyed BLAKE2b, giving ``weight`` independent
bit positions (random hashing, not double hashing) -> one filter per distinct value -> each
record's filter is the OR of its fields' value filters (a gather per field).

Nothing returned here holds a raw identifier: only pseudonymous record ids, filters, counts
and reason codes. Every input row is accounted for: encoded, rejected or opted out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .errors import InputError
from .keys import key_check_value, mac_key
from .progress import progress
from .schema import Schema
from .standardise import MISSING, WARNINGS, standardise_frame
from .tokens import field_tokens

__all__ = ["Counts", "Encoded", "encode_frame", "hash_tokens", "as_text_frame"]

_PERSON = b"linkage-token"
_POSITIONS_PER_DIGEST = 16  # 64-byte digest, 4 bytes per position
_CHUNK = 1 << 16
_RECORD_CHUNK = 1 << 17


@dataclass(frozen=True)
class Counts:
    """Where every input row went; ``rows_in == encoded + rejected + opted_out``."""

    rows_in: int
    encoded: int
    rejected: int
    opted_out: int

    def __post_init__(self) -> None:
        if self.rows_in != self.encoded + self.rejected + self.opted_out:
            raise ValueError("counts do not reconcile")

    def line(self) -> str:
        return (
            f"rows in {self.rows_in:,} = encoded {self.encoded:,} + rejected {self.rejected:,}"
            f" + opted out {self.opted_out:,}"
        )


@dataclass(frozen=True)
class Encoded:
    """Encoded records of one provider: pseudonymous ids and packed filters, no identifiers.

    ``clks`` is ``(n, filter_length // 8)`` uint8; bit ``i`` of a filter is bit ``7 - i % 8``
    of byte ``i // 8``. ``rejects`` (row, record_id, reason) stays with the provider and is
    never written to the encoded file.
    """

    record_ids: pl.Series
    clks: np.ndarray
    schema: Schema
    key_check: str
    counts: Counts
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    rejects: pl.DataFrame | None = None
    provider: str | None = None
    created: str | None = None

    def __len__(self) -> int:
        return self.clks.shape[0]

    @property
    def frame(self) -> pl.DataFrame:
        """``record_id`` and ``clk`` (binary) as a polars frame."""
        nbytes = self.clks.shape[1]
        clk = pl.Series("clk", [self.clks[i].tobytes() for i in range(len(self))], dtype=pl.Binary)
        return pl.DataFrame({"record_id": self.record_ids, "clk": clk}) if nbytes else pl.DataFrame()

    def popcounts(self) -> np.ndarray:
        """Bits set per filter."""
        return np.unpackbits(self.clks, axis=1).sum(axis=1, dtype=np.int64)


def hash_tokens(tokens: list[str], key: bytes, *, k: int, filter_length: int) -> np.ndarray:
    """``(len(tokens), k)`` bit positions in ``[0, filter_length)``, from keyed BLAKE2b.

    Each token is hashed once per 16 positions (64-byte digests, salted by block number);
    each position takes 4 digest bytes modulo the filter length.
    """
    mk = mac_key(key)
    blocks = -(-k // _POSITIONS_PER_DIGEST)
    buf = bytearray()
    for t in tokens:
        data = t.encode("utf-8")
        for b in range(blocks):
            buf += hashlib.blake2b(data, key=mk, digest_size=64, person=_PERSON, salt=b.to_bytes(16, "little")).digest()
    words = np.frombuffer(bytes(buf), dtype="<u4").reshape(len(tokens), blocks * _POSITIONS_PER_DIGEST)
    return (words[:, :k] % np.uint32(filter_length)).astype(np.int64)


def _value_filters(pairs: pl.DataFrame, positions: np.ndarray, n_values: int, k: int, L: int) -> np.ndarray:
    """Packed filters of distinct values from (value, token index) pairs; last row all zero."""
    out = np.zeros((n_values + 1, L // 8), dtype=np.uint8)
    vals = pairs["value"].to_numpy()
    toks = pairs["tok"].to_numpy()
    order = np.argsort(vals, kind="stable")
    vals, toks = vals[order], toks[order]
    bounds = np.searchsorted(vals, np.arange(0, n_values + _CHUNK, _CHUNK))
    for c, start in enumerate(range(0, n_values, _CHUNK)):
        lo, hi = bounds[c], bounds[c + 1]
        n = min(_CHUNK, n_values - start)
        bits = np.zeros((n, L), dtype=bool)
        rows = (vals[lo:hi] - start).astype(np.int64)
        bits[rows[:, None], positions[toks[lo:hi], :k]] = True
        out[start : start + n] = np.packbits(bits, axis=1)
    return out


def as_text_frame(df: Any) -> pl.DataFrame:
    """A polars frame with every column as text (pandas accepted; integral floats lose '.0')."""
    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df)
        except Exception:
            raise InputError("expected a polars or pandas DataFrame") from None
    casts = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            col = pl.when(col == col.round(0)).then(col.cast(pl.Int64).cast(pl.Utf8)).otherwise(col.cast(pl.Utf8))
        elif dtype != pl.Utf8:
            col = col.cast(pl.Utf8)
        casts.append(col.alias(name))
    return df.select(casts)


def _issue_counts(problems: pl.DataFrame) -> dict[str, dict[str, int]]:
    issues: dict[str, dict[str, int]] = {}
    for name in problems.columns:
        vc = problems[name].drop_nulls().value_counts(sort=True)
        issues[name] = {str(r): int(c) for r, c in vc.iter_rows()}
    return issues


def encode_frame(
    df: Any,
    schema: Schema | None = None,
    *,
    key: bytes,
    opt_out: Iterable[str] | None = None,
    today: dt.date | None = None,
    quiet: bool = True,
) -> Encoded:
    """Standardise and encode an extract into keyed Bloom filters.

    Rows whose ``record_id`` is in ``opt_out`` are left out before anything else is done with
    them. Rows without a ``record_id``, with a duplicated one, or with fewer than
    ``schema.min_fields`` usable linkable fields are rejected with a reason code.
    """
    from .keys import _check_length

    schema = schema or Schema.default()
    _check_length(key, "key")
    df = as_text_frame(df)
    missing = [c for c in schema.columns if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}; map them with a schema (column = ...)")
    n_in = df.height
    std = standardise_frame(df.select(schema.columns), schema, today=today)
    values = std.values.with_row_index("row", offset=1)

    # Opted-out people are dropped first: not standardised further, not counted in issues.
    opted = sorted({str(x).strip() for x in (opt_out or [])})
    is_opted = values["record_id"].is_in(opted).fill_null(False)
    keep = values.filter(~is_opted)
    problems = std.problems.filter(~is_opted)

    linkable = [f.name for f in schema.fields if f.linkable]
    present = pl.sum_horizontal([pl.col(n).is_not_null().cast(pl.Int32) for n in linkable]) if linkable else pl.lit(0)
    reason = (
        pl.when(pl.col("record_id").is_null()).then(pl.lit("missing_record_id"))
        .when(pl.col("record_id").is_duplicated()).then(pl.lit("duplicate_record_id"))
        .when(present < schema.min_fields).then(pl.lit("too_few_fields"))
    )
    keep = keep.with_columns(reason.alias("reason"))
    rejects = keep.filter(pl.col("reason").is_not_null()).select("row", "record_id", "reason")
    good = keep.filter(pl.col("reason").is_null())

    L = schema.filter_length
    kmax = max(f.weight for f in schema.fields)
    # Tokens of the distinct values of every field; each distinct token hashed once.
    per_field = []
    for f in schema.fields:
        distinct = good[f.name].drop_nulls().unique().sort()
        toks = field_tokens(distinct, f)
        per_field.append((f, distinct, toks))
    all_tokens = pl.concat([t["token"] for _, _, t in per_field]).unique().sort()
    positions = hash_tokens(all_tokens.to_list(), key, k=kmax, filter_length=L)
    token_index = pl.DataFrame({"token": all_tokens, "tok": pl.int_range(all_tokens.len(), eager=True)})

    clks = np.zeros((good.height, L // 8), dtype=np.uint8)
    wide = clks.view(np.uint64) if (L // 8) % 8 == 0 else clks
    tables, indices = [], []
    for f, distinct, toks in per_field:
        pairs = toks.join(token_index, on="token", how="left").select("value", "tok")
        table = _value_filters(pairs, positions, distinct.len(), f.weight, L)
        tables.append(table.view(wide.dtype))
        # Index of each record's value among the sorted distinct values; missing -> zero row.
        rank = (pl.col(f.name).rank("dense").cast(pl.Int64) - 1).fill_null(distinct.len())
        indices.append(good.select(rank)[f.name].to_numpy())
    with progress(total=good.height, desc="encoding", quiet=quiet) as bar:
        for start in range(0, good.height, _RECORD_CHUNK):
            stop = min(start + _RECORD_CHUNK, good.height)
            for table, idx in zip(tables, indices):
                wide[start:stop] |= table[idx[start:stop]]
            bar.update(stop - start)

    counts = Counts(rows_in=n_in, encoded=good.height, rejected=rejects.height, opted_out=int(is_opted.sum()))
    return Encoded(
        record_ids=good["record_id"],
        clks=clks,
        schema=schema,
        key_check=key_check_value(key),
        counts=counts,
        field_issues=_issue_counts(problems),
        rejects=rejects,
    )


def issue_summary(issues: dict[str, dict[str, int]], schema: Schema) -> list[str]:
    """One line per field (in schema order) with problem counts; missing first, warnings marked."""
    lines = []
    for name in (f.name for f in schema.fields):
        reasons = issues.get(name, {})
        if not reasons:
            continue
        ordered = sorted(reasons.items(), key=lambda kv: (kv[0] != MISSING, kv[0]))
        parts = [f"{r}{' (kept, warning)' if r in WARNINGS else ''} {n:,}" for r, n in ordered]
        lines.append(f"{name}: " + ", ".join(parts))
    return lines
