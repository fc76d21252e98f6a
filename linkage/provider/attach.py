"""At a provider: attach released linkage ids to attributes, with no identifier left in.

The release gives the provider ``record_id, linkage_id`` for its own records only. Attaching
swaps ``record_id`` for ``linkage_id`` in the provider's attribute file (benefit spells,
offences, school absence), so the researchers, who join the providers' files on
``linkage_id``, see no record id. A column that identifies a person is refused: the schema's
linkage fields, columns named like them (names, dates of birth, postcodes, addresses,
national numbers, contact details) and columns whose values look like postcodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from ..errors import InputError
from ..schema import Schema

__all__ = ["IDENTIFIER_NAME", "Attached", "attach"]

IDENTIFIER_NAME = re.compile(  # matched against the name in lower case with underscores (_plain)
    r"(^|_)(first|fore|given|middle|last|sur|family|maiden|full|pref(erred)?)_?names?($|_)|(^|_)names?($|_)|"
    r"(^|_)(dob|date_?(of_)?birth|birth_?(date|day)?)($|_)|(^|_)post_?codes?($|_)|(^|_)zip($|_)|"
    r"(^|_)(address|street|addr|house)|(^|_)(nhs|ni|nino|national_?insurance|upn|uln|passport)(_?(no|number|id))?$|"
    r"(^|_)(phone|mobile|telephone|email|e_?mail)($|_)",
    re.IGNORECASE,
)
_POSTCODE = r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$"


@dataclass(frozen=True)
class Attached:
    """The attributes with ``linkage_id`` in place of ``record_id``, and where every row went."""

    frame: pl.DataFrame
    rows_in: int
    attached: int
    not_released: int  # rows whose record is not in the release (not in the cohort, or left out)

    def line(self) -> str:
        return f"rows in {self.rows_in:,} = attached {self.attached:,} + not in the release {self.not_released:,}"


def _plain(name: str) -> str:
    """A column name in lower case, runs of anything but letters and digits as one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _identifier_columns(attributes: pl.DataFrame, schema: Schema) -> list[str]:
    linked = {_plain(c) for c in schema.input_columns if c not in ("record_id", schema.column("record_id"))}
    out = [c for c in attributes.columns
           if c != "record_id" and (_plain(c) in linked or IDENTIFIER_NAME.search(_plain(c)))]
    for c in attributes.columns:
        if c in out or c == "record_id" or attributes.schema[c] != pl.Utf8:
            continue
        values = attributes[c].drop_nulls().str.strip_chars()
        if len(values) and values.str.contains(_POSTCODE).mean() > 0.5:
            out.append(c)
    return out


def attach(release: pl.DataFrame, attributes: pl.DataFrame, *, schema: Schema | None = None,
           names: tuple[str, str] = ("release", "attributes")) -> Attached:
    """Swap ``record_id`` for the release's ``linkage_id`` in ``attributes``; refuse identifiers.

    ``release`` is the provider's file from `linkage release` (``record_id, linkage_id``).
    Attribute rows whose record is not in the release are left out and counted. ``names``
    label the two inputs in messages, which name columns, never values.
    """
    schema = schema or Schema.default()
    for frame, name, need in ((release, names[0], ("record_id", "linkage_id")), (attributes, names[1], ("record_id",))):
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise InputError(f"{name}: missing column(s) {', '.join(missing)}")
    if set(release.columns) != {"record_id", "linkage_id"}:
        raise InputError(f"{names[0]}: a release file holds record_id and linkage_id only")
    if "linkage_id" in attributes.columns:
        raise InputError(f"{names[1]}: already has a linkage_id column")
    bad = _identifier_columns(attributes, schema)
    if bad:
        raise InputError(f"{names[1]}: column(s) {', '.join(bad)} identify people (names, dates of birth, postcodes, "
                         "addresses or national numbers); drop them before attaching: researchers must not receive "
                         "identifiers")
    if release["record_id"].is_duplicated().any():
        raise InputError(f"{names[0]}: a record id appears twice; use the file `linkage release` wrote")
    # Record ids as encode reads them: text, surrounding spaces left out.
    ids = release.select(pl.col("record_id").cast(pl.Utf8).str.strip_chars(), pl.col("linkage_id").cast(pl.Utf8))
    joined = attributes.with_columns(pl.col("record_id").cast(pl.Utf8).str.strip_chars()).join(
        ids, on="record_id", how="left", maintain_order="left")
    kept = joined.filter(pl.col("linkage_id").is_not_null())
    frame = kept.select("linkage_id", *[c for c in attributes.columns if c != "record_id"])
    return Attached(frame=frame, rows_in=attributes.height, attached=kept.height,
                    not_released=attributes.height - kept.height)
