"""Blocking keys a provider may add to its encoded file: which parts of which fields, validated.

A blocking key is a list of parts; each part is a field's standardised value (``"postcode"``)
or a transform of it (``"soundex(last_name)"``). Providers compute every key the same way,
hash it with a key derived from the shared secret, and add the hashes to the encoded file; the
linkage unit then compares only records that share a key. Keys are optional and leak: the
linkage unit sees which records share, say, a date of birth (README: security model).

They do not change the filters, so they are not part of the fingerprint; two files are
blocked on keys only if they carry the same ones.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["TRANSFORMS", "blocking_key_problems", "key_name", "parse_part"]

# transform -> the field kinds it applies to
TRANSFORMS: dict[str, tuple[str, ...]] = {
    "soundex": ("name", "text"),
    "metaphone": ("name", "text"),
    "nysiis": ("name", "text"),
    "initial": ("name", "text"),
    "year": ("date",),
    "month_day": ("date",),
    "district": ("postcode",),  # the outward code: "SW1A" of "SW1A 1AA"
}
_PART = re.compile(r"^\s*(?:([a-z_]+)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)|([A-Za-z_][A-Za-z0-9_]*))\s*$")
MAX_KEYS = 16


def parse_part(part: str) -> tuple[str | None, str]:
    """``(transform or None, field)`` of a part such as ``"soundex(last_name)"`` or ``"postcode"``."""
    m = _PART.match(part) if isinstance(part, str) else None
    if not m:
        raise ValueError(f"{part!r} is not a field name or transform(field)")
    return (m.group(1), m.group(2)) if m.group(2) else (None, m.group(3))


def key_name(parts: tuple[str, ...]) -> str:
    """A key's canonical name: its parts, normalised, joined with ``+``."""
    out = []
    for p in parts:
        t, f = parse_part(p)
        out.append(f"{t}({f})" if t else f)
    return "+".join(out)


def blocking_key_problems(keys: Any, kinds: dict[str, str]) -> list[str]:
    """Every problem with ``keys`` (a list of lists of parts) for fields of these ``kinds``."""
    if not isinstance(keys, (list, tuple)):
        return ["blocking keys must be a list of keys, each a list of parts"]
    problems = []
    if len(keys) > MAX_KEYS:
        problems.append(f"at most {MAX_KEYS} blocking keys")
    seen = set()
    for n, key in enumerate(keys, 1):
        where = f"blocking key {n}"
        if not isinstance(key, (list, tuple)) or not key:
            problems.append(f"{where} must be a non-empty list of parts such as \"soundex(last_name)\"")
            continue
        for part in key:
            try:
                t, f = parse_part(part)
            except ValueError as e:
                problems.append(f"{where}: {e}")
                continue
            if f not in kinds:
                problems.append(f"{where}: {f!r} is not a field of this schema")
            elif t is not None and t not in TRANSFORMS:
                problems.append(f"{where}: unknown transform {t!r} (known: {', '.join(TRANSFORMS)})")
            elif t is not None and kinds[f] not in TRANSFORMS[t]:
                problems.append(f"{where}: {t} applies to fields of kind {' or '.join(TRANSFORMS[t])}, "
                                f"not {kinds[f]} ({f!r})")
        if not problems:
            name = key_name(tuple(key))
            if name in seen:
                problems.append(f"{where} repeats an earlier key ({name})")
            seen.add(name)
    return problems
