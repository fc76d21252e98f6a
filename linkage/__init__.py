"""linkage: privacy-preserving record linkage with keyed Bloom filters.

Providers standardise and encode identifiers with a shared secret (:func:`encode_frame`,
:func:`write_encoded`); the linkage unit reads encodings (:func:`read_encoded`) and links
them (:func:`link`); researchers evaluate links against ground truth (:func:`evaluate`).
"""

__version__ = "0.1.0"

from .encode import Counts, Encoded, encode_frame
from .errors import InputError, IntegrityError, KeyFileError, LinkageError, SchemaError
from .evaluate import Evaluation, evaluate
from .keys import generate_key, key_check_value, read_key, write_key
from .link import LinkResult, link
from .plots import plot_evaluation
from .schema import Field, Schema
from .score import dice_pairs
from .solve import solve_one_to_one
from .standardise import standardise_frame
from .store import read_encoded, read_links, write_encoded, write_links
from .synth import synth_families
from .threshold import ThresholdFit, estimate_threshold

__all__ = [
    "Counts",
    "Encoded",
    "Evaluation",
    "Field",
    "InputError",
    "IntegrityError",
    "KeyFileError",
    "LinkResult",
    "LinkageError",
    "Schema",
    "SchemaError",
    "ThresholdFit",
    "dice_pairs",
    "encode_frame",
    "estimate_threshold",
    "evaluate",
    "generate_key",
    "key_check_value",
    "link",
    "plot_evaluation",
    "read_encoded",
    "read_key",
    "read_links",
    "solve_one_to_one",
    "standardise_frame",
    "synth_families",
    "write_encoded",
    "write_key",
    "write_links",
]
