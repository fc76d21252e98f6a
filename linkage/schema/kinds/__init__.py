"""Field kinds, a module each: its standardiser, validation, tokens and defaults.

A new kind is one new module here and one line below.
"""

from __future__ import annotations

from . import date, exact, name, postcode, sex, text
from ._base import MISSING, Kind

__all__ = ["KINDS", "MISSING", "WARNINGS", "Kind", "kind"]

KINDS: dict[str, Kind] = {m.KIND.name: m.KIND for m in (name, date, sex, postcode, text, exact)}

# Reason codes that keep the value (warnings, not failures), over every kind.
WARNINGS: frozenset[str] = frozenset().union(*(k.warnings for k in KINDS.values()))


def kind(name: str) -> Kind:
    """The kind called ``name``."""
    return KINDS[name]
