"""Provider-side files: the extract (CSV or Parquet), the opt-out list and the rejects file.

Errors name the file and the line or column, never a value: polars' own parse errors quote
the offending field, so they are replaced here by our own message.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

import polars as pl

from ..defaults import ENCODED_SUFFIX, REJECTS_SUFFIX, TEXT_ENCODING
from ..errors import InputError
from ..format.files import write_safe_csv

__all__ = ["as_text_frame", "default_rejects_path", "read_extract", "read_opt_out", "write_rejects"]

_PARQUET = (".parquet", ".pq")


def as_text_frame(df: Any) -> pl.DataFrame:
    """A polars frame with every column as text (pandas accepted; integral floats lose '.0')."""
    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df)
        except Exception:
            raise InputError("expected a polars or pandas DataFrame") from None
    casts = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            col = pl.when(col == col.round(0)).then(col.cast(pl.Int64).cast(pl.Utf8)).otherwise(col.cast(pl.Utf8))
        elif dtype != pl.Utf8:
            col = col.cast(pl.Utf8)
        casts.append(col.alias(name))
    return df.select(casts)


def default_rejects_path(out: str | Path) -> Path:
    """The rejects file beside an encoded file: ``x.enc.parquet`` -> ``x.rejects.csv``.

    It sits beside the output, not the input, so one extract can be encoded twice (with
    different keys, to different outputs) without one run replacing the other's rejects.
    """
    out = Path(out)
    name = out.name
    for suffix in (ENCODED_SUFFIX, out.suffix):
        if suffix and name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out.with_name(name + REJECTS_SUFFIX)


def _decode(data: bytes, path: Path, encoding: str) -> str:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown text encoding {encoding!r}; try utf-8, cp1252 or latin-1") from None
    name = "utf-8-sig" if codec.name == "utf-8" else codec.name
    try:
        return data.decode(name)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(
            f"{path}: line {line} is not valid {codec.name} text; pass --encoding (e.g. cp1252) or re-export as UTF-8"
        ) from None


def _first_ragged_line(text: str) -> str:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    for row in reader:
        if row and len(row) != len(header):
            return f"line {reader.line_num} has {len(row)} fields but the header has {len(header)}"
    return "it is not well-formed CSV (check quoting)"


def read_extract(path: str | Path, *, encoding: str = TEXT_ENCODING) -> pl.DataFrame:
    """Read a CSV (UTF-8 with or without BOM, or ``encoding``) or Parquet extract, all as text."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    if path.suffix.lower() in _PARQUET:
        try:
            df = pl.read_parquet(path)
        except Exception:
            raise InputError(f"{path}: not a readable Parquet file") from None
    else:
        text = _decode(path.read_bytes(), path, encoding)
        try:
            df = pl.read_csv(text.encode("utf-8"), infer_schema=False)
        except Exception:
            raise InputError(f"{path}: cannot read as CSV: {_first_ragged_line(text)}") from None
    if df.height == 0:
        raise InputError(f"{path}: has a header but no data rows")
    df = df.rename({c: c.strip() for c in df.columns})
    return as_text_frame(df)


def read_opt_out(path: str | Path) -> list[str]:
    """Record ids of people who opted out: a CSV with a ``record_id`` column, or one id a line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: opt-out file not found")
    text = _decode(path.read_bytes(), path, TEXT_ENCODING)
    lines = [ln.strip() for ln in text.splitlines()]
    if lines and "," in lines[0]:
        header = [h.strip() for h in next(csv.reader([lines[0]]))]
        if "record_id" not in header:
            raise InputError(f"{path}: an opt-out CSV needs a record_id column")
        col = header.index("record_id")
        rows = csv.reader(io.StringIO(text))
        next(rows)
        return [r[col].strip() for r in rows if len(r) > col and r[col].strip()]
    if lines and lines[0] == "record_id":
        lines = lines[1:]
    return [ln for ln in lines if ln]


def write_rejects(path: str | Path, raw: pl.DataFrame, rejects: pl.DataFrame) -> int:
    """Write rejected rows (row number, reason, then their input columns) for the provider.

    Cells are escaped so a spreadsheet never runs one as a formula.
    """
    raw = raw.with_row_index("row", offset=1)
    out = rejects.select("row", "reason").join(raw, on="row", how="left").sort("row")
    write_safe_csv(out, path)
    return out.height
