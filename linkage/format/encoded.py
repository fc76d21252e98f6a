"""The encoded file (``*.enc.parquet``) and its manifest: what a provider sends, what the linkage unit reads.

Columns ``record_id`` (string) and ``clk`` (fixed-size binary, ``output_length / 8`` bytes:
the schema's filter length after its hardening, :attr:`linkage.schema.Schema.output_length`;
bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8``). The Parquet key-value metadata ``linkage``
holds JSON: format version, encoding rules version, the resolved schema (never the key), its
fingerprint, the key check value, counts, field issue counts, provider, tool version and
creation time. The sidecar ``<file>.manifest.json`` holds the file's SHA-256, size and
counts; a reader refuses a file that does not match it.

Format version 2 carries the schema in schema language version 2, or 3 when it is hardened
(a reader that knows no hardening refuses those, naming the schema version); version 1 files
(schema version 1) are still read, and link with version 2 files of the same fingerprint.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from ..errors import InputError, IntegrityError, SchemaError
from ..schema import ENCODING_VERSION, MISSING, WARNINGS, Schema
from .files import atomic_path, file_sha256, refuse_existing

__all__ = [
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "Counts",
    "Encoded",
    "EncodedFile",
    "Part",
    "Rows",
    "manifest_path",
    "open_encoded",
    "part_ranges",
    "popcounts",
    "read_encoded",
    "write_encoded",
]

FORMAT_VERSION = 2  # written here
FORMAT_VERSIONS = (1, 2)  # read here
ROW_GROUP = 1 << 17  # rows per Parquet row group: the unit a reader streams (16 MiB of 1,024-bit filters)
_META_KEY = b"linkage"


@dataclass(frozen=True)
class Counts:
    """Where every input row went; ``rows_in == encoded + rejected + opted_out``."""

    rows_in: int
    encoded: int
    rejected: int
    opted_out: int

    def __post_init__(self) -> None:
        if self.rows_in != self.encoded + self.rejected + self.opted_out:
            raise ValueError("counts do not reconcile")

    def line(self) -> str:
        return (
            f"rows in {self.rows_in:,} = encoded {self.encoded:,} + rejected {self.rejected:,}"
            f" + opted out {self.opted_out:,}"
        )


def popcounts(filters: np.ndarray) -> np.ndarray:
    """Bits set in each packed filter (``(n, nbytes)`` uint8)."""
    return np.bitwise_count(filters).sum(axis=1, dtype=np.int64)


@dataclass(frozen=True)
class Encoded:
    """Encoded records of one provider: pseudonymous ids and packed filters, no identifiers.

    ``clks`` is ``(n, schema.output_length // 8)`` uint8; bit ``i`` of a filter is bit
    ``7 - i % 8`` of byte ``i // 8``. ``rejects`` (row, record_id, reason) stays with the provider and is
    never written to the encoded file.
    """

    record_ids: pl.Series
    clks: np.ndarray
    schema: Schema
    key_check: str
    counts: Counts
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    rejects: pl.DataFrame | None = None
    provider: str | None = None
    created: str | None = None
    kernel: str | None = None
    sha256: str | None = None  # of the file it was read from, verified against its manifest
    block_keys: np.ndarray | None = None  # (n, len(schema.blocking_keys)) uint64 keyed hashes; 0: none

    def __len__(self) -> int:
        return self.clks.shape[0]

    @property
    def frame(self) -> pl.DataFrame:
        """``record_id`` and ``clk`` (binary) as a polars frame."""
        return pl.DataFrame({"record_id": self.record_ids, "clk": pl.from_arrow(clk_array(self.clks)).cast(pl.Binary)})

    def popcounts(self) -> np.ndarray:
        """Bits set per filter."""
        return popcounts(self.clks)

    @property
    def has_block_keys(self) -> bool:
        return self.block_keys is not None

    def read_part(self, start: int, stop: int) -> Part:
        """Rows ``start:stop`` (views, as :meth:`EncodedFile.read_part` reads them from a file)."""
        return Rows(self.clks, self.block_keys).read_part(start, stop)

    def issue_lines(self) -> list[str]:
        """One line per field with problem counts (schema order; missing first, warnings marked)."""
        lines = []
        for name in (f.name for f in self.schema.fields):
            reasons = self.field_issues.get(name, {})
            if not reasons:
                continue
            ordered = sorted(reasons.items(), key=lambda kv: (kv[0] != MISSING, kv[0]))
            parts = [f"{r}{' (kept, warning)' if r in WARNINGS else ''} {n:,}" for r, n in ordered]
            lines.append(f"{name}: " + ", ".join(parts))
        return lines


def manifest_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".manifest.json")


def clk_array(clks: np.ndarray) -> pa.FixedSizeBinaryArray:
    """Packed filters as an Arrow fixed-size binary array (no copy per record)."""
    nbytes = clks.shape[1]
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(nbytes), len(clks), [None, pa.py_buffer(np.ascontiguousarray(clks).tobytes())]
    )


def _key_column(k: int) -> str:
    """Column of blocking key ``k`` (from 0): ``block_key_1``, ``block_key_2``..."""
    return f"block_key_{k + 1}"


def _metadata(enc: Encoded, provider: str | None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "encoding_version": ENCODING_VERSION,
        "tool_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "provider": provider,
        "filter_length": enc.schema.filter_length,
        "output_length": enc.schema.output_length,
        "schema": enc.schema.to_dict(),
        "schema_fingerprint": enc.schema.fingerprint(),
        "key_check": enc.key_check,
        "counts": vars(enc.counts),
        "field_issues": enc.field_issues,
    }


def write_encoded(enc: Encoded, path: str | Path, *, provider: str | None = None, force: bool = False) -> Path:
    """Write the encoded file and its manifest atomically; refuses to overwrite unless ``force``.

    The filters must be the schema's ``output_length`` bits wide (the reader checks it too).
    """
    path = Path(path)
    mpath = manifest_path(path)
    width = enc.clks.shape[1] * 8 if enc.clks.ndim == 2 else None
    if width != enc.schema.output_length:
        raise InputError(f"the filters are {width} bits but the schema's output length is "
                         f"{enc.schema.output_length} bits; encode with the schema the file will carry")
    refuse_existing([path, mpath], force)
    meta = _metadata(enc, provider if provider is not None else enc.provider)
    columns = {"record_id": enc.record_ids.to_arrow().cast(pa.string()), "clk": clk_array(enc.clks)}
    n_keys = len(enc.schema.blocking_keys)
    if n_keys and (enc.block_keys is None or enc.block_keys.shape != (len(enc), n_keys)):
        raise ValueError("block_keys must hold one value per record and blocking key of the schema")
    for k in range(n_keys):
        columns[_key_column(k)] = pa.array(enc.block_keys[:, k], type=pa.uint64())
    table = pa.table(columns)
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})  # fields keep their order
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
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


@dataclass(frozen=True)
class Part:
    """Rows ``start:start + len(clks)`` of an encoded file: filters and blocking keys (None: the file has none)."""

    start: int
    clks: np.ndarray
    block_keys: np.ndarray | None = None

    def __len__(self) -> int:
        return self.clks.shape[0]


@dataclass(frozen=True)
class Rows:
    """Filters (and blocking keys) in memory, read a part at a time as a file is (:meth:`read_part`)."""

    clks: np.ndarray
    block_keys: np.ndarray | None = None

    def __len__(self) -> int:
        return self.clks.shape[0]

    def read_part(self, start: int, stop: int) -> Part:
        """Rows ``start:stop`` (views)."""
        return Part(start, self.clks[start:stop], None if self.block_keys is None else self.block_keys[start:stop])


def part_ranges(n: int, rows: int) -> list[tuple[int, int]]:
    """Rows ``0:n`` in consecutive ranges of ``rows`` (the last may be shorter)."""
    rows = max(int(rows), 1)
    return [(s, min(s + rows, n)) for s in range(0, n, rows)]


@dataclass(frozen=True)
class EncodedFile:
    """An encoded file, checked and opened, whose filters are read a part at a time.

    The metadata is read and checked when opened (:func:`open_encoded`); the filters and
    blocking keys are read by :meth:`read_part` from the Parquet row groups that hold the rows
    asked for, so a national file links in memory that grows with one part, not with the file.
    It holds only the path and the metadata, so it travels cheaply to Dask workers that
    read their parts themselves.
    """

    path: Path
    schema: Schema
    key_check: str
    counts: Counts
    group_rows: tuple[int, ...]
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    provider: str | None = None
    created: str | None = None
    sha256: str | None = None

    def __len__(self) -> int:
        return sum(self.group_rows)

    @property
    def key_columns(self) -> list[str]:
        return [_key_column(k) for k in range(len(self.schema.blocking_keys))]

    @property
    def has_block_keys(self) -> bool:
        return bool(self.schema.blocking_keys)

    @property
    def record_ids(self) -> pl.Series:
        """Every record id, read alone (the filters are not read); read again each time, so the
        opened file stays small enough to send to Dask workers."""
        table = pq.read_table(self.path, columns=["record_id"])
        return pl.from_arrow(table.column("record_id")).cast(pl.Utf8).alias("record_id")

    def read_part(self, start: int, stop: int) -> Part:
        """Rows ``start:stop``, read from the row groups that hold them."""
        ends = np.cumsum(self.group_rows)
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, max(stop - 1, start), side="right"))
        groups = list(range(first, min(last, len(self.group_rows) - 1) + 1))
        offset = int(ends[first - 1]) if first else 0
        try:
            table = pq.ParquetFile(self.path).read_row_groups(groups, columns=["clk", *self.key_columns])
        except (pa.ArrowException, OSError):
            raise IntegrityError(f"{self.path}: could not read rows {start + 1:,} to {stop:,}; the file changed or "
                                 "is damaged since it was opened") from None
        table = table.slice(start - offset, stop - start)
        return Part(start, _clks(table, self.schema.output_length // 8), _keys(table, self.key_columns))

    def load(self) -> Encoded:
        """The whole file in memory."""
        whole = self.read_part(0, len(self))
        return Encoded(record_ids=self.record_ids, clks=whole.clks, block_keys=whole.block_keys, schema=self.schema,
                       key_check=self.key_check, counts=self.counts, field_issues=self.field_issues,
                       provider=self.provider, created=self.created, sha256=self.sha256)


def _clks(table: pa.Table, nbytes: int) -> np.ndarray:
    clk = table.column("clk").combine_chunks()
    data = np.frombuffer(clk.buffers()[1], dtype=np.uint8)
    start = clk.offset * nbytes
    return data[start : start + len(clk) * nbytes].reshape(len(clk), nbytes).copy()


def _keys(table: pa.Table, key_columns: list[str]) -> np.ndarray | None:
    if not key_columns:
        return None
    return np.stack([table.column(c).to_numpy() for c in key_columns], axis=1).astype(np.uint64)


def open_encoded(path: str | Path, *, verify: bool = True) -> EncodedFile:
    """Open an encoded file: check its manifest digest, format version, metadata and columns; read no filter."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    manifest = _verify_manifest(path) if verify else {}
    try:
        pf = pq.ParquetFile(path)
        raw = (pf.schema_arrow.metadata or {}).get(_META_KEY)
        arrow_schema = pf.schema_arrow
        group_rows = tuple(pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups))
    except (pa.ArrowException, OSError):
        raise InputError(f"{path}: not a Parquet file; expected an encoded file from `linkage encode`") from None
    if raw is None:
        raise InputError(f"{path}: no linkage metadata; expected an encoded file from `linkage encode`")
    try:
        meta = json.loads(raw)
        version = meta["format_version"]
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{path}: linkage metadata is unreadable") from None
    if version not in FORMAT_VERSIONS:
        raise IntegrityError(f"{path}: format version {version!r} is not supported (this tool reads "
                             f"versions {', '.join(map(str, FORMAT_VERSIONS))}); upgrade linkage to read it")
    encoding = meta.get("encoding_version", 1)
    if encoding != ENCODING_VERSION:
        raise IntegrityError(f"{path}: encoding rules version {encoding!r} is not supported (this tool reads "
                             f"version {ENCODING_VERSION}); upgrade linkage to read it")
    try:
        schema = Schema.from_dict(meta["schema"], source=f"{path} (schema)")
    except SchemaError as e:
        if any("is not supported" in p for p in e.problems):
            raise IntegrityError(str(e)) from None
        raise IntegrityError(f"{path}: linkage metadata is inconsistent (its schema is invalid)") from None
    except KeyError:
        raise IntegrityError(f"{path}: linkage metadata is inconsistent (it has no schema)") from None
    try:
        counts = Counts(**meta["counts"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"{path}: linkage metadata is inconsistent (its counts)") from None
    nbytes = schema.output_length // 8
    key_columns = [_key_column(k) for k in range(len(schema.blocking_keys))]
    if (arrow_schema.names != ["record_id", "clk", *key_columns] or arrow_schema.field("clk").type != pa.binary(nbytes)
            or any(arrow_schema.field(c).type != pa.uint64() for c in key_columns)):
        raise IntegrityError(f"{path}: columns do not match the encoded file format")
    if schema.fingerprint() != meta.get("schema_fingerprint"):
        raise IntegrityError(f"{path}: schema fingerprint does not match its schema")
    if sum(group_rows) != counts.encoded:
        raise IntegrityError(f"{path}: holds {sum(group_rows)} rows but its metadata says {counts.encoded}")
    # An absolute path: Dask workers, started elsewhere, read the same file.
    return EncodedFile(path=path.resolve(), schema=schema, key_check=meta["key_check"], counts=counts,
                       group_rows=group_rows, field_issues=meta.get("field_issues", {}), provider=meta.get("provider"),
                       created=meta.get("created"), sha256=manifest.get("sha256"))


def read_encoded(path: str | Path, *, verify: bool = True) -> Encoded:
    """Read an encoded file whole, checking its manifest digest, format version and columns."""
    return open_encoded(path, verify=verify).load()
