"""The encoded file (``*.enc.parquet``) and its manifest: atomic write, read, verify.

Columns ``record_id`` (string) and ``clk`` (fixed-size binary, ``filter_length / 8`` bytes).
The Parquet key-value metadata ``linkage`` holds JSON: format version, the schema (never the
key), its fingerprint, the key check value, counts, field issue counts, provider, tool
version and creation time. The sidecar ``<file>.manifest.json`` holds the file's SHA-256,
size and counts; a reader refuses a file that does not match it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .encode import Counts, Encoded
from .errors import IntegrityError, InputError, SchemaError
from .schema import Schema

__all__ = [
    "write_encoded", "read_encoded", "manifest_path", "FORMAT_VERSION", "atomic_path", "file_sha256",
    "write_links", "read_links", "read_summary", "summary_path", "refuse_existing", "check_link_table_path",
]

FORMAT_VERSION = 1
_META_KEY = b"linkage"


def manifest_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".manifest.json")


def file_sha256(path: str | Path) -> str:
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


def clk_array(clks: np.ndarray) -> pa.FixedSizeBinaryArray:
    """Packed filters as an Arrow fixed-size binary array (no copy per record)."""
    nbytes = clks.shape[1]
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(nbytes), len(clks), [None, pa.py_buffer(np.ascontiguousarray(clks).tobytes())]
    )


def _metadata(enc: Encoded, provider: str | None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "provider": provider,
        "filter_length": enc.schema.filter_length,
        "schema": enc.schema.to_dict(),
        "schema_fingerprint": enc.schema.fingerprint(),
        "key_check": enc.key_check,
        "counts": vars(enc.counts),
        "field_issues": enc.field_issues,
    }


def refuse_existing(paths: list[Path], force: bool) -> None:
    """Refuse outputs that exist (unless ``force``) or whose folder does not exist."""
    for p in map(Path, paths):
        if p.exists() and not force:
            raise InputError(f"{p}: already exists; use --force to replace it")
        if not p.parent.is_dir():
            raise InputError(f"{p.parent}: output folder does not exist")


def check_link_table_path(path: str | Path) -> None:
    """A link table is written as ``.csv`` or ``.parquet``."""
    if Path(path).suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"{path}: the link table must end in .csv or .parquet")


def write_encoded(enc: Encoded, path: str | Path, *, provider: str | None = None, force: bool = False) -> Path:
    """Write the encoded file and its manifest atomically; refuses to overwrite unless ``force``."""
    path = Path(path)
    mpath = manifest_path(path)
    refuse_existing([path, mpath], force)
    meta = _metadata(enc, provider if provider is not None else enc.provider)
    table = pa.table({"record_id": enc.record_ids.to_arrow().cast(pa.string()), "clk": clk_array(enc.clks)})
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
        manifest = {
            "file": path.name,
            "format_version": FORMAT_VERSION,
            "sha256": file_sha256(tmp),
            "bytes": tmp.stat().st_size,
            "counts": meta["counts"],
            "schema_fingerprint": meta["schema_fingerprint"],
            "key_check": meta["key_check"],
        }
        with atomic_path(mpath) as mtmp:
            mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def _verify_manifest(path: Path) -> dict[str, Any]:
    mpath = manifest_path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not mpath.exists():
        raise IntegrityError(f"{path}: its manifest {mpath.name} is missing; ask the provider to send both files")
    try:
        manifest = json.loads(mpath.read_text())
        expected, size = manifest["sha256"], manifest["bytes"]
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{mpath}: not a valid manifest; ask the provider to send it again") from None
    if path.stat().st_size != size:
        raise IntegrityError(f"{path}: size differs from its manifest (truncated or altered); ask for it again")
    if file_sha256(path) != expected:
        raise IntegrityError(f"{path}: SHA-256 differs from its manifest (altered or corrupted); ask for it again")
    return manifest


def read_encoded(path: str | Path, *, verify: bool = True) -> Encoded:
    """Read an encoded file, checking its manifest digest, format version and columns."""
    path = Path(path)
    if verify:
        _verify_manifest(path)
    elif not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        pf = pq.ParquetFile(path)
        raw = (pf.schema_arrow.metadata or {}).get(_META_KEY)
        table = pf.read() if raw is not None else None
    except (pa.ArrowException, OSError):
        raise InputError(f"{path}: not a Parquet file; expected an encoded file from `linkage encode`") from None
    if raw is None:
        raise InputError(f"{path}: no linkage metadata; expected an encoded file from `linkage encode`")
    try:
        meta = json.loads(raw)
        version = meta["format_version"]
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{path}: linkage metadata is unreadable") from None
    if version != FORMAT_VERSION:
        raise IntegrityError(f"{path}: format version {version} is not supported (this tool reads {FORMAT_VERSION})")
    try:
        schema = Schema.from_dict(meta["schema"], source=f"{path} (schema)")
        counts = Counts(**meta["counts"])
    except (SchemaError, KeyError, TypeError, ValueError):
        raise IntegrityError(f"{path}: linkage metadata is inconsistent") from None
    nbytes = schema.filter_length // 8
    if table.column_names[:2] != ["record_id", "clk"] or table.schema.field("clk").type != pa.binary(nbytes):
        raise IntegrityError(f"{path}: columns do not match the encoded file format")
    if schema.fingerprint() != meta.get("schema_fingerprint"):
        raise IntegrityError(f"{path}: schema fingerprint does not match its schema")
    if table.num_rows != counts.encoded:
        raise IntegrityError(f"{path}: holds {table.num_rows} rows but its metadata says {counts.encoded}")
    clk = table.column("clk").combine_chunks()
    data = np.frombuffer(clk.buffers()[1], dtype=np.uint8)
    start = clk.offset * nbytes
    clks = data[start : start + len(clk) * nbytes].reshape(len(clk), nbytes).copy()
    record_ids = pl.from_arrow(table.column("record_id")).cast(pl.Utf8).alias("record_id")
    return Encoded(
        record_ids=record_ids,
        clks=clks,
        schema=schema,
        key_check=meta["key_check"],
        counts=counts,
        field_issues=meta.get("field_issues", {}),
        provider=meta.get("provider"),
        created=meta.get("created"),
    )


def summary_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".summary.json")


def write_links(links: pl.DataFrame, path: str | Path, *, summary: dict[str, Any] | None = None,
                force: bool = False) -> Path:
    """Write a link table (``.csv`` or ``.parquet``) and its summary JSON beside it, atomically."""
    path = Path(path)
    spath = summary_path(path)
    check_link_table_path(path)
    refuse_existing([path, spath], force)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            links.write_csv(tmp, float_precision=6)
        else:
            links.write_parquet(tmp)
        with atomic_path(spath) as stmp:
            stmp.write_text(json.dumps(summary or {}, indent=2, sort_keys=True) + "\n")
    return path


def read_links(path: str | Path) -> pl.DataFrame:
    """Read a link table written by `linkage link` (CSV or Parquet)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, schema_overrides={"id_a": pl.Utf8, "id_b": pl.Utf8})
    except Exception:
        raise InputError(f"{path}: not a readable link table (CSV or Parquet)") from None


def read_summary(path: str | Path) -> dict[str, Any] | None:
    """The summary stored beside a link table, if there is one."""
    spath = summary_path(path)
    try:
        return json.loads(spath.read_text())
    except (OSError, ValueError):
        return None
