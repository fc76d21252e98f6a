"""Provider-side files: the extract (CSV or Parquet), the opt-out list and the rejects file.

Rows are counted as a person counts them. A data row is a CSV record after the header; blank
lines (nothing but spaces, tabs and delimiters) are not rows, wherever they are. Row 1 is the
first data row, and every message and the rejects file give the file line beside it:
``row 7 (line 9)``. A row with fewer fields than the header (``short_row``) or more
(``long_row``) is kept in the frame for the rejects file and given that reason; the rest of
the file is still read. Where records start, their file lines and their field counts come
from one vectorised pass over the bytes (numpy), with quoted fields (holding delimiters or
line breaks) taken into account.

Errors name the file and the row, line or column, never a value: polars' own parse errors
quote the offending field, so they are replaced here by our own message.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..defaults import DELIMITER, ENCODED_SUFFIX, REJECTS_SUFFIX, TEXT_ENCODING
from ..errors import InputError
from ..format.files import write_safe_csv

__all__ = [
    "LONG_ROW", "SHORT_ROW", "Extract", "as_text_frame", "check_delimiter", "default_rejects_path", "read_extract",
    "read_extract_rows", "read_opt_out", "write_rejects",
]

SHORT_ROW = "short_row"  # reason code: a row with fewer fields than the header
LONG_ROW = "long_row"  # reason code: a row with more fields than the header

_PARQUET = (".parquet", ".pq")
_WORKBOOKS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # zip (xlsx, ods), OLE (xls)
_DELIMITERS = (",", ";", "\t", "|")  # what a wrong --delimiter is checked against
_BOM = b"\xef\xbb\xbf"
_NL, _CR, _QUOTE = 10, 13, 34
_SHOWN_CHARS = 60  # of a header shown in a message (column names, never values)
_DECODE_CHUNK = 1 << 24


def as_text_frame(df: Any) -> pl.DataFrame:
    """A polars frame with every column as text (pandas accepted; integral floats lose '.0')."""
    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df)
        except Exception:
            raise InputError("expected a polars or pandas DataFrame") from None
    unreadable = [name for name, dtype in df.schema.items() if dtype.is_nested() or dtype == pl.Object]
    if unreadable:
        raise InputError(f"column(s) {', '.join(map(repr, unreadable))} hold lists, structs or objects, "
                         "not text; store them as text")
    casts = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            col = pl.when(col == col.round(0)).then(col.cast(pl.Int64).cast(pl.Utf8)).otherwise(col.cast(pl.Utf8))
        elif dtype != pl.Utf8:
            col = col.cast(pl.Utf8)
        casts.append(col.alias(name))
    try:
        return df.select(casts)
    except Exception:
        raise InputError("some columns cannot be read as text; store every column as text") from None


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


def check_delimiter(delimiter: str) -> str:
    """``delimiter`` if it can separate CSV fields: one ASCII character, not a quote, line break, letter or digit."""
    if (not isinstance(delimiter, str) or len(delimiter) != 1 or not delimiter.isascii() or delimiter in "\"\r\n"
            or delimiter.isalnum()):
        raise InputError("the delimiter must be one character, such as ',' ';' '|' or a tab "
                         "(not a quote, a line break, a letter or a digit)")
    return delimiter


def _may_show(names: list[str], columns: frozenset[str] | None) -> bool:
    """Whether a header's names may be printed: always, unless the expected ``columns`` are known
    and the header holds none of them (then it is likely a first data row, which must not be shown)."""
    return columns is None or any(n.strip() in columns for n in names)


def _delimiter_flag(d: str) -> str:
    return "--delimiter tab" if d == "\t" else f"--delimiter '{d}'"


def _delimiter_name(d: str) -> str:
    return "tabs" if d == "\t" else f"'{d}'"


# --- where the records of a CSV are ---------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Records of a CSV's bytes, the header first, blank lines left out.

    Record ``i`` spans bytes ``[starts[i], ends[i])``; ``ends[i]`` is its line break (or the
    end of the data). ``lines`` is the file line (from 1) where it starts, ``fields`` its
    number of fields. ``unclosed`` is the offset of a quote that is never closed, if any.
    """

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    fields: np.ndarray
    blank_lines: int
    unclosed: int | None


