"""A provider's whole job on one extract: read, encode, write the encoded file and the rejects.

The command line's ``encode`` and the demo both call :func:`encode_file`; it returns what it
did, and the caller prints it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..defaults import TEXT_ENCODING
from ..format.encoded import Encoded, manifest_path, write_encoded
from ..format.files import atomic_path, check_outputs
from ..schema import Schema
from .encode import encode_frame
from .extract import default_rejects_path, read_extract, read_opt_out, write_rejects

__all__ = ["EncodeRun", "encode_file"]


@dataclass(frozen=True)
class EncodeRun:
    """What :func:`encode_file` did: the encoding and the files it wrote (and replaced)."""

    encoded: Encoded
    out: Path
    manifest: Path
    rejects: Path
    replaced: tuple[Path, ...]
    opt_out_ids: int | None  # distinct ids in the opt-out list, if one was given


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
    force: bool = False,
    quiet: bool = True,
    protect: Iterable[str | Path | None] = (),
) -> EncodeRun:
    """Encode the extract at ``input_path`` to ``out`` (+ manifest) and write its rejects.

    The rejects file defaults to ``OUT.rejects.csv`` beside ``out`` (``x.enc.parquet`` ->
    ``x.rejects.csv``). ``force`` replaces these three outputs and nothing else; ``protect``
    names other inputs (a key file, a schema file) that must never be written over.
    """
    input_path, out = Path(input_path), Path(out)
    rejects = Path(rejects) if rejects else default_rejects_path(out)
    outputs = (out, manifest_path(out), rejects)
    replaced = check_outputs(outputs, inputs=(input_path, opt_out, *protect), force=force)
    schema = schema or Schema.default()
    ids = read_opt_out(opt_out) if opt_out else None
    raw = read_extract(input_path, encoding=encoding)
    enc = encode_frame(raw, schema, key=key, opt_out=ids, quiet=quiet)
    with atomic_path(rejects) as tmp:
        write_rejects(tmp, raw, enc.rejects)
        write_encoded(enc, out, provider=provider, force=force)
    return EncodeRun(enc, out, outputs[1], rejects, tuple(replaced), None if ids is None else len(set(ids)))
