"""The exchange contract: the encoded file and its manifest, link tables, safe writes.

Both sides import this package: providers write encoded files, the linkage unit reads them
and writes link tables. It holds no identifiers and never the key.
"""

from .encoded import (
    FORMAT_VERSION,
    FORMAT_VERSIONS,
    Counts,
    Encoded,
    EncodedFile,
    manifest_path,
    open_encoded,
    read_encoded,
    write_encoded,
)
from .links import BANDS, BELOW, LINK_COLUMNS, MATCH, POSSIBLE, read_links, read_summary, summary_path, write_links

__all__ = [
    "BANDS",
    "BELOW",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "LINK_COLUMNS",
    "MATCH",
    "POSSIBLE",
    "Counts",
    "Encoded",
    "EncodedFile",
    "manifest_path",
    "open_encoded",
    "read_encoded",
    "read_links",
    "read_summary",
    "summary_path",
    "write_encoded",
    "write_links",
]
