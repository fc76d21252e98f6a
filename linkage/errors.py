"""Exceptions raised by linkage.

Every message names what is wrong, where (file, row, field) and what to do, and never
carries a data value, a token or the key: in record linkage an error message that repeats
the bad value leaks an identifier.
"""

from __future__ import annotations

__all__ = ["InputError", "IntegrityError", "KeyFileError", "LinkageError", "SchemaError"]


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
