"""Exceptions raised by linkage.

Every message names what is wrong, where (file, row, field) and what to do, and never
carries a data value, a token or the key: in record linkage an error message that repeats
the bad value leaks an identifier.
"""

from __future__ import annotations

import re

__all__ = ["InputError", "IntegrityError", "KeyFileError", "LinkageError", "SchemaError", "looks_like_secret",
           "redact"]

# What a key written out looks like: 32+ hexadecimal digits, or 40+ base64 characters mixing
# digits, capitals and small letters. Paths and names (which break runs with / - _ .) do not.
_SECRET = re.compile(
    r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])"
    r"|(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]*[0-9])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])"
    r"[A-Za-z0-9+/]{40,}={0,2}"
)


def looks_like_secret(text: object) -> bool:
    """Whether ``text`` holds something shaped like a key written out (long hex or base64)."""
    return bool(_SECRET.search(str(text)))


def redact(text: object) -> str:
    """``text`` with anything shaped like a key replaced, so no message can repeat one."""
    return _SECRET.sub("<redacted: looks like a key>", str(text))


class LinkageError(Exception):
    """Base class for errors a user can fix. The CLI prints the message on one line and exits 1."""


class SchemaError(LinkageError):
    """A schema is invalid. ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[str] | str, *, source: str = "schema") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class InputError(LinkageError):
    """An input file is missing, empty, malformed or lacks a column."""


class KeyFileError(LinkageError):
    """A key is missing, too short or readable by other users."""


class IntegrityError(LinkageError):
    """An encoded file is truncated, altered, or incompatible with another (schema or key)."""
