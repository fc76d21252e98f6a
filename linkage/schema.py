"""Schemas: which fields a provider encodes and how.

A schema is a frozen dataclass, loaded from TOML and validated on creation; every problem is
reported at once. Its canonical JSON form covers only what changes the encoding (not the
input column names, which differ between providers), and its SHA-256 is the fingerprint that
the linkage unit compares across files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SchemaError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Field", "Schema", "KINDS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
KINDS = ("name", "date", "sex", "postcode", "text", "exact")
_QGRAM_KINDS = ("name", "postcode", "text")
_MAX_WEIGHT = 64


@dataclass(frozen=True)
class Field:
    """One identifier to encode.

    ``name`` labels the field in counts and rejects; ``column`` is the input column (defaults
    to ``name``); ``feature`` prefixes its tokens (fields sharing a feature, such as first and
    last name, yield comparable tokens, so swapped values still agree); ``weight`` is the
    number of bits set per token; ``q`` the q-gram size; ``linkable`` whether the field counts
    towards the schema's ``min_fields`` rule; ``swap_day_month`` adds an order-free day and
    month token to dates.
    """

    name: str
    kind: str
    column: str | None = None
    feature: str | None = None
    weight: int = 10
    q: int = 2
    linkable: bool = True
    swap_day_month: bool = True

    def __post_init__(self) -> None:
        problems = _field_problems(self)
        if problems:
            raise SchemaError(problems)

    @property
    def source_column(self) -> str:
        return self.column or self.name

    @property
    def token_feature(self) -> str:
        return self.feature or self.name

    def encoding_dict(self) -> dict[str, Any]:
        """What changes the encoding: everything but the input column."""
        d = {"name": self.name, "kind": self.kind, "feature": self.token_feature, "weight": self.weight}
        if self.kind in _QGRAM_KINDS:
            d["q"] = self.q
        if self.kind == "date":
            d["swap_day_month"] = self.swap_day_month
        return d


def _field_problems(f: Field) -> list[str]:
    where = f"field {f.name!r}" if isinstance(f.name, str) and f.name else "a field"
    problems = []
    if not isinstance(f.name, str) or not f.name.isidentifier():
        problems.append(f"{where}: name must be a non-empty identifier (letters, digits, _)")
    if f.kind not in KINDS:
        problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
    if f.column is not None and (not isinstance(f.column, str) or not f.column):
        problems.append(f"{where}: column must be a non-empty string")
    if f.feature is not None and (not isinstance(f.feature, str) or not f.feature.isidentifier()):
        problems.append(f"{where}: feature must be an identifier (letters, digits, _)")
    if not isinstance(f.weight, int) or isinstance(f.weight, bool) or not 1 <= f.weight <= _MAX_WEIGHT:
        problems.append(f"{where}: weight must be an integer from 1 to {_MAX_WEIGHT}")
    if not isinstance(f.q, int) or isinstance(f.q, bool) or not 1 <= f.q <= 5:
        problems.append(f"{where}: q must be an integer from 1 to 5")
    if not isinstance(f.linkable, bool):
        problems.append(f"{where}: linkable must be true or false")
    if not isinstance(f.swap_day_month, bool):
        problems.append(f"{where}: swap_day_month must be true or false")
    return problems


def _default_fields() -> tuple[Field, ...]:
    return (
        Field("first_name", "name", feature="name", weight=8),
        Field("last_name", "name", feature="name", weight=8),
        Field("date_of_birth", "date", weight=20),
        Field("sex", "sex", weight=8, linkable=False),
        Field("postcode", "postcode", weight=6),
    )


@dataclass(frozen=True)
class Schema:
    """The fields to encode, the filter length in bits and the rule for rejecting a record.

    A record is rejected when fewer than ``min_fields`` of its linkable fields are present
    after standardisation.
    """

    fields: tuple[Field, ...] = field(default_factory=_default_fields)
    filter_length: int = 1024
    min_fields: int = 2
    version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        problems = []
        if self.version != SCHEMA_VERSION:
            problems.append(f"version must be {SCHEMA_VERSION}")
        if not self.fields:
            problems.append("at least one field is needed")
        names = [f.name for f in self.fields]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"field {dup!r} is defined twice")
        columns = [f.source_column for f in self.fields]
        for dup in sorted({c for c in columns if columns.count(c) > 1}):
            problems.append(f"column {dup!r} is used by two fields")
        if "record_id" in names or "record_id" in columns:
            problems.append("record_id is reserved for the record identifier, not a field")
        L = self.filter_length
        if not isinstance(L, int) or isinstance(L, bool) or L % 8 or not 64 <= L <= 16384:
            problems.append("filter_length must be a multiple of 8 from 64 to 16384")
        n_linkable = sum(f.linkable for f in self.fields)
        if not isinstance(self.min_fields, int) or not 1 <= self.min_fields <= max(n_linkable, 1):
            problems.append(f"min_fields must be from 1 to the number of linkable fields ({n_linkable})")
        if problems:
            raise SchemaError(problems)

    @classmethod
    def default(cls) -> Schema:
        """First and last name, date of birth, sex and postcode, 1024-bit record filters."""
        return cls()

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "schema") -> Schema:
        """Build a schema from parsed TOML or JSON, listing every problem at once."""
        if not isinstance(data, dict):
            raise SchemaError("expected a table", source=source)
        problems: list[str] = []
        known = {"version", "filter_length", "min_fields", "fields"}
        problems += [f"unknown key {k!r}" for k in sorted(set(data) - known)]
        raw_fields = data.get("fields")
        fields = []
        if raw_fields is None:
            fields = list(_default_fields())
        elif not isinstance(raw_fields, list) or not raw_fields:
            problems.append("fields must be a non-empty array of tables ([[fields]])")
        else:
            field_keys = {f.name for f in dataclasses.fields(Field)}
            for i, raw in enumerate(raw_fields, 1):
                if not isinstance(raw, dict):
                    problems.append(f"fields[{i}] must be a table")
                    continue
                unknown = sorted(set(raw) - field_keys)
                problems += [f"fields[{i}]: unknown key {k!r}" for k in unknown]
                missing = [k for k in ("name", "kind") if k not in raw]
                problems += [f"fields[{i}]: {k} is required" for k in missing]
                if unknown or missing:
                    continue
                try:
                    fields.append(Field(**raw))
                except SchemaError as e:
                    problems += e.problems
        if problems:
            raise SchemaError(problems, source=source)
        kwargs = {k: data[k] for k in ("version", "filter_length", "min_fields") if k in data}
        try:
            return cls(fields=tuple(fields), **kwargs)
        except SchemaError as e:
            raise SchemaError(e.problems, source=source) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Schema:
        """Load and validate a TOML schema file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SchemaError("file not found", source=str(path)) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise SchemaError(f"not valid TOML ({type(e).__name__})", source=str(path)) from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """The whole schema, input columns included (it never holds the key)."""
        return {
            "version": self.version,
            "filter_length": self.filter_length,
            "min_fields": self.min_fields,
            "fields": [dataclasses.asdict(f) for f in self.fields],
        }

    def canonical_json(self) -> str:
        """What changes the encoding, as canonical JSON (sorted keys, no spaces)."""
        enc = {
            "version": self.version,
            "filter_length": self.filter_length,
            "fields": [f.encoding_dict() for f in self.fields],
        }
        return json.dumps(enc, sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON: equal on every provider that encodes the same way."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def columns(self) -> list[str]:
        """Input columns read: ``record_id`` then each field's column."""
        return ["record_id", *(f.source_column for f in self.fields)]