def _scan(buf: np.ndarray, delimiter: int) -> _Layout:
    """Find the records of ``buf`` (uint8) in one vectorised pass.

    A line break or delimiter is inside a quoted field when an odd number of quotes comes
    before it (doubled quotes inside a quoted field count twice, so this holds for any
    well-formed CSV). A record is blank when it holds nothing but spaces, tabs, CRs and
    delimiters; the empty line after a final line break is not a line.
    """
    n = len(buf)
    quotes = np.flatnonzero(buf == _QUOTE)
    breaks = np.flatnonzero(buf == _NL)  # every line break: file lines
    delims = np.flatnonzero(buf == delimiter)
    if len(quotes):
        breaks_out = breaks[(np.searchsorted(quotes, breaks) & 1) == 0]
        delims = delims[(np.searchsorted(quotes, delims) & 1) == 0]
    else:
        breaks_out = breaks
    starts = np.concatenate(([0], breaks_out + 1))
    ends = np.concatenate((breaks_out, [n]))
    lines = np.searchsorted(breaks, starts) + 1 if len(quotes) else np.arange(1, len(starts) + 1)
    fields = np.diff(np.searchsorted(delims, np.concatenate((starts, [n])))) + 1

    # Blank records: most records start with content, so only the others are looked into.
    content = np.ones(256, dtype=bool)
    content[[_NL, _CR, ord(" "), ord("\t"), delimiter]] = False
    empty = ends == starts
    blank = empty.copy()
    nonempty = np.flatnonzero(~empty)
    maybe = nonempty[~content[buf[starts[nonempty]]]]
    if len(maybe):
        has = np.append(content[buf], False)
        bounds = np.column_stack((starts[maybe], ends[maybe])).ravel()
        blank[maybe] = ~np.logical_or.reduceat(has, bounds)[::2]
    blank_lines = int(blank.sum()) - int(empty[-1])  # the empty "line" after a final break is none
    keep = ~blank
    unclosed = int(quotes[-1]) if len(quotes) % 2 else None
    return _Layout(starts[keep], ends[keep], lines[keep], fields[keep], blank_lines, unclosed)


def _select(buf: np.ndarray, lay: _Layout, pick: np.ndarray) -> bytes:
    """The bytes of the picked records, each with its line break (vectorised, no loop per record)."""
    n = len(buf)
    s, e = lay.starts[pick], np.minimum(lay.ends[pick] + 1, n)
    step = np.zeros(n + 1, dtype=np.int8)
    step[s] += 1  # starts are distinct, ends are distinct; an end may equal the next start
    step[e] -= 1
    return buf[np.cumsum(step[:n], dtype=np.int8).astype(bool)].tobytes()


def _where(lay: _Layout, pos: int, line: int) -> str:
    """``row R (line N)``, or ``the header (line N)``, for byte offset ``pos`` on file line ``line``."""
    row = int(np.searchsorted(lay.starts, pos, side="right")) - 1
    if row < 0:
        return f"line {line}"
    return f"the header (line {line})" if row == 0 else f"row {row} (line {line})"


def _quote_problem(buf: np.ndarray, delimiter: int) -> int | None:
    """Offset of the first quote that breaks CSV quoting, if any.

    An opening quote must start a field and a closing one must end it (or be doubled); a
    quote left open at the end is reported where it opens.
    """
    n = len(buf)
    q = np.flatnonzero(buf == _QUOTE)
    if not len(q):
        return None
    opening = np.arange(len(q)) % 2 == 0
    before = np.where(q > 0, buf[np.maximum(q - 1, 0)], _NL)
    after = np.where(q < n - 1, buf[np.minimum(q + 1, n - 1)], _NL)

    def edge(b: np.ndarray) -> np.ndarray:
        return (b == delimiter) | (b == _NL) | (b == _CR) | (b == _QUOTE)

    bad = np.flatnonzero((opening & ~edge(before)) | (~opening & ~edge(after)))
    if len(bad):
        return int(q[bad[0]])
    return int(q[-1]) if len(q) % 2 else None


