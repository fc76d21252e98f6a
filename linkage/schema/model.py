"""Schemas: which fields a provider encodes, how, and from which columns of its extract.

A schema is a frozen dataclass, validated on creation, every problem reported at once. Each
field takes the defaults of its kind (:mod:`linkage.schema.kinds`) for whatever it does not
set, so a resolved schema has every setting filled in.

The *fingerprint* is the SHA-256 of a canonical JSON form of what changes the filters: the
encoding rules' version, the filter length, each field's name, kind, feature, weight, q and
kind options and, when any is on, the hardening options (:mod:`.hardening`). Input column
names and the rejection rule do not change the filters, so they are left out: a schema that
only renames columns has the default schema's fingerprint.

Schema files are TOML, in schema language version 3 (``linkage schema`` prints one)::

    version = 3
    filter_length = 1024
    min_fields = 2
    default_fields = true     # keep the default fields; false: only the fields listed here

    [columns]                 # field (or record_id) = column of the extract
    record_id = "person_ref"
    first_name = "forename"

    [fields.first_name]       # change a default field: unset keys keep their values
    weight = 10

    [fields.nhs_number]       # add a field: unset keys take the kind's defaults
    kind = "exact"

    [hardening]               # version 3 only; every option off by default
    field_keys = true
    balance = false
    xor_fold = false
    blip = 0.0                # flip probability f, 0 <= f < 0.5
    blip_seed = ""
    diffusion = 0             # 0: off; t >= 2: each output bit XORs t input bits
    diffusion_length = 0      # 0: the input length
    [hardening.salt]          # optional
    fields = ["first_name", "last_name"]
    with = "date_of_birth"
    part = "year"             # whole, or year, month, day of a date
    keyed = false

    [blocking]                # version 3 only; optional keyed blocking keys (:mod:`.blocking`)
    keys = [["date_of_birth"], ["soundex(first_name)", "soundex(last_name)"]]

Version 2 is version 3 without ``[hardening]``; version 1 files (an array of ``[[fields]]``
that replaced the defaults, each with its own ``column``) are still read, with their old
meaning. Both mean no hardening. A schema is written in the lowest version that holds it:
version 2 when no hardening option is on (so its files stay readable by linkage versions
that know no hardening), else version 3.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SchemaError
from .blocking import blocking_key_problems, key_name
from .hardening import DEFAULT_HARDENING, Hardening, hardening_problems
from .kinds import KINDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DEFAULT_FIELDS", "ENCODING_VERSION", "RECORD_ID", "SCHEMA_VERSION", "SCHEMA_VERSIONS", "Field", "Schema"]

SCHEMA_VERSION = 3  # the newest schema language, written for hardened schemas
SCHEMA_VERSIONS = (1, 2, 3)  # the schema languages read here
_PLAIN_VERSION = 2  # written for schemas without hardening
NO_HARDENING = Hardening()
DEFAULT = Hardening(**DEFAULT_HARDENING)
ENCODING_VERSION = 1  # the standardisation, token and hashing rules; in the fingerprint
RECORD_ID = "record_id"
MAX_WEIGHT = 64
FILTER_LENGTHS = (64, 16384)  # smallest and largest, in bits, a multiple of 8
_V1_WEIGHT = 10  # version 1 gave every field this weight unless it set one

_FIELD_KEYS = ("kind", "feature", "weight", "q", "linkable")
_SCHEMA_KEYS = ("version", "filter_length", "min_fields", "default_fields", "columns", "fields", "hardening",
                "blocking")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class Field:
    """One identifier to encode; settings left as None take the kind's defaults.

    ``feature`` prefixes the field's tokens (fields sharing a feature, such as first and last
    name, yield comparable tokens, so swapped values agree; default: the field's name);
    ``weight`` is the number of bits set per token; ``q`` the q-gram size (kinds with
    q-grams only); ``linkable`` whether the field counts towards the schema's
    ``min_fields``; ``options`` the kind's own switches (dates: ``swap_day_month``).
    """

    name: str
    kind: str
    feature: str | None = None
    weight: int | None = None
    q: int | None = None
    linkable: bool | None = None
    options: Mapping[str, Any] | tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        problems = _field_problems(self)
        if problems:
            raise SchemaError(problems)
        k = KINDS[self.kind]
        given = dict(self.options)
        resolved = {
            "feature": self.feature if self.feature is not None else self.name,
            "weight": self.weight if self.weight is not None else k.weight,
            "q": self.q if self.q is not None else k.q,
            "linkable": self.linkable if self.linkable is not None else k.linkable,
            "options": tuple(sorted({**k.options, **given}.items())),
        }
        for name, value in resolved.items():
            object.__setattr__(self, name, value)

    def option(self, name: str) -> Any:
        """The value of one of the kind's options."""
        return dict(self.options)[name]

    def encoding_dict(self) -> dict[str, Any]:
        """What changes the encoding: every setting but ``linkable``."""
        d = {"name": self.name, "kind": self.kind, "feature": self.feature, "weight": self.weight}
        if self.q is not None:
            d["q"] = self.q
        return {**d, **dict(self.options)}

    def to_dict(self) -> dict[str, Any]:
        """The resolved settings, as a schema file's ``[fields.NAME]`` table holds them."""
        d = {"kind": self.kind, "feature": self.feature, "weight": self.weight}
        if self.q is not None:
            d["q"] = self.q
        return {**d, "linkable": self.linkable, **dict(self.options)}


