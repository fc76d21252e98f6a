"""A provider's whole job on one extract: read, encode, write the encoded file and the rejects.

The command line's ``encode`` and the demo both call :func:`encode_file`; it returns what it
did, and the caller prints it. An extract with nothing to encode (every row rejected or opted
out) is an error: no encoded file is written, only the rejects, so the provider can see why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..defaults import DELIMITER, TEXT_ENCODING
from ..errors import InputError
from ..format.encoded import Encoded, manifest_path, write_encoded
from ..format.files import atomic_path, check_outputs
from ..schema import Schema
from .encode import encode_frame
from .extract import check_delimiter, default_rejects_path, read_extract_rows, read_opt_out, write_rejects

__all__ = ["EncodeRun", "encode_file", "reason_counts"]


@dataclass(frozen=True)
class EncodeRun:
    """What :func:`encode_file` did: the encoding and the files it wrote (and replaced)."""

    encoded: Encoded
    out: Path
    manifest: Path
    rejects: Path
    replaced: tuple[Path, ...]
    opt_out_ids: int | None  # distinct ids in the opt-out list, if one was given
    blank_lines: int = 0  # blank lines of the extract, not counted as rows

    @property
    def reject_reasons(self) -> dict[str, int]:
        """Rejected rows per reason code, most frequent first."""
        return reason_counts(self.encoded.rejects)


def reason_counts(rejects: pl.DataFrame | None) -> dict[str, int]:
    """Rows per reason code of a rejects frame, most frequent first (ties by name)."""
    if rejects is None or rejects.height == 0:
        return {}
    counts = rejects.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list()))


def _nothing_to_encode(input_path: Path, enc: Encoded, rejects: Path | None) -> InputError:
    c = enc.counts
    parts = []
    if c.rejected:
        reasons = ", ".join(f"{r} {n:,}" for r, n in reason_counts(enc.rejects).items())
        parts.append(f"{c.rejected:,} rejected ({reasons})")
    if c.opted_out:
        parts.append(f"{c.opted_out:,} opted out")
    where = f"; the rejected rows are listed in {rejects} (keep it with the provider)" if rejects else ""
    return InputError(f"{input_path}: nothing to encode: {c.rows_in:,} rows = {' + '.join(parts)}{where}")


def encode_file(
    input_path: str | Path,
    out: str | Path,
    *,
    key: bytes,
    schema: Schema | None = None,
    rejects: str | Path | None = None,
    opt_out: str | Path | None = None,
    provider: str | None = None,
    encoding: str = TEXT_ENCODING,
    delimiter: str = DELIMITER,
    force: bool = False,
    quiet: bool = True,
    protect: Iterable[str | Path | None] = (),
) -> EncodeRun:
    """Encode the extract at ``input_path`` to ``out`` (+ manifest) and write its rejects.

    The rejects file defaults to ``OUT.rejects.csv`` beside ``out`` (``x.enc.parquet`` ->
    ``x.rejects.csv``). ``force`` replaces these three outputs and nothing else; ``protect``
    names other inputs (a key file, a schema file) that must never be written over.
    ``delimiter`` separates the fields of a CSV extract. Blank lines are not rows; rows with
    fewer or more fields than the header are rejected (``short_row``, ``long_row``). When no
    row is left to encode, only the rejects are written and :class:`InputError` says why.
    """
    check_delimiter(delimiter)
    input_path, out = Path(input_path), Path(out)
    rejects = Path(rejects) if rejects else default_rejects_path(out)
    outputs = (out, manifest_path(out), rejects)
    replaced = check_outputs(outputs, inputs=(input_path, opt_out, *protect), force=force)
    schema = schema or Schema.default()
    ids = read_opt_out(opt_out) if opt_out else None
    ext = read_extract_rows(input_path, encoding=encoding, delimiter=delimiter, columns=schema.input_columns)
    try:
        enc = encode_frame(ext.frame, schema, key=key, opt_out=ids, row_problems=ext.row_problems, quiet=quiet)
    except InputError as e:
        raise InputError(f"{input_path}: {e}") from None
    try:
        if enc.counts.encoded == 0:
            if enc.counts.rejected:
                with atomic_path(rejects) as tmp:
                    write_rejects(tmp, ext.frame, enc.rejects, lines=ext.lines)
            raise _nothing_to_encode(input_path, enc, rejects if enc.counts.rejected else None)
        with atomic_path(rejects) as tmp:
            write_rejects(tmp, ext.frame, enc.rejects, lines=ext.lines)
            write_encoded(enc, out, provider=provider, force=force)
    except OSError as e:  # a folder that cannot be written to, a full disk
        folder = Path(e.filename).parent if e.filename else rejects.parent
        raise InputError(f"{folder}: cannot write the outputs there ({e.strerror or type(e).__name__})") from None
    return EncodeRun(enc, out, outputs[1], rejects, tuple(replaced), None if ids is None else len(set(ids)),
                     blank_lines=ext.blank_lines)
