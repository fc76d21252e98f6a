"""Keyed blocking keys, made by the provider from standardised values (schema ``[blocking]``).

Each key joins its parts (a field's standardised value, or a phonetic code, year, outward
postcode... of it: :data:`linkage.schema.blocking.TRANSFORMS`) and is hashed with HMAC-SHA256
under a key derived from the secret (HKDF, label ``blocking keys``), kept to 64 bits. Without
the secret nobody can compute a key from a name; with the encoded file, the linkage unit sees
only which records share a key. A record lacking a part has no value for that key (0).

Phonetic codes come from jellyfish. Every distinct value is transformed once and every
distinct combination of parts hashed once.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import polars as pl

from ..schema import Schema
from ..schema.blocking import parse_part
from .keys import derive_key
from .standardise import FieldCodes

__all__ = ["NO_KEY", "blocking_key_values", "transform"]

NO_KEY = 0  # the record lacks a part of the key
_LABEL = "blocking keys"
_SEP = "\x1f"


def _phonetic(name: str):
    import jellyfish

    return {"soundex": jellyfish.soundex, "metaphone": jellyfish.metaphone, "nysiis": jellyfish.nysiis}[name]


def transform(values: pl.Series, name: str | None) -> pl.Series:
    """Each standardised value transformed (``None``: unchanged); null where nothing is left."""
    v = values.cast(pl.Utf8)
    if name is None:
        out = v
    elif name in ("soundex", "metaphone", "nysiis"):
        code = _phonetic(name)
        letters = v.str.replace_all(r"[^a-zA-Z]", "")
        out = letters.map_elements(lambda s: code(s) if s else None, return_dtype=pl.Utf8)
    elif name == "initial":
        out = v.str.slice(0, 1)
    elif name == "year":
        out = v.str.slice(0, 4)
    elif name == "month_day":
        out = v.str.slice(5, 5)
    elif name == "district":
        out = v.str.split(" ").list.first()
    else:
        raise ValueError(f"unknown transform {name!r}")
    return out.set(out == "", None)


def _part_codes(codes: FieldCodes, name: str | None, good: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each good record's code for one part (-1: missing) and the distinct part values."""
    tv = transform(codes.values, name)
    distinct = tv.drop_nulls().unique().sort()
    lookup = pl.DataFrame({"v": distinct}).with_row_index("c")
    per_value = pl.DataFrame({"v": tv}).join(lookup, on="v", how="left", maintain_order="left")["c"]
    per_value = per_value.fill_null(-1).cast(pl.Int64).to_numpy()
    per_value = np.append(per_value, -1)  # index len(values): the record's value is missing
    return per_value[codes.index[good]], distinct.to_list()


def blocking_key_values(schema: Schema, codes: list[FieldCodes], good: np.ndarray, key: bytes) -> np.ndarray | None:
    """``(n_good, n_keys)`` uint64 keyed hashes of each record's blocking keys; None if the schema has none."""
    if not schema.blocking_keys:
        return None
    by_name = {f.name: c for f, c in zip(schema.fields, codes)}
    secret = derive_key(key, _LABEL)
    n = int(good.sum())
    out = np.zeros((n, len(schema.blocking_keys)), dtype=np.uint64)
    for k, parts in enumerate(schema.blocking_keys):
        columns, vocab = [], []
        for part in parts:
            name, fld = parse_part(part)
            c, v = _part_codes(by_name[fld], name, good)
            columns.append(c)
            vocab.append(v)
        stacked = np.stack(columns, axis=1)
        complete = (stacked >= 0).all(axis=1)
        if not complete.any():
            continue
        combos, inverse = np.unique(stacked[complete], axis=0, return_inverse=True)
        head = f"{k}{_SEP}{'+'.join(parts)}"
        hashed = np.array([  # one HMAC per distinct combination of parts
            int.from_bytes(hmac.new(secret, _SEP.join([head, *(vocab[p][c] for p, c in enumerate(row))]).encode(),
                                    hashlib.sha256).digest()[:8], "little") | 1
            for row in combos.tolist()
        ], dtype=np.uint64)
        out[complete, k] = hashed[inverse.ravel()]
    return out