def _malformed(path: Path, buf: np.ndarray, delimiter: int, lay: _Layout | None) -> InputError:
    pos = _quote_problem(buf, delimiter)
    if pos is None:
        return InputError(f"{path}: cannot read as CSV: it is not well-formed (check the quoting and the delimiter)")
    line = int(np.count_nonzero(buf[:pos] == _NL)) + 1
    where = _where(lay, pos, line) if lay is not None else f"line {line}"
    return InputError(
        f"{path}: cannot read as CSV: {where} has a quote (\") inside a field or a quoted field that is never "
        "closed; quote whole fields only, and double any quote inside them"
    )


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    """An extract as read: every column as text, and where each row came from.

    ``frame`` has one row per data row (blank lines are not rows), in file order; row ``r``
    (from 1) is ``frame[r - 1]``. ``lines`` gives the file line where each row starts and
    ``fields`` how many fields it has (both None for Parquet); ``width`` is the header's
    number of fields, and ``blank_lines`` how many blank lines were left out.
    """

    frame: pl.DataFrame
    lines: np.ndarray | None = None
    fields: np.ndarray | None = None
    width: int = 0
    blank_lines: int = 0

    @property
    def row_problems(self) -> pl.Series | None:
        """``short_row``, ``long_row`` or null for each row; None when every row is well-formed."""
        if self.fields is None or bool((self.fields == self.width).all()):
            return None
        code = np.sign(self.fields - self.width)
        names = pl.Series([SHORT_ROW, None, LONG_ROW], dtype=pl.Utf8)
        return names.gather(code + 1).alias("row_problem")

    def where(self, row: int) -> str:
        """``row R (line N)`` for data row ``row`` (from 1); ``row R`` for Parquet."""
        if self.lines is None:
            return f"row {row}"
        return f"row {row} (line {int(self.lines[row - 1])})"


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or type(e).__name__})") from None


def _refuse_workbook(path: Path, head: bytes = b"") -> None:
    suffix = path.suffix.lower()
    if suffix in _WORKBOOKS or head.startswith(_WORKBOOK_MAGIC):
        kind = f"a spreadsheet workbook ({suffix})" if suffix in _WORKBOOKS else "a spreadsheet workbook, not text"
        raise InputError(f"{path}: is {kind}; open it in the spreadsheet and save it as 'CSV UTF-8' "
                         "(comma delimited), then give that file")


def _undecodable(path: Path, data: bytes, pos: int, codec: str, delimiter: str,
                 columns: frozenset[str] | None) -> InputError:
    """The error for bytes that are not valid text, naming the row, line and column where it can."""
    line = data.count(b"\n", 0, pos)
    where, column = f"line {line + 1}", ""
    try:
        buf = np.frombuffer(data, dtype=np.uint8)
        lay = _scan(buf, ord(delimiter))
        if lay.unclosed is None or lay.unclosed > pos:
            where = _where(lay, pos, line + 1)
            rec = int(np.searchsorted(lay.starts, pos, side="right")) - 1
            if rec >= 0:
                seg = buf[lay.starts[rec]:pos]
                outside = np.cumsum(seg == _QUOTE) % 2 == 0
                col = int(np.count_nonzero((seg == ord(delimiter)) & outside))
                header = data[lay.starts[0]:lay.ends[0]].decode(codec, errors="replace").rstrip("\r")
                names = next(csv.reader([header], delimiter=delimiter), [])
                if rec > 0 and col < len(names) and _may_show(names, columns):
                    column = f", column {names[col].strip()!r}"
    except Exception:  # the location is a courtesy; the error stands without it
        pass
    return InputError(f"{path}: {where}{column} is not valid {codec} text; pass --encoding (e.g. cp1252) "
                      "or re-export as UTF-8")


def _utf8_bytes(data: bytes, path: Path, encoding: str, delimiter: str, columns: frozenset[str] | None) -> bytes:
    """The text of ``data`` as UTF-8 bytes without a BOM; checked without holding it all as a str."""
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown text encoding {encoding!r}; try utf-8, cp1252 or latin-1") from None
    if codec.name == "utf-8":
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for start in range(0, len(data), _DECODE_CHUNK):
                decoder.decode(data[start:start + _DECODE_CHUNK], final=start + _DECODE_CHUNK >= len(data))
        except UnicodeDecodeError:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _undecodable(path, data, e.start, codec.name, delimiter, columns) from None
        return data[len(_BOM):] if data.startswith(_BOM) else data
    try:
        return data.decode(codec.name).encode("utf-8")
    except UnicodeDecodeError as e:
        raise _undecodable(path, data, e.start, codec.name, delimiter, columns) from None
    except Exception:
        raise InputError(f"{path}: cannot be read as {codec.name} text; check --encoding") from None


