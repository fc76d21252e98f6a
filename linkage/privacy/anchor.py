"""Anchor attack: re-identify by similarity to people whose identity the attacker knows.

An encoding that lets the linkage unit find similar people also tells it how similar an
unknown filter is to each *known* one. The attacker encodes its own register with the
public schema and a key of its own (similarities do not depend on the key), and for each
register person computes the same similarities to the known people's plaintext. The person
whose profile of similarities to the known people best matches an unknown filter's is its
guess. No hardening that keeps similar people similar can hide this: it is the price of
similarity-preserving encodings, and what only a smaller share of known people (governance)
limits. Similar in spirit to seeded graph matching (Vidanage et al., CIKM 2020) with the
known people as seeds.
"""

from __future__ import annotations

import numpy as np

from ..progress import progress
from .base import Guess, NotApplicable
from .decode import rank_dense
from .graph import attacker_encoding
from .knowledge import Knowledge

__all__ = ["MAX_ANCHORS", "anchor", "dice_matrix", "neighbour"]

MAX_ANCHORS = 2000  # known people used as anchors (a seeded sample when more are known)
_ROWS = 1024


def dice_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Dice of every row of ``x`` with every row of ``y`` (0/1 matrices), as float32."""
    xf, yf = x.astype(np.float32), y.astype(np.float32)
    inter = xf @ yf.T
    denom = xf.sum(axis=1)[:, None] + yf.sum(axis=1)[None, :]
    return np.where(denom > 0, 2.0 * inter / np.maximum(denom, 1.0), 0.0).astype(np.float32)


def _standardised(s: np.ndarray) -> np.ndarray:
    """Each row's similarities centred and scaled, so profiles compare across keys."""
    s = s - s.mean(axis=1, keepdims=True)
    return s / np.maximum(s.std(axis=1, keepdims=True), 1e-6)


def _setup(kn: Knowledge):
    """Anchors (real filters and the attacker's own encodings of their people) and the candidates' own encodings."""
    rows = kn.known_rows
    ok = np.flatnonzero(rows >= 0)
    if len(ok) < 10:
        raise NotApplicable("needs at least ten known records found in the register")
    if len(ok) > MAX_ANCHORS:
        ok = np.sort(np.random.default_rng([kn.seed, 0xA7C]).choice(ok, MAX_ANCHORS, replace=False))
    if "own" not in kn._cache:
        kn._cache["own"] = attacker_encoding(kn)
    reg_clks, reg_rows = kn._cache["own"]
    if reg_clks.shape[1] != kn.filter_bits // 8:
        raise NotApplicable("the attacker's own encoding of the register differs in length from the filters")
    reg_bits = np.unpackbits(reg_clks, axis=1)
    by_row = np.empty(kn.register.height, dtype=np.int64)
    by_row[reg_rows] = np.arange(len(reg_rows))
    candidates = np.setdiff1d(np.arange(kn.register.height), kn.excluded_rows)
    return ok, kn.bits[kn.known[ok]], reg_bits[by_row[rows[ok]]], reg_bits[by_row[candidates]], candidates


def anchor(kn: Knowledge) -> Guess:
    """Rank register people for each unknown filter by how alike their similarities to the known people are.

    Assumes: the attacker knows the schema, holds a register of the population and the true
    identity of a share of the filters (the anchors, at most ``MAX_ANCHORS``), but not the key.
    """
    ok, anchors_real, anchors_own, own, candidates = _setup(kn)
    profile = _standardised(dice_matrix(own, anchors_own))
    attacked = kn.bits[kn.attacked]
    with progress(total=len(attacked), desc="anchor", unit="filter", quiet=kn.quiet) as bar:
        def score(xb: np.ndarray) -> np.ndarray:
            bar.update(len(xb))
            return _standardised(dice_matrix(xb, anchors_real)) @ profile.T

        top, unique = rank_dense(attacked, score, candidates)
    return Guess(top, unique, detail=f"{len(ok):,} known people used as anchors against {len(candidates):,} "
                                     "register people")


def neighbour(kn: Knowledge) -> Guess:
    """For each unknown filter, its most similar known person; the register person most like that one.

    Assumes what :func:`anchor` assumes. Where hardening blurs weak similarities, the
    strongest one left (a relative, say, among the known people) still points at a household.
    """
    ok, anchors_real, anchors_own, own, candidates = _setup(kn)
    own_sim = dice_matrix(own, anchors_own)
    own_z = (own_sim - own_sim.mean(axis=0)) / np.maximum(own_sim.std(axis=0), 1e-6)
    attacked = kn.bits[kn.attacked]
    with progress(total=len(attacked), desc="neighbour", unit="filter", quiet=kn.quiet) as bar:
        def score(xb: np.ndarray) -> np.ndarray:
            bar.update(len(xb))
            nearest = np.argmax(dice_matrix(xb, anchors_real), axis=1)
            return np.ascontiguousarray(own_z[:, nearest].T)

        top, unique = rank_dense(attacked, score, candidates)
    return Guess(top, unique, detail=f"nearest of {len(ok):,} known people, then the register person most like it")
