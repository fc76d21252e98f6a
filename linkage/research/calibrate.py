"""Learn how match scores fall with errors for a schema, from synthetic pairs with known truth.

The linkage unit cannot tell a relative who scores 0.8 from a match with a few errors that
scores 0.8; where matches are few, what separates them is knowing how match scores are
distributed. That depends on the encoding (the schema) and on data quality (how many errors
a pair has), not on the overlap, so it is learnt here once per schema: synthetic people are
encoded as they are and with exactly ``e`` errors (``e`` = 0 .. 6), with a fixed throwaway
key (the distribution of scores does not depend on the key), and the score of each true pair
is binned by ``e``. The linkage unit then fits only how many errors its data have.

Runs on synthetic data only: no identifier of a real person and no shared key is involved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl

from ..defaults import SEED
from ..format.encoded import popcounts
from ..format.files import atomic_path, refuse_existing
from ..linker.threshold import MatchModel
from ..provider.encode import encode_frame
from ..schema import Schema
from .synth import CALIBRATION_MAX_ERRORS, CALIBRATION_RECORDS, synth_calibration

__all__ = ["calibrate", "write_match_model"]


def _throwaway_key(seed: int) -> bytes:
    """A fixed public key for synthetic calibration data, so calibrations are repeatable."""
    return hashlib.blake2b(f"linkage calibration {seed}".encode(), digest_size=32).digest()


def calibrate(
    schema: Schema | None = None,
    *,
    records: int = CALIBRATION_RECORDS,
    seed: int = SEED,
    max_errors: int = CALIBRATION_MAX_ERRORS,
) -> MatchModel:
    """A :class:`MatchModel` for ``schema``: match-score histograms by number of errors."""
    schema = schema or Schema.default()
    data = synth_calibration(records, seed=seed, max_errors=max_errors)
    key = _throwaway_key(seed)
    a, b = encode_frame(data.a, schema, key=key), encode_frame(data.b, schema, key=key)
    rows_a = pl.DataFrame({"id_a": a.record_ids, "i": np.arange(len(a))})
    rows_b = pl.DataFrame({"id_b": b.record_ids, "j": np.arange(len(b))})
    pairs = data.truth.join(rows_a, on="id_a").join(rows_b, on="id_b")  # rejected records drop out
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    inter = popcounts(a.clks[i] & b.clks[j])
    denom = popcounts(a.clks[i]) + popcounts(b.clks[j])
    dice = np.where(denom > 0, 2.0 * inter / np.maximum(denom, 1), 0.0)
    errors = pairs["errors"].to_numpy()
    by_errors = np.stack([MatchModel.histogram(dice[errors == e]) for e in range(max_errors + 1)])
    source = (f"synthetic families, {len(dice):,} true pairs with 0-{max_errors} errors, seed {seed}, "
              "fixed calibration key")
    return MatchModel(by_errors, fingerprint=schema.fingerprint(), source=source, pairs=len(dice))


def write_match_model(model: MatchModel, path: str | Path, *, force: bool = False) -> Path:
    """Write a match-score model as JSON (atomically), for ``linkage link --match-model``."""
    path = Path(path)
    refuse_existing([path], force)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(model.to_dict()) + "\n", encoding="utf-8")
    return path
