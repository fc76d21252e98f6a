"""Hardening: schema options that make filters harder to attack, each part of the fingerprint.

An unhardened record-level Bloom filter gives every token fixed bits: an attacker at the
linkage unit who knows some records' identities learns which bits each name or year sets.
The options, applied in this order to each record's filter of ``filter_length`` bits:

1. ``field_keys``: each field *feature* hashes its tokens with its own key, derived from
   the secret with HKDF (fields sharing a feature share a key, so swapped names agree);
2. ``salt``: the tokens of some fields are hashed together with a value of the record (the
   year of birth, for names), so a token sets different bits in different salt groups;
   ``keyed`` passes the salt value through a keyed hash first. A record whose salt field is
   missing is salted with the empty value: records missing it agree with each other only;
3. ``balance``: the filter and its complement (``2L`` bits, exactly ``L`` ones), permuted
   with a keyed permutation;
4. ``xor_fold``: the two halves XORed (``b[i] ^ b[i + L/2]``), half the length;
5. ``diffusion``: each output bit is the XOR of ``diffusion`` input bits at keyed positions
   (Armknecht, Heng and Schnell, PoPETs 2023), ``diffusion_length`` bits out (0: as many as
   go in);
6. ``blip``: each bit flipped with probability ``blip`` (randomised response; differential
   privacy ``epsilon = ln((1 - f) / f)`` per bit). The flips are drawn from a keyed function
   of the secret, ``blip_seed`` and the record id: the same record encoded again with the same
   key and seed gets the same flips, so encoding twice gives an attacker nothing to average.

A ``Hardening()`` switches everything off and leaves the encoding exactly as schema version
2's. A schema that says nothing gets the ``default`` profile (:data:`PROFILES`): per-field keys
and a diffusion layer of five bits, chosen by measurement against the attacks of the audit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import SchemaError

__all__ = ["DEFAULT_HARDENING", "DEFAULT_PROFILE", "HARDENING_VERSION", "MAX_DIFFUSION", "PROFILES", "SALT_PARTS",
           "Hardening", "Salt"]

HARDENING_VERSION = 1  # the hardening rules; in the fingerprint of every hardened schema
SALT_PARTS = ("whole", "year", "month", "day")  # of the salt field's value; year, month, day for dates
MAX_DIFFUSION = 16  # most input bits per output bit
MAX_SEED_CHARS = 256
DIFFUSION_LENGTHS = (64, 16384)  # smallest and largest diffusion output, in bits
DATE_PARTS = {"year": (0, 4), "month": (5, 2), "day": (8, 2)}  # (start, length) in YYYY-MM-DD

_SALT_KEYS = ("fields", "with", "part", "keyed")
_KEYS = ("field_keys", "balance", "xor_fold", "blip", "blip_seed", "diffusion", "diffusion_length", "salt")

# Named profiles; a [hardening] table starts from one (``profile = ...``, "default" if not
# given) and its options override it. Chosen by measurement (benchmarks/privacy_tradeoff.py):
# "default" keeps every attack of `linkage audit` under 1% with 1% of identities known and
# under 2% with 5% or 20% known, at a cost of under 0.01 F1; "stronger" costs more F1.
PROFILES: dict[str, dict[str, Any]] = {
    "none": {},
    "default": {"field_keys": True, "diffusion": 5},
    "stronger": {"field_keys": True, "diffusion": 6, "diffusion_length": 2048},
}
DEFAULT_PROFILE = "default"
DEFAULT_HARDENING: dict[str, Any] = PROFILES[DEFAULT_PROFILE]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class Salt:
    """Salt the tokens of ``fields`` with the ``part`` of field ``with_field`` (``keyed``: a keyed hash of it)."""

    fields: tuple[str, ...]
    with_field: str
    part: str = "whole"
    keyed: bool = False

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.fields, (list, tuple)):
            object.__setattr__(self, "fields", tuple(self.fields))
        if (not isinstance(self.fields, tuple) or not self.fields
                or not all(isinstance(f, str) and f.isidentifier() for f in self.fields)):
            problems.append("hardening salt: fields must be a non-empty list of field names")
        elif len(set(self.fields)) != len(self.fields):
            problems.append("hardening salt: a field is listed twice in fields")
        if not isinstance(self.with_field, str) or not self.with_field.isidentifier():
            problems.append("hardening salt: with must be the name of a field")
        if self.part not in SALT_PARTS:
            problems.append(f"hardening salt: part must be one of {', '.join(SALT_PARTS)}")
        if not isinstance(self.keyed, bool):
            problems.append("hardening salt: keyed must be true or false")
        if problems:
            raise SchemaError(problems)

    def to_dict(self) -> dict[str, Any]:
        """As the schema's ``[hardening.salt]`` table holds it."""
        return {"fields": list(self.fields), "with": self.with_field, "part": self.part, "keyed": self.keyed}

    @classmethod
    def from_dict(cls, data: Any) -> Salt:
        """From a ``[hardening.salt]`` table, every problem listed at once."""
        if not isinstance(data, Mapping):
            raise SchemaError("hardening salt must be a table [hardening.salt]")
        problems = [f"hardening salt: unknown key {k!r}" for k in sorted(set(data) - set(_SALT_KEYS))]
        problems += [f"hardening salt: {k} is required" for k in ("fields", "with") if k not in data]
        try:
            made = cls(fields=data.get("fields", ("x",)), with_field=data.get("with", "x"),
                       part=data.get("part", "whole"), keyed=data.get("keyed", False))
        except SchemaError as e:
            problems += e.problems
        if problems:
            raise SchemaError(problems)
        return made


