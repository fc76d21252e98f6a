"""Release under the separation principle: each provider gets only its own record ids, each mapped
to a linkage id that is fresh and random for this release.

From the clusters (``linkage_id, provider, record_id``), each cluster gets a new random id
(128 bits from the operating system's generator), so two releases of the same clusters share
no id, and no release id says which cluster of the linkage unit it was. Each provider's file
holds only its records: ``record_id, linkage_id``. A provider swaps its record ids for the
linkage ids in its attribute file (:func:`linkage.provider.attach.attach`) and sends that to
the researchers, who join the providers' attributes on ``linkage_id`` and never see a record id.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import InputError
from ..format.files import atomic_path, check_outputs, write_safe_csv
from ..format.links import read_links
from .cluster import SAFE_LABEL

__all__ = ["RELEASE_COLUMNS", "Release", "release", "release_files"]

RELEASE_COLUMNS = ("record_id", "linkage_id")


@dataclass(frozen=True)
class Release:
    """Each provider's ``record_id -> linkage_id`` table, by provider label."""

    tables: dict[str, pl.DataFrame]

    def counts(self) -> dict[str, int]:
        return {p: t.height for p, t in self.tables.items()}


def release(clusters: pl.DataFrame, *, token_bytes: int = 16) -> Release:
    """Fresh random linkage ids for ``clusters``, split by provider (see the module docstring)."""
    missing = [c for c in ("linkage_id", "provider", "record_id") if c not in clusters.columns]
    if missing:
        raise InputError(f"the clusters lack column(s) {', '.join(missing)}; give the clusters.csv of `linkage link`")
    bad = [p for p in clusters["provider"].unique().to_list() if p is None or not SAFE_LABEL.match(p)]
    if bad:
        raise InputError(f"{len(bad)} provider label(s) are not plain names (letters, digits, '_', '.', '-'); "
                         "each names a release file")
    ids = clusters["linkage_id"].unique(maintain_order=True)
    fresh = pl.DataFrame({"linkage_id": ids, "new": [secrets.token_hex(token_bytes) for _ in range(len(ids))]})
    mapped = clusters.select("provider", "record_id", "linkage_id").join(fresh, on="linkage_id")
    tables = {p: mapped.filter(pl.col("provider") == p).select("record_id", pl.col("new").alias("linkage_id"))
              .sample(fraction=1.0, shuffle=True, seed=secrets.randbits(32))  # no order from the clusters
              for p in sorted(clusters["provider"].unique().to_list())}
    return Release(tables)


def release_files(clusters_path: str | Path, out_dir: str | Path, *, force: bool = False) -> tuple[Release, list[Path],
                                                                                                     list[Path]]:
    """Release ``clusters.csv`` into ``out_dir/<provider>.csv``; returns the release, files written, replaced."""
    clusters_path, out_dir = Path(clusters_path), Path(out_dir)
    if clusters_path.is_dir():
        clusters_path = clusters_path / "clusters.csv"
    clusters = read_links(clusters_path)
    rel = release(clusters)
    if not out_dir.parent.is_dir():
        raise InputError(f"{out_dir.parent}: output folder does not exist")
    out_dir.mkdir(exist_ok=True)
    outputs = [out_dir / f"{p}.csv" for p in rel.tables] + [out_dir / "release.json"]
    replaced = check_outputs(outputs, inputs=(clusters_path,), force=force)
    for (_, table), path in zip(rel.tables.items(), outputs):
        with atomic_path(path) as tmp:
            write_safe_csv(table, tmp)
    with atomic_path(outputs[-1]) as tmp:  # counts only: no id
        tmp.write_text(json.dumps({"records": rel.counts(), "linkage_ids": "random, fresh for this release"},
                                  indent=2, sort_keys=True) + "\n")
    return rel, outputs, replaced
