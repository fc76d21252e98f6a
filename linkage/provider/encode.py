"""Keyed Bloom-filter encoding of standardised records.

The pipeline, all vectorised: standardise (polars) -> distinct values per field -> their
tokens -> each distinct token hashed once with keyed BLAKE2b, giving ``weight`` independent
bit positions (random hashing, not double hashing) -> one filter per distinct value -> each
record's filter is the OR of its fields' value filters (a gather per field) -> the schema's
hardening (:mod:`.harden`).

Hardening in the Bloom-filter stage: with ``field_keys`` each feature's tokens are hashed
with the feature's own derived key; a salted field's filters are made per distinct (value,
salt) pair of the records, each distinct (token, salt) pair hashed once.

Nothing returned here holds a raw identifier: only pseudonymous record ids, filters, counts
and reason codes. Every input row is accounted for: encoded, rejected or opted out.

A row is rejected with the first reason that applies, in the order of :data:`REJECT_REASONS`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl

from ..compiled import resolve_kernel
from ..defaults import KERNEL
from ..errors import InputError
from ..format.encoded import Counts, Encoded
from ..progress import progress
from ..schema import RECORD_ID, Field, Schema
from .block_keys import blocking_key_values
from .extract import LONG_ROW, SHORT_ROW, as_text_frame
from .harden import feature_key, harden_filters, salt_table
from .keys import as_key, key_check_value, mac_key
from .standardise import (
    MAX_RECORD_ID_CHARS,
    RECORD_ID_CONTROL,
    RECORD_ID_FORMULA,
    RECORD_ID_TOO_LONG,
    record_id_problems,
    standardise_codes,
    standardise_record_ids,
)
from .tokens import SEP, FieldTokens, field_tokens

__all__ = ["DUPLICATE_RECORD_ID", "MISSING_RECORD_ID", "REJECT_REASONS", "TOO_FEW_FIELDS", "bloom_tables",
           "encode_frame", "hash_tokens"]

MISSING_RECORD_ID = "missing_record_id"
DUPLICATE_RECORD_ID = "duplicate_record_id"
TOO_FEW_FIELDS = "too_few_fields"

# Why a row is rejected, in the order the reasons are tried (the first that applies is given).
REJECT_REASONS: dict[str, str] = {
    SHORT_ROW: "fewer fields than the header",
    LONG_ROW: "more fields than the header: an unquoted delimiter inside a value?",
    MISSING_RECORD_ID: "no record_id",
    RECORD_ID_TOO_LONG: f"record_id longer than {MAX_RECORD_ID_CHARS} characters",
    RECORD_ID_CONTROL: "record_id holds a tab, line break or other control character",
    RECORD_ID_FORMULA: "record_id starts with =, +, - or @, which a spreadsheet runs as a formula",
    DUPLICATE_RECORD_ID: "every copy of a duplicated record_id is rejected",
    TOO_FEW_FIELDS: "fewer usable linkable fields than the schema's min_fields",
}

_PERSON = b"linkage-token"
_POSITIONS_PER_DIGEST = 16  # 64-byte digest, 4 bytes per position
_CHUNK = 1 << 16
_RECORD_CHUNK = 1 << 17
_TOKEN_BITS = 1 << 26  # unpacked token bits made at a time


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


def token_filters(positions: np.ndarray, L: int) -> np.ndarray:
    """Packed filter of each token alone: ``(n_tokens, L // 8)`` uint8 from ``(n_tokens, k)`` positions."""
    out = np.empty((len(positions), L // 8), dtype=np.uint8)
    rows = max(1, _TOKEN_BITS // L)  # bounded memory when salts make many tokens
    for lo in range(0, len(positions), rows):
        chunk = positions[lo : lo + rows]
        bits = np.zeros((len(chunk), L), dtype=bool)
        bits[np.arange(len(chunk))[:, None], chunk] = True
        out[lo : lo + len(chunk)] = np.packbits(bits, axis=1)
    return out


def value_filters(value: np.ndarray, tok: np.ndarray, tok_filters: np.ndarray, n_values: int, *,
                  kernel: str = "numpy") -> np.ndarray:
    """Filter of each distinct value: the OR of its tokens' filters. Last row (missing) is zero.

    ``value`` and ``tok`` list (value index, token index) pairs; ``tok_filters`` is packed, in
    any unsigned integer word size.
    """
    out = np.zeros((n_values + 1, tok_filters.shape[1]), dtype=tok_filters.dtype)
    if kernel == "numba":
        from .kernels import or_pairs


        or_pairs(value.astype(np.int64), tok.astype(np.int64), tok_filters, out)
        return out
    order = np.argsort(value, kind="stable")
    value, tok = value[order], tok[order]
    for lo in range(0, len(value), _CHUNK * 8):
        hi = min(lo + _CHUNK * 8, len(value))
        v = value[lo:hi]
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        out[v[starts]] |= np.bitwise_or.reduceat(tok_filters[tok[lo:hi]], starts, axis=0)
    return out


def record_filters(tables: list[np.ndarray], indices: list[np.ndarray], *, kernel: str = "numpy",
                   quiet: bool = True) -> np.ndarray:
    """Each record's filter: the OR over fields of ``tables[f][indices[f][record]]``."""
    n = len(indices[0]) if indices else 0
    out = np.zeros((n, tables[0].shape[1]), dtype=tables[0].dtype)
    if kernel == "numba":
        from .kernels import or_rows


        offsets = np.cumsum([0] + [len(t) for t in tables[:-1]])
        stacked = np.concatenate(tables)
        index = np.stack([idx + off for idx, off in zip(indices, offsets)], axis=1).astype(np.int64)
    with progress(total=n, desc="encoding", quiet=quiet) as bar:
        for start in range(0, n, _RECORD_CHUNK):
            stop = min(start + _RECORD_CHUNK, n)
            if kernel == "numba":
                or_rows(stacked, index[start:stop], out[start:stop])
            else:
                for table, idx in zip(tables, indices):
                    out[start:stop] |= table[idx[start:stop]]
            bar.update(stop - start)
    return out


def _salted_table(f: Field, t: FieldTokens, n_values: int, rec_value: np.ndarray, rec_salt: np.ndarray,
                  salts: list[str], key: bytes, L: int, word: type, kernel: str) -> tuple[np.ndarray, np.ndarray]:
    """Filters of a salted field's distinct (value, salt) pairs, and each record's row among them.

    ``rec_value`` and ``rec_salt`` index each record's value (``n_values``: missing) and salt;
    each distinct (token, salt) pair is hashed once, as the text ``token SEP "salt" SEP salt``.
    """
    n_salts = len(salts)
    present = rec_value < n_values
    pairs, inverse = np.unique(rec_value[present] * n_salts + rec_salt[present], return_inverse=True)
    rec_pair = np.full(len(rec_value), len(pairs), dtype=np.int64)
    rec_pair[present] = inverse
    pair_value, pair_salt = pairs // n_salts, pairs % n_salts
    # The tokens of each pair's value: a ragged gather from (value, token) rows sorted by value.
    order = np.argsort(t.value, kind="stable")
    value_tok = t.tok[order]
    counts = np.bincount(t.value, minlength=n_values)
    starts = np.cumsum(counts) - counts
    reps = counts[pair_value]
    row_pair = np.repeat(np.arange(len(pairs)), reps)
    offsets = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    row_tok = value_tok[np.repeat(starts[pair_value], reps) + offsets]
    keys, row_key = np.unique(row_tok * n_salts + pair_salt[row_pair], return_inverse=True)
    text = t.tokens.gather(keys // n_salts) + f"{SEP}salt{SEP}" + pl.Series(salts, dtype=pl.Utf8).gather(keys % n_salts)
    positions = hash_tokens(text.to_list(), key, k=f.weight, filter_length=L)
    tf = token_filters(positions, L).view(word)
    return value_filters(row_pair, row_key, tf, len(pairs), kernel=kernel), rec_pair


def bloom_tables(schema: Schema, codes: list, good: np.ndarray, key: bytes, *, kernel: str
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each field's filter table and each kept record's row in it (the last row, zero, when missing).

    Unsalted fields get one filter per distinct value, their tokens hashed once per key group
    (all fields with the secret, or each feature with its own key when ``field_keys`` is on);
    salted fields one per distinct (value, salt) pair (:func:`_salted_table`).
    """
    L = schema.filter_length
    h = schema.hardening
    word = np.uint64 if (L // 8) % 8 == 0 else np.uint8
    toks = [field_tokens(c.values, f) for f, c in zip(schema.fields, codes)]
    salted = set(h.salt.fields) if h.salt else set()
    if h.salt:
        c = codes[[f.name for f in schema.fields].index(h.salt.with_field)]
        salt_of_value, salts = salt_table(c.values, h.salt, key)
        rec_salt = salt_of_value[c.index[good]]

    def key_of(f: Field) -> bytes:
        return feature_key(key, f.feature) if h.field_keys else key

    groups: dict[str, list[int]] = {}
    for i, f in enumerate(schema.fields):
        if f.name not in salted:
            groups.setdefault(f.feature if h.field_keys else "", []).append(i)
    positions = {}
    for members in groups.values():
        all_tokens = pl.concat([toks[i].tokens for i in members]).unique().sort()
        k = max(schema.fields[i].weight for i in members)
        pos = hash_tokens(all_tokens.to_list(), key_of(schema.fields[members[0]]), k=k, filter_length=L)
        positions.update((i, (all_tokens, pos)) for i in members)

    tables, indices = [], []
    for i, (f, c, t) in enumerate(zip(schema.fields, codes, toks)):
        if f.name in salted:
            table, index = _salted_table(f, t, c.values.len(), c.index[good], rec_salt, salts, key_of(f), L, word,
                                         kernel)
            tables.append(table)
            indices.append(index)
            continue
        all_tokens, pos = positions[i]
        global_tok = np.searchsorted(all_tokens.to_numpy(), t.tokens.to_numpy())
        tf = token_filters(pos[global_tok, : f.weight], L).view(word)
        tables.append(value_filters(t.value, t.tok, tf, c.values.len(), kernel=kernel))
        indices.append(c.index[good])
    return tables, indices


def encode_frame(
    df: Any,
    schema: Schema | None = None,
    *,
    key: bytes | str,
    opt_out: Iterable[str] | None = None,
    row_problems: Any = None,
    today: dt.date | None = None,
    kernel: str = KERNEL,
    quiet: bool = True,
) -> Encoded:
    """Standardise and encode an extract into keyed Bloom filters.

    Rows whose ``record_id`` is in ``opt_out`` are left out before anything else is done with
    them. The others are rejected with a reason code (see :data:`REJECT_REASONS`, tried in its
    order) when reading found them malformed (``row_problems``: one code or null per row,
    such as ``short_row`` and ``long_row`` from
    :func:`linkage.provider.extract.read_extract_rows`), when they have no ``record_id``
    (``missing_record_id``), one a link table must not carry (``record_id_too_long``,
    ``record_id_control_character``, ``record_id_formula``), a duplicated one (every copy:
    ``duplicate_record_id``), or fewer than ``schema.min_fields`` usable linkable fields
    (``too_few_fields``). Rejected rows are numbered from 1 (``rejects["row"]``) in the order
    of ``df``. ``kernel`` (``auto``, ``numba`` or ``numpy``) only changes the speed, never the
    filters. The schema's hardening options are applied (see :mod:`linkage.schema.hardening`);
    the filters are ``schema.output_length`` bits. The schema's blocking keys, if any, are
    hashed beside them (:mod:`linkage.provider.block_keys`).
    """
    schema = schema or Schema.default()
    key = as_key(key, "key")
    df = as_text_frame(df)
    missing = [c for c in schema.input_columns if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}; map them in the schema's [columns] table")
    n_in = df.height
    if row_problems is None:
        shape = pl.repeat(None, n_in, dtype=pl.Utf8, eager=True).alias("shape")
    else:
        shape = pl.Series("shape", row_problems, dtype=pl.Utf8)
        if shape.len() != n_in:
            raise ValueError(f"row_problems has {shape.len()} entries for {n_in} rows")

    # Opted-out people are dropped first: not standardised, not counted, not encoded.
    rid = standardise_record_ids(df[schema.column(RECORD_ID)])
    opted = sorted({str(x).strip() for x in (opt_out or [])})
    is_opted = rid.is_in(opted).fill_null(False).to_numpy()
    rows = np.flatnonzero(~is_opted)
    columns = [schema.column(f.name) for f in schema.fields]
    kept = df.select(columns)[rows] if is_opted.any() else df.select(columns)
    kept_rid = rid.gather(rows) if is_opted.any() else rid

    codes = [standardise_codes(kept[schema.column(f.name)], f, today=today) for f in schema.fields]
    present = np.zeros(len(rows), dtype=np.int64)
    for f, c in zip(schema.fields, codes):
        if f.linkable:
            present += c.present
    reason = pl.DataFrame({
        "record_id": kept_rid, "present": present, "shape": shape.gather(rows) if is_opted.any() else shape,
        "id_problem": record_id_problems(kept_rid),
    }).select(
        pl.when(pl.col("shape").is_not_null()).then(pl.col("shape"))
        .when(pl.col("record_id").is_null()).then(pl.lit(MISSING_RECORD_ID))
        .when(pl.col("id_problem").is_not_null()).then(pl.col("id_problem"))
        .when(pl.col("record_id").is_duplicated()).then(pl.lit(DUPLICATE_RECORD_ID))
        .when(pl.col("present") < schema.min_fields).then(pl.lit(TOO_FEW_FIELDS))
        .alias("reason")
    )["reason"]
    bad = reason.is_not_null().to_numpy()
    rejects = pl.DataFrame({"row": (rows[bad] + 1).astype(np.int64), "record_id": kept_rid.filter(bad),
                            "reason": reason.filter(bad)})
    good = ~bad
    n_good = int(good.sum())

    # Tokens of the distinct values of every field; each distinct token hashed once.
    kernel = resolve_kernel(kernel)
    tables, indices = bloom_tables(schema, codes, good, key, kernel=kernel)
    clks = record_filters(tables, indices, kernel=kernel, quiet=quiet).view(np.uint8)
    record_ids = kept_rid.filter(good)
    clks = harden_filters(clks, record_ids, schema, key, quiet=quiet)

    counts = Counts(rows_in=n_in, encoded=n_good, rejected=int(bad.sum()), opted_out=int(is_opted.sum()))
    return Encoded(
        record_ids=record_ids,
        clks=clks,
        block_keys=blocking_key_values(schema, codes, good, key),
        schema=schema,
        key_check=key_check_value(key),
        counts=counts,
        field_issues={f.name: c.problem_counts() for f, c in zip(schema.fields, codes)},
        rejects=rejects,
        kernel=kernel,
    )