@dataclass(frozen=True)
class Hardening:
    """Hardening options of a schema (see the module docstring); the defaults change nothing.

    ``blip`` is the flip probability ``f`` (``0 <= f < 0.5``); ``diffusion`` the number of
    input bits per output bit (0: off, else 2 to 16); ``diffusion_length`` the output bits
    (0: the input length, which the schema fills in).
    """

    field_keys: bool = False
    salt: Salt | None = None
    balance: bool = False
    xor_fold: bool = False
    blip: float = 0.0
    blip_seed: str = ""
    diffusion: int = 0
    diffusion_length: int = 0

    def __post_init__(self) -> None:
        problems = []
        for name in ("field_keys", "balance", "xor_fold"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"hardening {name} must be true or false")
        if isinstance(self.salt, Mapping):
            try:
                object.__setattr__(self, "salt", Salt.from_dict(self.salt))
            except SchemaError as e:
                problems += e.problems
        elif self.salt is not None and not isinstance(self.salt, Salt):
            problems.append("hardening salt must be a table [hardening.salt]")
        f = self.blip
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) or not 0 <= f < 0.5:
            problems.append("hardening blip (the flip probability) must be a number from 0 to below 0.5")
        else:
            object.__setattr__(self, "blip", float(f))
        if not isinstance(self.blip_seed, str) or len(self.blip_seed) > MAX_SEED_CHARS:
            problems.append(f"hardening blip_seed must be a string of at most {MAX_SEED_CHARS} characters")
        elif self.blip_seed and not (isinstance(f, (int, float)) and f > 0):
            problems.append("hardening blip_seed applies only with blip above 0; remove it or set blip")
        t = self.diffusion
        if not _is_int(t) or not (t == 0 or 2 <= t <= MAX_DIFFUSION):
            problems.append(f"hardening diffusion must be 0 (off) or a whole number from 2 to {MAX_DIFFUSION}")
        n = self.diffusion_length
        if not _is_int(n) or n < 0 or n % 8:
            problems.append("hardening diffusion_length must be 0 (the input length) or a multiple of 8")
        elif n and not (_is_int(t) and t):
            problems.append("hardening diffusion_length applies only with diffusion; remove it or set diffusion")
        if problems:
            raise SchemaError(problems)

    @classmethod
    def from_dict(cls, data: Any) -> Hardening:
        """From a schema's ``[hardening]`` table: a ``profile`` (default "default"), then the options given.

        Every problem is listed at once.
        """
        if not isinstance(data, Mapping):
            raise SchemaError("hardening must be a table [hardening]")
        problems = [f"hardening: unknown key {k!r}" for k in sorted(set(data) - {*_KEYS, "profile"})]
        profile = data.get("profile", DEFAULT_PROFILE)
        if profile not in PROFILES:
            problems.append(f"hardening profile must be one of {', '.join(PROFILES)}")
            profile = "none"
        given = {**PROFILES[profile], **{k: v for k, v in data.items() if k in _KEYS}}
        if not given.get("diffusion") and "diffusion_length" not in data:
            given.pop("diffusion_length", None)  # a profile's length goes with its diffusion
        try:
            made = cls(**given)
        except SchemaError as e:
            problems += e.problems
        if problems:
            raise SchemaError(problems)
        return made

    @property
    def is_set(self) -> bool:
        """Whether any option is on (else the encoding is exactly an unhardened one)."""
        return bool(self.field_keys or self.salt or self.balance or self.xor_fold or self.blip or self.diffusion)

    @property
    def blip_epsilon(self) -> float:
        """Differential privacy of BLIP per bit, ``ln((1 - f) / f)``; infinite when off."""
        return math.log((1 - self.blip) / self.blip) if self.blip else math.inf

    def output_length(self, filter_length: int) -> int:
        """Bits per record after hardening a ``filter_length``-bit filter."""
        n = filter_length * 2 if self.balance else filter_length
        n = n // 2 if self.xor_fold else n
        return (self.diffusion_length or n) if self.diffusion else n

    def resolved(self, filter_length: int) -> Hardening:
        """With ``diffusion_length`` filled in, so equal encodings compare equal."""
        if not self.diffusion or self.diffusion_length:
            return self
        n = replace(self, diffusion=0).output_length(filter_length)
        return replace(self, diffusion_length=n)

    def to_dict(self) -> dict[str, Any]:
        """Every option, as a schema file's ``[hardening]`` table holds it (salt only when set).

        It starts from the ``none`` profile, so it reads back the same whatever the default is.
        """
        d: dict[str, Any] = {
            "profile": "none", "field_keys": self.field_keys, "balance": self.balance, "xor_fold": self.xor_fold,
            "blip": self.blip, "blip_seed": self.blip_seed, "diffusion": self.diffusion,
            "diffusion_length": self.diffusion_length,
        }
        return {**d, "salt": self.salt.to_dict()} if self.salt else d

    def encoding_dict(self) -> dict[str, Any]:
        """What changes the filters: the rules' version and each option that is on; empty when none is."""
        d: dict[str, Any] = {}
        if self.field_keys:
            d["field_keys"] = True
        if self.salt:
            d["salt"] = self.salt.to_dict()
        if self.balance:
            d["balance"] = True
        if self.xor_fold:
            d["xor_fold"] = True
        if self.blip:
            d |= {"blip": self.blip, "blip_seed": self.blip_seed}
        if self.diffusion:
            d |= {"diffusion": self.diffusion, "diffusion_length": self.diffusion_length}
        return {"version": HARDENING_VERSION, **d} if d else {}

    def describe(self) -> list[str]:
        """Each option that is on, in words (in the order it is applied)."""
        lines = []
        if self.field_keys:
            lines.append("field keys: each feature hashes with its own key (HKDF from the secret)")
        if self.salt:
            s = self.salt
            how = "a keyed hash of " if s.keyed else ""
            lines.append(f"salt: {', '.join(s.fields)} salted with {how}the {s.part} of {s.with_field}")
        if self.balance:
            lines.append("balance: the filter and its complement, keyed permutation")
        if self.xor_fold:
            lines.append("xor-fold: the two halves XORed")
        if self.diffusion:
            lines.append(f"diffusion: each of {self.diffusion_length} output bits XORs {self.diffusion} input bits "
                         "at keyed positions")
        if self.blip:
            seed = f"seed {self.blip_seed!r}" if self.blip_seed else "the empty seed"
            lines.append(f"BLIP: each bit flipped with probability {self.blip:g} (epsilon {self.blip_epsilon:.2f} "
                         f"per bit); flips seeded by the key, {seed} and the record id")
        return lines