def _field_problems(f: Field) -> list[str]:
    where = f"field {f.name!r}" if isinstance(f.name, str) and f.name else "a field"
    problems = []
    if not isinstance(f.name, str) or not f.name.isidentifier():
        problems.append(f"{where}: name must be an identifier (letters, digits, _)")
    elif f.name == RECORD_ID:
        problems.append(f"{RECORD_ID} is the record identifier, not a field")
    k = KINDS.get(f.kind) if isinstance(f.kind, str) else None
    if k is None:
        problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
    if f.feature is not None and (not isinstance(f.feature, str) or not f.feature.isidentifier()):
        problems.append(f"{where}: feature must be an identifier (letters, digits, _)")
    if f.weight is not None and (not _is_int(f.weight) or not 1 <= f.weight <= MAX_WEIGHT):
        problems.append(f"{where}: weight must be an integer from 1 to {MAX_WEIGHT}")
    if k is None:
        return problems
    if f.q is not None and k.q is None:
        problems.append(f"{where}: q does not apply to kind {f.kind!r}")
    elif f.q is not None and (not _is_int(f.q) or not 1 <= f.q <= 5):
        problems.append(f"{where}: q must be an integer from 1 to 5")
    if f.linkable is not None and not isinstance(f.linkable, bool):
        problems.append(f"{where}: linkable must be true or false")
    try:
        options = dict(f.options)
    except (TypeError, ValueError):
        return [*problems, f"{where}: options must be a table"]
    for name, value in options.items():
        if name not in k.options:
            problems.append(f"{where}: {name} does not apply to kind {f.kind!r}")
        elif type(value) is not type(k.options[name]):
            problems.append(f"{where}: {name} must be {_type_word(k.options[name])}")
    return problems


def _type_word(default: Any) -> str:
    return "true or false" if isinstance(default, bool) else type(default).__name__


DEFAULT_FIELDS: tuple[Field, ...] = (
    Field("first_name", "name", feature="name"),
    Field("last_name", "name", feature="name"),
    Field("date_of_birth", "date"),
    Field("sex", "sex"),
    Field("postcode", "postcode"),
)


