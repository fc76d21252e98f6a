"""Progress bars (tqdm) on stderr, with counts and rate; silenced by ``quiet``."""

from __future__ import annotations

from tqdm.auto import tqdm

__all__ = ["progress"]


def progress(*, total: int, desc: str, unit: str = "record", quiet: bool = False) -> tqdm:
    """A bar with counts and rate; shows nothing when ``quiet``."""
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=quiet, leave=False, dynamic_ncols=True)
