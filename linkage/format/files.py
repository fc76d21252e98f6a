"""Writing files safely: atomic replacement, digests, refusing to overwrite, spreadsheet-safe CSV."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from ..errors import InputError

__all__ = ["atomic_path", "check_outputs", "file_sha256", "refuse_existing", "spreadsheet_safe", "write_safe_csv"]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def refuse_existing(paths: Iterable[str | Path], force: bool) -> list[Path]:
    """Refuse outputs that exist (unless ``force``) or whose folder does not exist.

    Returns the outputs that exist and will be replaced, so the caller can name them.
    """
    replaced = []
    for p in map(Path, paths):
        if p.is_dir():
            raise InputError(f"{p}: is a folder; give a file name")
        if p.exists():
            if not force:
                raise InputError(f"{p}: already exists; use --force to replace it")
            replaced.append(p)
        if not p.parent.is_dir():
            raise InputError(f"{p.parent}: output folder does not exist")
    return replaced


def check_outputs(outputs: Iterable[str | Path], *, inputs: Iterable[str | Path | None] = (),
                  force: bool = False) -> list[Path]:
    """Refuse outputs that are one of the command's inputs, or each other, or exist (unless ``force``).

    ``--force`` replaces only these outputs, never an input (an extract, a key file, a
    schema). Returns the outputs that exist and will be replaced, so the caller names them.
    """
    outputs = [Path(p) for p in outputs]
    protected = {Path(p).resolve(): Path(p) for p in inputs if p is not None}
    seen: dict[Path, Path] = {}
    for p in outputs:
        r = p.resolve()
        if r in protected:
            raise InputError(f"{p}: is an input of this command; choose another output path")
        if r in seen:
            raise InputError(f"{p}: is given for two outputs; choose different paths")
        seen[r] = p
    return refuse_existing(outputs, force)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def spreadsheet_safe(e: pl.Expr, *, keep_numbers: bool = False) -> pl.Expr:
    """Prefix cells a spreadsheet would run as a formula (=, +, -, @, tab, CR) with a quote.

    Ids are quoted even when they look like numbers (``-2`` stays the text it is); with
    ``keep_numbers``, a plain number (``-5.0``, an attribute's value) is left as it is.
    """
    formula = pl.any_horizontal([e.str.starts_with(c) for c in _FORMULA_START])
    if keep_numbers:
        formula = formula & ~e.str.contains(_NUMBER)
    return pl.when(formula).then(pl.lit("'") + e).otherwise(e).name.keep()


def write_safe_csv(df: pl.DataFrame, path: str | Path, *, keep_numbers: bool = False, **kwargs) -> None:
    """Write CSV with every text cell made spreadsheet-safe (see :func:`spreadsheet_safe`)."""
    df.with_columns(spreadsheet_safe(pl.col(c), keep_numbers=keep_numbers) for c, t in df.schema.items()
                    if t == pl.Utf8).write_csv(path, **kwargs)
