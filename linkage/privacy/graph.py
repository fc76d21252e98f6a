"""Similarity-graph matching: the neighbourhoods of encodings against those of the register.

Dice similarity between two filters depends on how many tokens their people share, not on
the key. So the attacker encodes the register itself, with the public schema and a key of
its own, builds a nearest-neighbour similarity graph on each side, describes every node by
features of its neighbourhood, and matches the encoded nodes to register nodes one-to-one
by those features (Vidanage, Ranbaduge, Christen and Schnell, ICDE 2019; CIKM 2020).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..format.encoded import popcounts
from ..linker.score import Pairs, dice_pairs
from ..linker.solve import solve_one_to_one
from ..provider.encode import encode_frame
from ..schema import RECORD_ID
from .base import Guess, NotApplicable
from .knowledge import Knowledge

__all__ = ["NEIGHBOURS", "THRESHOLDS", "attacker_encoding", "graph", "node_features"]

NEIGHBOURS = 10  # edges kept per node: its nearest neighbours by Dice
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # degrees counted at these similarities
_CANDIDATES = 5  # register nodes kept per encoded node before the one-to-one assignment
_ROWS = 2048


def _neighbours(clks: np.ndarray, *, quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each filter's ``NEIGHBOURS`` nearest other filters and their Dice: ``(n, k)`` rows and scores (-1, 0 if none)."""
    n = len(clks)
    k = NEIGHBOURS
    scores = dice_pairs(clks, clks, threshold=0.0, top_k=min(k + 1, n), quiet=quiet).pairs
    keep = scores.i != scores.j
    i, j, s = scores.i[keep], scores.j[keep], scores.score[keep]
    order = np.lexsort((j, -s, i))
    i, j, s = i[order], j[order], s[order]
    rank = np.arange(len(i)) - np.searchsorted(i, i)
    ok = rank < k
    rows = np.full((n, k), -1, dtype=np.int64)
    sims = np.zeros((n, k), dtype=np.float64)
    rows[i[ok], rank[ok]] = j[ok]
    sims[i[ok], rank[ok]] = s[ok]
    return rows, sims


def node_features(clks: np.ndarray, *, quiet: bool = True) -> np.ndarray:
    """Features of each node of the similarity graph of ``clks``: ``(n, d)`` float64.

    Its bit count; its neighbours' similarities, best first; its degree at each of
    :data:`THRESHOLDS`; and, one step further, its neighbours' mean bit count, best similarity
    and degree at the middle threshold.
    """
    pop = popcounts(clks).astype(np.float64)
    rows, sims = _neighbours(clks, quiet=quiet)
    has = rows >= 0
    degree = np.stack([(sims >= t).sum(axis=1) for t in THRESHOLDS], axis=1).astype(np.float64)
    safe = np.maximum(rows, 0)
    n_nb = np.maximum(has.sum(axis=1), 1)
    nb_pop = np.where(has, pop[safe], 0.0).sum(axis=1) / n_nb
    nb_best = np.where(has, sims[safe, 0], 0.0).sum(axis=1) / n_nb
    mid = degree[:, len(THRESHOLDS) // 2]
    nb_deg = np.where(has, mid[safe], 0.0).sum(axis=1) / n_nb
    return np.column_stack([pop, sims, degree, nb_pop, nb_best, nb_deg])


def attacker_encoding(kn: Knowledge) -> tuple[np.ndarray, np.ndarray]:
    """The register encoded with the public schema and a key the attacker picks; and each filter's register row."""
    schema = kn.schema
    frame = kn.register.select([pl.col(f.name).alias(schema.column(f.name)) for f in schema.fields])
    frame = frame.with_columns(pl.Series(schema.column(RECORD_ID), [f"r{i}" for i in range(frame.height)]))
    key = np.random.default_rng([kn.seed, 0x6A7]).bytes(32)
    enc = encode_frame(frame, schema, key=key, quiet=True)
    rows = enc.record_ids.str.slice(1).cast(pl.Int64).to_numpy()
    return enc.clks, rows


def graph(kn: Knowledge) -> Guess:
    """Similarity-graph matching of the encodings against the attacker's own encoding of the register.

    Assumes: the attacker knows the schema and holds a register of the population, but no
    plaintext of any filter. It encodes the register with the same schema and a key of its
    own (Dice similarities do not depend on the key), builds the ``NEIGHBOURS``-nearest
    neighbour Dice graph of each side, describes each node by its bit count, its neighbours'
    similarities, its degree at several thresholds and its neighbours' own features, and
    assigns encoded nodes to register nodes one-to-one, closest features first (Vidanage,
    Ranbaduge, Christen and Schnell, "A graph matching attack on privacy-preserving record
    linkage", CIKM 2020; ICDE 2019 for the pattern-mining view of the same graphs).
    """
    if kn.n < 3:
        raise NotApplicable("needs at least three encoded records")
    if kn.register.height < 3:
        raise NotApplicable("needs a register of at least three people")
    reg_clks, reg_rows = attacker_encoding(kn)
    if reg_clks.shape[1] != kn.filter_bits // 8:
        raise NotApplicable("the attacker's own encoding of the register differs in length from the filters")
    enc_clks = np.packbits(kn.bits[kn.attacked], axis=1)
    fa = node_features(enc_clks, quiet=kn.quiet)
    fb = node_features(np.ascontiguousarray(reg_clks), quiet=kn.quiet)
    both = np.concatenate([fa, fb])
    mu, sd = both.mean(axis=0), both.std(axis=0)
    sd[sd == 0] = 1.0
    za, zb = (fa - mu) / sd, (fb - mu) / sd
    # Nearest register nodes in feature space (squared Euclidean distance), a block at a time.
    nb = np.einsum("ij,ij->i", zb, zb)
    c = min(_CANDIDATES, len(zb))
    cand_i, cand_j, cand_d = [], [], []
    for lo in range(0, len(za), _ROWS):
        a = za[lo:lo + _ROWS]
        d = np.einsum("ij,ij->i", a, a)[:, None] + nb[None, :] - 2.0 * (a @ zb.T)
        part = np.argpartition(d, c - 1, axis=1)[:, :c] if c < d.shape[1] else np.tile(np.arange(d.shape[1]),
                                                                                       (len(a), 1))
        cand_i.append(np.repeat(np.arange(lo, lo + len(a)), part.shape[1]))
        cand_j.append(part.ravel())
        cand_d.append(np.take_along_axis(d, part, axis=1).ravel())
    i, j, dist = np.concatenate(cand_i), np.concatenate(cand_j), np.maximum(np.concatenate(cand_d), 0.0)
    chosen = solve_one_to_one(Pairs(i, j, -dist))
    top = np.full(len(za), -1, dtype=np.int64)
    top[chosen.i] = reg_rows[chosen.j]
    # Alone: no other candidate of the node lies at the same distance.
    best = np.full(len(za), np.inf)
    best[chosen.i] = -chosen.score
    same = np.bincount(i[dist == best[i]], minlength=len(za))
    unique = (top >= 0) & (same == 1)
    return Guess(top, unique, detail=f"{len(chosen):,} nodes assigned one-to-one ({len(reg_rows):,} register "
                                     "people encoded by the attacker)")
