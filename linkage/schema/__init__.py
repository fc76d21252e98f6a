"""The schema: the contract between providers and the linkage unit on what is encoded and how.

:class:`Schema` and :class:`Field` (with TOML loading, versions and the fingerprint) live in
:mod:`.model`; each field kind's standardiser, validation, tokens and defaults in
:mod:`.kinds`, a module per kind; the hardening options (:class:`Hardening`, :class:`Salt`)
in :mod:`.hardening`.
"""

from .hardening import DEFAULT_HARDENING, PROFILES, Hardening, Salt
from .kinds import KINDS, MISSING, WARNINGS, Kind
from .model import DEFAULT_FIELDS, ENCODING_VERSION, RECORD_ID, SCHEMA_VERSION, SCHEMA_VERSIONS, Field, Schema

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_HARDENING",
    "ENCODING_VERSION",
    "KINDS",
    "MISSING",
    "PROFILES",
    "RECORD_ID",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "WARNINGS",
    "Field",
    "Hardening",
    "Kind",
    "Salt",
    "Schema",
]
