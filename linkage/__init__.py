"""linkage: privacy-preserving record linkage with keyed Bloom filters.

Providers standardise and encode identifiers with a shared secret (:func:`encode_frame`,
:func:`write_encoded`); the linkage unit reads encodings (:func:`read_encoded`; or
:func:`linkage.format.open_encoded`, to read a large file a part at a time) and links them
(:func:`link`, on Dask with a :class:`linkage.linker.Cluster`); researchers join the
providers' attributes on released linkage ids (:func:`assemble`) and hide small cells
(:func:`suppress`); researchers evaluate links against ground truth (:func:`evaluate`).

The rest lives in the subpackages, by who runs the code: :mod:`linkage.provider` (raw
identifiers and the key), :mod:`linkage.linker` (encodings only), :mod:`linkage.format` and
:mod:`linkage.schema` (the contract between them), :mod:`linkage.research`.

Names are imported on first use, so ``import linkage`` (and ``linkage --help``) loads nothing
heavy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

_API = {
    "Schema": "linkage.schema",
    "Field": "linkage.schema",
    "generate_key": "linkage.provider.keys",
    "read_key": "linkage.provider.keys",
    "encode_frame": "linkage.provider.encode",
    "write_encoded": "linkage.format.encoded",
    "read_encoded": "linkage.format.encoded",
    "link": "linkage.linker.link",
    "evaluate": "linkage.research.evaluate",
    "plot_evaluation": "linkage.research.plots",
    "synth_families": "linkage.research.synth",
    "assemble": "linkage.research.assemble",
    "suppress": "linkage.research.assemble",
    "LinkageError": "linkage.errors",
}

__all__ = [
    "Field",
    "LinkageError",
    "Schema",
    "__version__",
    "assemble",
    "encode_frame",
    "evaluate",
    "generate_key",
    "link",
    "plot_evaluation",
    "read_encoded",
    "read_key",
    "suppress",
    "synth_families",
    "write_encoded",
]

if TYPE_CHECKING:  # pragma: no cover
    from .errors import LinkageError
    from .format.encoded import read_encoded, write_encoded
    from .linker.link import link
    from .provider.encode import encode_frame
    from .provider.keys import generate_key, read_key
    from .research.assemble import assemble, suppress
    from .research.evaluate import evaluate
    from .research.plots import plot_evaluation
    from .research.synth import synth_families
    from .schema import Field, Schema


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'linkage' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