@dataclass(frozen=True)
class Schema:
    """The fields to encode, where they come from, the filter length and the rejection rule.

    ``columns`` maps a field name (or ``record_id``) to the extract's column; unmapped names
    are read from a column of the same name. A record is rejected when fewer than
    ``min_fields`` of its linkable fields are present after standardisation. ``hardening``
    (a :class:`Hardening` or a table of its options; see :data:`.hardening.PROFILES`) is the
    ``default`` profile unless given: ``Hardening()`` switches it off. ``blocking_keys``: keyed
    blocking keys to add to the encoded file, each a tuple of parts (:mod:`.blocking`); none
    by default, because they leak.
    """

    fields: tuple[Field, ...] = DEFAULT_FIELDS
    filter_length: int = 1024
    min_fields: int = 2
    columns: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    hardening: Hardening | Mapping[str, Any] = DEFAULT
    blocking_keys: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        problems = []
        h = self.hardening
        if isinstance(h, Mapping):
            try:
                h = Hardening.from_dict(h)
            except SchemaError as e:
                problems += e.problems
                h = NO_HARDENING
        elif not isinstance(h, Hardening):
            problems.append("hardening must be a Hardening or a table of its options")
            h = NO_HARDENING
        if not self.fields:
            problems.append("at least one field is needed")
        names = [f.name for f in self.fields]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"field {dup!r} is defined twice")
        try:
            given = dict(self.columns)
        except (TypeError, ValueError):
            given = {}
            problems.append("columns must be a table of field = column")
        for name, col in given.items():
            if name != RECORD_ID and name not in names:
                problems.append(f"columns: {name!r} is not a field of this schema (nor {RECORD_ID})")
            if not isinstance(col, str) or not col.strip():
                problems.append(f"columns: the column of {name!r} must be a non-empty string")
        L = self.filter_length
        lo, hi = FILTER_LENGTHS
        if not _is_int(L) or L % 8 or not lo <= L <= hi:
            problems.append(f"filter_length must be a multiple of 8 from {lo} to {hi}")
        elif h.is_set:
            problems += hardening_problems(h, {f.name: (f.kind, f.feature) for f in self.fields}, L)
        problems += blocking_key_problems(list(self.blocking_keys), {f.name: f.kind for f in self.fields})
        n_linkable = sum(f.linkable for f in self.fields)
        if self.fields and not n_linkable:
            problems.append("at least one field must be linkable (sex alone is not, by default)")
        elif not _is_int(self.min_fields) or not 1 <= self.min_fields <= max(n_linkable, 1):
            problems.append(f"min_fields must be from 1 to the number of linkable fields ({n_linkable})")
        if problems:
            raise SchemaError(problems)
        resolved = {n: str(given.get(n, n)) for n in (RECORD_ID, *names)}
        used = list(resolved.values())
        dups = sorted({c for c in used if used.count(c) > 1})
        if dups:
            raise SchemaError([f"column {c!r} is read by two fields" for c in dups])
        object.__setattr__(self, "columns", tuple(resolved.items()))
        object.__setattr__(self, "hardening", h.resolved(L))
        object.__setattr__(self, "blocking_keys", tuple(tuple(key_name((p,)) for p in k) for k in self.blocking_keys))

    @classmethod
    def default(cls) -> Schema:
        """First and last name, date of birth, sex and postcode, 1024-bit record filters."""
        return cls()

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "schema") -> Schema:
        """A schema from a parsed TOML or JSON table (version 1, 2 or 3), every problem listed at once."""
        return _parse(data, source)

    @classmethod
    def from_toml(cls, path: str | Path) -> Schema:
        """Load and validate a TOML schema file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SchemaError("file not found", source=str(path)) from None
        except IsADirectoryError:
            raise SchemaError("is a folder, not a schema file", source=str(path)) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise SchemaError(f"not valid TOML ({type(e).__name__})", source=str(path)) from None
        return _parse(data, str(path))

    def column(self, name: str) -> str:
        """The extract's column holding field ``name`` (or ``record_id``)."""
        return dict(self.columns)[name]

    @property
    def input_columns(self) -> list[str]:
        """Extract columns read: the record id's, then each field's."""
        return [col for _, col in self.columns]

    @property
    def output_length(self) -> int:
        """Bits per record in the encoded file: ``filter_length`` after hardening."""
        return self.hardening.output_length(self.filter_length)

    def to_dict(self) -> dict[str, Any]:
        """The resolved schema, every default filled in; it never holds the key.

        Version 2 when no hardening option is on and there are no blocking keys, else version 3
        with a ``hardening`` table (and a ``blocking`` one).
        """
        d = {
            "version": SCHEMA_VERSION if self.hardening.is_set or self.blocking_keys else _PLAIN_VERSION,
            "filter_length": self.filter_length,
            "min_fields": self.min_fields,
            "default_fields": False,
            "columns": dict(self.columns),
            "fields": {f.name: f.to_dict() for f in self.fields},
        }
        if self.hardening.is_set or self.blocking_keys:
            d["hardening"] = self.hardening.to_dict()
        if self.blocking_keys:
            d["blocking"] = {"keys": [list(k) for k in self.blocking_keys]}
        return d

    def to_toml(self) -> str:
        """The resolved schema as a TOML file that loads back to an equal schema."""
        import tomli_w

        d = self.to_dict()
        head = (
            f"# linkage schema, version {d['version']}, resolved: every default filled in\n"
            f"# fingerprint {self.fingerprint()}\n"
        )
        return head + tomli_w.dumps(d)

    def encoding(self) -> dict[str, Any]:
        """What changes the filters (see the module docstring)."""
        d = {
            "version": ENCODING_VERSION,
            "filter_length": self.filter_length,
            "fields": [f.encoding_dict() for f in self.fields],
        }
        hardening = self.hardening.encoding_dict()
        return {**d, "hardening": hardening} if hardening else d

    def canonical_json(self) -> str:
        """:meth:`encoding` as canonical JSON (sorted keys, no spaces)."""
        return json.dumps(self.encoding(), sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON: equal on every provider that encodes the same way."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def difference(self, other: Schema, *, names: tuple[str, str] = ("A", "B")) -> str | None:
        """The first setting that encodes differently in ``other``, in words; None if none does."""
        a, b = self.encoding(), other.encoding()
        na, nb = names
        for key in ("version", "filter_length"):
            if a[key] != b[key]:
                label = "encoding rules version" if key == "version" else key
                return f"{label} is {a[key]} in {na} but {b[key]} in {nb}"
        for i, (fa, fb) in enumerate(zip(a["fields"], b["fields"]), 1):
            if fa["name"] != fb["name"]:
                return f"field {i} is {fa['name']!r} in {na} but {fb['name']!r} in {nb}"
            for key in sorted(set(fa) | set(fb)):
                if fa.get(key) != fb.get(key):
                    va, vb = (json.dumps(x.get(key)) for x in (fa, fb))
                    return f"field {fa['name']!r} has {key} {va} in {na} but {vb} in {nb}"
        n = len(a["fields"])
        for extra, has, lacks in ((b["fields"][n:], nb, na), (a["fields"][len(b["fields"]):], na, nb)):
            if extra:
                return f"field {extra[0]['name']!r} is encoded in {has} but not in {lacks}"
        return _hardening_difference(self.hardening, other.hardening, na, nb)


def _word(x: Any) -> str:
    """A setting's value as a message shows it: numbers plain, text quoted, true/false."""
    if isinstance(x, float):
        return f"{x:g}"
    return json.dumps(x)


def _hardening_difference(a: Hardening, b: Hardening, na: str, nb: str) -> str | None:
    """The first hardening setting that differs, in words; None if none does."""
    da, db = a.to_dict(), b.to_dict()
    for key in ("field_keys", "salt", "balance", "xor_fold", "blip", "blip_seed", "diffusion", "diffusion_length"):
        va, vb = da.get(key), db.get(key)
        if va == vb:
            continue
        if key != "salt":
            return f"hardening {key} is {_word(va)} in {na} but {_word(vb)} in {nb}"
        if va is None or vb is None:
            return f"hardening salt is {'on' if va else 'off'} in {na} but {'on' if vb else 'off'} in {nb}"
        sub = next(k for k in va if va[k] != vb[k])
        return f"hardening salt {sub} is {_word(va[sub])} in {na} but {_word(vb[sub])} in {nb}"
    return None


def _parse(data: Any, source: str) -> Schema:
    if not isinstance(data, dict):
        raise SchemaError("expected a table", source=source)
    version = data.get("version", 1 if isinstance(data.get("fields"), list) else SCHEMA_VERSION)
    if version not in SCHEMA_VERSIONS:
        raise SchemaError(
            f"schema version {version!r} is not supported (this tool reads versions "
            f"{', '.join(map(str, SCHEMA_VERSIONS))}); upgrade linkage or write version {SCHEMA_VERSION}",
            source=source,
        )
    problems: list[str] = []
    try:
        kwargs = (_parse_v1 if version == 1 else _parse_v2)(data, problems)
    except SchemaError as e:
        problems += e.problems
        kwargs = {}
    if version < 3:
        kwargs["hardening"] = NO_HARDENING  # versions 1 and 2 knew no hardening
        if "hardening" in data:
            problems.append("[hardening] needs schema version 3: write version = 3")
    elif "hardening" in data:
        kwargs["hardening"] = data["hardening"]  # checked by Schema, with the schema's other settings
        if not isinstance(data["hardening"], dict):
            problems.append("hardening must be a table [hardening]")
    if version < 3 and "blocking" in data:
        problems.append("[blocking] needs schema version 3: write version = 3")
    elif "blocking" in data:
        block = data["blocking"]
        if not isinstance(block, dict) or set(block) - {"keys"}:
            problems.append("blocking must be a table [blocking] with one entry, keys")
        else:
            keys = block.get("keys", [])
            kwargs["blocking_keys"] = tuple(tuple(k) if isinstance(k, list) else k for k in keys) \
                if isinstance(keys, list) else keys
    if problems:
        raise SchemaError(problems, source=source)
    try:
        return Schema(**kwargs)
    except SchemaError as e:
        raise SchemaError(e.problems, source=source) from None


def _make_field(name: str, settings: dict[str, Any], where: str, problems: list[str]) -> Field | None:
    kind = settings.get("kind")
    if kind is None:
        problems.append(f"{where}: kind is required")
        return None
    extra = set(settings) - set(_FIELD_KEYS)
    options = KINDS[kind].options if isinstance(kind, str) and kind in KINDS else extra
    unknown = sorted(extra - set(options))
    problems += [f"{where}: unknown key {k!r}" for k in unknown]
    if unknown:
        return None
    options = {k: settings[k] for k in extra if k in options}
    try:
        return Field(name, **{k: settings[k] for k in _FIELD_KEYS if k in settings}, options=options)
    except SchemaError as e:
        problems += e.problems
        return None


def _parse_v2(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Versions 2 and 3 (version 3 adds ``[hardening]``, read by :func:`_parse`)."""
    problems += [f"unknown key {k!r}" for k in sorted(set(data) - set(_SCHEMA_KEYS))]
    use_defaults = data.get("default_fields", True)
    if not isinstance(use_defaults, bool):
        problems.append("default_fields must be true or false")
        use_defaults = True
    raw_fields = data.get("fields", {})
    if isinstance(raw_fields, list):
        problems.append("fields must be tables [fields.NAME] in version 2 (an array [[fields]] is version 1)")
        raw_fields = {}
    elif not isinstance(raw_fields, dict):
        problems.append("fields must be tables [fields.NAME]")
        raw_fields = {}
    defaults = {f.name: f for f in DEFAULT_FIELDS}
    fields = dict(defaults) if use_defaults else {}
    for name, settings in raw_fields.items():
        where = f"field {name!r}"
        if not isinstance(settings, dict):
            problems.append(f"{where} must be a table [fields.{name}]")
            continue
        base = defaults.get(name)
        if base is not None and settings.get("kind", base.kind) == base.kind:
            settings = {**base.to_dict(), **settings}  # a default field, as given or changed
        made = _make_field(name, settings, where, problems)
        if made is not None:
            fields[name] = made
    if not fields:
        problems.append("at least one field is needed: list fields, or leave default_fields true")
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        problems.append("columns must be a table [columns] of field = column")
        columns = {}
    kwargs = {"fields": tuple(fields.values()), "columns": columns}
    return {**kwargs, **{k: data[k] for k in ("filter_length", "min_fields") if k in data}}


def _parse_v1(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Version 1: ``[[fields]]`` replace the defaults, each with its own ``column``; weight 10."""
    known = {"version", "filter_length", "min_fields", "fields"}
    problems += [f"unknown key {k!r}" for k in sorted(set(data) - known)]
    raw_fields = data.get("fields")
    if raw_fields is None:
        fields, columns = list(DEFAULT_FIELDS), {}
    elif not isinstance(raw_fields, list) or not raw_fields:
        problems.append("fields must be a non-empty array of tables ([[fields]])")
        fields, columns = [], {}
    else:
        fields, columns = [], {}
        v1_keys = {"name", "kind", "column", "feature", "weight", "q", "linkable", "swap_day_month"}
        for i, raw in enumerate(raw_fields, 1):
            where = f"fields[{i}]"
            if not isinstance(raw, dict):
                problems.append(f"{where} must be a table")
                continue
            unknown = sorted(set(raw) - v1_keys)
            problems += [f"{where}: unknown key {k!r}" for k in unknown]
            if "name" not in raw:
                problems.append(f"{where}: name is required")
            if unknown or "name" not in raw:
                continue
            settings = {k: v for k, v in raw.items() if k not in ("name", "column") and v is not None}
            settings.setdefault("weight", _V1_WEIGHT)
            settings.setdefault("linkable", True)
            if settings.get("kind") in KINDS and KINDS[settings["kind"]].q is None:
                settings.pop("q", None)  # version 1 carried a q for every kind
            if settings.get("kind") != "date":
                settings.pop("swap_day_month", None)
            made = _make_field(raw["name"], settings, where, problems)
            if made is not None:
                fields.append(made)
                if raw.get("column"):
                    columns[made.name] = raw["column"]
    kwargs = {"fields": tuple(fields), "columns": columns}
    return {**kwargs, **{k: data[k] for k in ("filter_length", "min_fields") if k in data}}
