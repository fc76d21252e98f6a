"""linkage: privacy-preserving record linkage with keyed Bloom filters.

Providers standardise and encode identifiers with a shared secret (:func:`encode_frame`,
:func:`write_encoded`); the linkage unit reads encodings (:func:`read_encoded`) and links
them; researchers evaluate links against ground truth.
"""

__version__ = "0.1.0"

from .encode import Counts, Encoded, encode_frame
from .errors import InputError, IntegrityError, KeyFileError, LinkageError, SchemaError
from .keys import generate_key, key_check_value, read_key, write_key
from .schema import Field, Schema
from .standardise import standardise_frame
from .store import read_encoded, write_encoded

__all__ = [
    "Counts",
    "Encoded",
    "Field",
    "InputError",
    "IntegrityError",
    "KeyFileError",
    "LinkageError",
    "Schema",
    "SchemaError",
    "encode_frame",
    "generate_key",
    "key_check_value",
    "read_encoded",
    "read_key",
    "standardise_frame",
    "write_encoded",
    "write_key",
]
