"""What an attack returns, and how it says it cannot apply."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

__all__ = ["Guess", "NotApplicable"]


class NotApplicable(Exception):
    """An attack cannot run on this encoding or with this knowledge; the message says why."""


@dataclass(frozen=True)
class Guess:
    """An attack's answer for each attacked record (in the order of ``Knowledge.attacked``).

    ``top`` is the register row it ranks first (-1: none), ``unique`` whether that row ranked
    first alone (no tie). ``fields`` holds the feature values it decoded itself (null where it
    decoded none); features it does not decode are read from its top-ranked person.
    ``detail`` is one line on what it found (counts only).
    """

    top: np.ndarray
    unique: np.ndarray
    fields: dict[str, pl.Series] = field(default_factory=dict)
    detail: str = ""