def _column_names(path: Path, raw: list[str], found: list[str], columns: frozenset[str] | None = None) -> list[str]:
    """Header names without surrounding spaces; a name given twice is refused (blank ones are allowed)."""
    names = [r.strip() or f for r, f in zip(raw, found)] if len(raw) == len(found) else [f.strip() for f in found]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    twice = [name for name, k in seen.items() if k > 1]
    if twice:
        which = f"column(s) {', '.join(map(repr, twice))}" if _may_show(names, columns) else "a column"
        raise InputError(f"{path}: the header names {which} more than once; rename or remove the extra column(s)")
    return names


def _read_csv(data: bytes, delimiter: str, *, ragged: bool) -> pl.DataFrame:
    return pl.read_csv(data, infer_schema=False, separator=delimiter, truncate_ragged_lines=ragged)


def _read_csv_rows(path: Path, data: bytes, delimiter: str, columns: frozenset[str] | None) -> Extract:
    if b"\n" not in data and b"\r" in data:
        data = data.replace(b"\r", b"\n")  # old Mac line breaks
    buf = np.frombuffer(data, dtype=np.uint8)
    d = ord(delimiter)
    lay = _scan(buf, d)
    if not len(lay.starts):
        raise InputError(f"{path}: file is empty (only blank lines)")
    if lay.unclosed is not None:
        raise _malformed(path, buf, d, lay)
    header = bytes(buf[lay.starts[0]:lay.ends[0]]).decode("utf-8", errors="replace").rstrip("\r")
    width = int(lay.fields[0])
    if width == 1:
        found = {c: header.count(c) for c in _DELIMITERS if c != delimiter and c in header}
        if found:
            likely = max(found, key=found.get)
            if _may_show(next(csv.reader([header], delimiter=likely), []), columns):
                shown = header if len(header) <= _SHOWN_CHARS else header[:_SHOWN_CHARS] + "..."
                what = f"the header has one column, {shown!r}"
            else:
                what = "the first line has one column and none of the expected column names (check it is a header)"
            raise InputError(
                f"{path}: {what}; its fields seem to be separated by {_delimiter_name(likely)}, "
                f"not {_delimiter_name(delimiter)}: pass {_delimiter_flag(likely)}"
            )
    fields = lay.fields[1:]
    long_rows = np.flatnonzero(fields > width)
    # Rows that fit the header are read strictly, so polars can never cut a row short unseen;
    # long rows are read apart, cut to the header's width, only for the rejects file.
    pick = np.ones(len(lay.starts), dtype=bool)
    pick[long_rows + 1] = False
    whole = lay.blank_lines == 0 and not len(long_rows)
    try:
        frame = _read_csv(data if whole else _select(buf, lay, pick), delimiter, ragged=False)
        if len(long_rows):
            pick_long = ~pick
            pick_long[0] = True
            extra = _read_csv(_select(buf, lay, pick_long), delimiter, ragged=True)
    except Exception:
        raise _malformed(path, buf, d, lay) from None
    if frame.width != width or frame.height != len(fields) - len(long_rows) or (
            len(long_rows) and (extra.width != width or extra.height != len(long_rows))):
        raise _malformed(path, buf, d, lay)
    raw_names = next(csv.reader([header], delimiter=delimiter), [])
    names = _column_names(path, raw_names, frame.columns, columns)
    if len(long_rows):
        order = np.argsort(np.concatenate((np.flatnonzero(pick[1:]), long_rows)), kind="stable")
        frame = pl.concat([frame, extra])[order]
    frame.columns = names
    return Extract(frame, lines=lay.lines[1:].astype(np.int64), fields=fields.astype(np.int64), width=width,
                   blank_lines=lay.blank_lines)


def read_extract_rows(path: str | Path, *, encoding: str = TEXT_ENCODING, delimiter: str = DELIMITER,
                      columns: Iterable[str] | None = None) -> Extract:
    """Read a CSV (UTF-8 with or without BOM, or ``encoding``) or Parquet extract, all as text.

    Blank lines are left out; rows with fewer or more fields than the header are kept (a long
    row cut to the header's width) and named by :attr:`Extract.row_problems`, so that the
    caller can reject them with a reason. ``delimiter`` separates the fields of a CSV (one
    character). Spreadsheet workbooks are refused with a message saying how to save them.
    Messages may name the header's columns; given the expected ``columns``, they do so only
    when the header holds one of them, so a file without a header never has its first row
    printed.
    """
    path = Path(path)
    check_delimiter(delimiter)
    expected = None if columns is None else frozenset(columns)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    _refuse_workbook(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or type(e).__name__})") from None
    if size == 0:
        raise InputError(f"{path}: file is empty")
    if path.suffix.lower() in _PARQUET:
        try:
            df = pl.read_parquet(path)
        except Exception:
            raise InputError(f"{path}: not a readable Parquet file") from None
        df.columns = _column_names(path, df.columns, df.columns, expected)
        ext = Extract(as_text_frame(df), width=df.width)
    else:
        data = _read_bytes(path)
        _refuse_workbook(path, data[:8])
        data = _utf8_bytes(data, path, encoding, delimiter, expected)
        if not data:
            raise InputError(f"{path}: file is empty")
        ext = _read_csv_rows(path, data, delimiter, expected)
    if ext.frame.height == 0:
        raise InputError(f"{path}: has a header but no data rows")
    return ext


