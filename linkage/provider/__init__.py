"""Code that runs at a data provider, with raw identifiers and the shared key.

Read the extract (:mod:`.extract`), standardise it (:mod:`.standardise`), make tokens
(:mod:`.tokens`) and keyed Bloom filters (:mod:`.encode`), with the key from :mod:`.keys`;
:func:`encode_file` does the whole job. Nothing here is imported by :mod:`linkage.linker`,
and nothing here imports it: an import-contract test keeps the two apart.
"""

from .encode import encode_frame, hash_tokens
from .extract import as_text_frame, default_rejects_path, read_extract, read_opt_out, write_rejects
from .keys import generate_key, key_check_value, key_from_env, read_key, write_key
from .pipeline import EncodeRun, encode_file
from .standardise import standardise_frame

__all__ = [
    "EncodeRun", "as_text_frame", "default_rejects_path", "encode_file", "encode_frame", "generate_key",
    "hash_tokens", "key_check_value", "key_from_env", "read_extract", "read_key",
    "read_opt_out", "standardise_frame", "write_key", "write_rejects",
]