def hardening_problems(h: Hardening, fields: Mapping[str, tuple[str, str]], filter_length: int) -> list[str]:
    """Problems of ``h`` in a schema whose ``fields`` map name to (kind, feature)."""
    problems = []
    s = h.salt
    if s is not None:
        missing = [f for f in s.fields if f not in fields]
        if missing:
            problems.append(f"hardening salt: {', '.join(map(repr, missing))} not a field of this schema")
        if s.with_field not in fields:
            problems.append(f"hardening salt: with {s.with_field!r} is not a field of this schema")
        elif s.with_field in s.fields:
            problems.append("hardening salt: the field in with cannot salt itself")
        elif s.part != "whole" and fields[s.with_field][0] != "date":
            problems.append(f"hardening salt: part {s.part!r} needs a date field in with; use part = \"whole\"")
        salted = {fields[f][1] for f in s.fields if f in fields}
        for feature in sorted(salted):
            left = [n for n, (_, feat) in fields.items() if feat == feature and n not in s.fields]
            if left:
                problems.append(f"hardening salt: fields sharing feature {feature!r} are salted together; "
                                f"add {', '.join(map(repr, left))} to fields")
    n = filter_length * 2 if h.balance else filter_length
    if h.xor_fold and n % 16:
        problems.append("hardening xor_fold needs a filter length that is a multiple of 16 (whole bytes when halved)")
    n = n // 2 if h.xor_fold else n
    if h.diffusion:
        if h.diffusion > n // 4:
            problems.append(f"hardening diffusion must be at most a quarter of its input length ({n // 4})")
        lo, hi = DIFFUSION_LENGTHS
        if h.diffusion_length and not lo <= h.diffusion_length <= hi:
            problems.append(f"hardening diffusion_length must be a multiple of 8 from {lo} to {hi}")
    return problems