def read_extract(path: str | Path, *, encoding: str = TEXT_ENCODING, delimiter: str = DELIMITER) -> pl.DataFrame:
    """Read a CSV (UTF-8 with or without BOM, or ``encoding``) or Parquet extract, all as text.

    Blank lines are not rows. A row with fewer or more fields than the header is an error
    naming it (``row R (line N)``); :func:`read_extract_rows` keeps such rows instead.
    """
    ext = read_extract_rows(path, encoding=encoding, delimiter=delimiter)
    if ext.row_problems is not None:
        row = int(np.flatnonzero(ext.fields != ext.width)[0]) + 1
        raise InputError(f"{Path(path)}: {ext.where(row)} has {int(ext.fields[row - 1])} fields but the header has "
                         f"{ext.width}")
    return ext.frame


def read_opt_out(path: str | Path) -> list[str]:
    """Record ids of people who opted out: a CSV with a ``record_id`` column, or one id a line.

    Blank lines are ignored. The CSV may be separated by ``,`` ``;`` tabs or ``|`` (the
    header says which); a first line holding one of these without a ``record_id`` column is
    refused rather than read as ids, so opt-outs are never silently missed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: opt-out file not found")
    _refuse_workbook(path)
    data = _read_bytes(path)
    _refuse_workbook(path, data[:8])
    text = _utf8_bytes(data, path, TEXT_ENCODING, ",", frozenset({"record_id"})).decode("utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
    first = next((i for i, ln in enumerate(lines) if ln), None)
    if first is None:
        return []
    head = lines[first]
    seps = [c for c in _DELIMITERS if c in head]
    if seps:
        for sep in seps:
            header = [h.strip() for h in next(csv.reader([head], delimiter=sep))]
            if "record_id" in header:
                break
        else:
            raise InputError(f"{path}: an opt-out CSV needs a record_id column")
        col = header.index("record_id")
        rows = csv.reader(io.StringIO(text), delimiter=sep)
        try:
            next(r for r in rows if any(x.strip() for x in r))  # the header
            return [r[col].strip() for r in rows if len(r) > col and r[col].strip()]
        except csv.Error:
            raise InputError(f"{path}: line {rows.line_num} of the opt-out list is not well-formed CSV") from None
    if head == "record_id":
        lines = lines[first + 1:]
    return [ln for ln in lines if ln]


def write_rejects(path: str | Path, raw: pl.DataFrame, rejects: pl.DataFrame, *,
                  lines: np.ndarray | None = None) -> int:
    """Write rejected rows for the provider: ``row``, ``line``, ``reason``, then their input columns.

    ``row`` counts data rows from 1 (blank lines are not rows) and ``line`` is the file line
    where the row starts (empty for Parquet). An input column named like one of these three
    is written as ``<name>_input``. Cells are escaped so a spreadsheet never runs one as a
    formula.
    """
    rejects = rejects.select("row", "reason").sort("row")
    index = rejects["row"].to_numpy().astype(np.int64) - 1
    line = (pl.Series("line", lines[index], dtype=pl.Int64) if lines is not None
            else pl.repeat(None, len(index), dtype=pl.Int64, eager=True).alias("line"))
    meta = pl.DataFrame([rejects["row"].cast(pl.Int64), line, rejects["reason"]])
    taken = set(meta.columns)
    names = []
    for c in raw.columns:
        name = c
        while name in taken:
            name += "_input"
        taken.add(name)
        names.append(name)
    body = raw[index]
    body.columns = names
    out = pl.concat([meta, body], how="horizontal")
    write_safe_csv(out, path)
    return out.height
