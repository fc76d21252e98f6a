"""Provider-side files: the extract (CSV or Parquet), the opt-out list and the rejects file.

Errors name the file and the line or column, never a value: polars' own parse errors quote
the offending field, so they are replaced here by our own message.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import polars as pl

from .encode import as_text_frame
from .errors import InputError

__all__ = ["read_extract", "read_opt_out", "write_rejects", "spreadsheet_safe"]

_PARQUET = (".parquet", ".pq")


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


def read_extract(path: str | Path, *, encoding: str = "utf-8") -> pl.DataFrame:
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
    text = _decode(path.read_bytes(), path, "utf-8")
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


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(e: pl.Expr) -> pl.Expr:
    """Prefix cells a spreadsheet would run as a formula (=, +, -, @, tab, CR) with a quote."""
    formula = pl.any_horizontal([e.str.starts_with(c) for c in _FORMULA_START])
    return pl.when(formula).then(pl.lit("'") + e).otherwise(e).name.keep()


def write_rejects(path: str | Path, raw: pl.DataFrame, rejects: pl.DataFrame) -> int:
    """Write rejected rows (row number, reason, then their input columns) for the provider."""
    raw = raw.with_row_index("row", offset=1)
    out = rejects.select("row", "reason").join(raw, on="row", how="left").sort("row")
    out = out.with_columns(spreadsheet_safe(pl.col(c)) for c in out.columns if out.schema[c] == pl.Utf8)
    out.write_csv(path)
    return out.height
