"""Attacks with known plaintext: the attacker holds the true identity of a share of the filters.

Each learns from the known filters which bits go with which plaintext, then decodes the
others. They need ``known > 0``; the key is never needed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .base import Guess, NotApplicable
from .decode import (
    FLOOR,
    SHARE,
    ValueModel,
    bernoulli_weights,
    codes_in,
    min_filters,
    profiles,
    rank_dense,
    rank_separable,
)
from .knowledge import YEAR, Knowledge, frame_tokens

__all__ = ["bigram_year", "unbalance", "value", "value_year"]

_SEP = "\x1f"
PRIOR = 1.0  # a value's bit probabilities start from the background, worth this many filters
ALL_BUT_FLIPS = 0.95  # "set in every filter holding it", allowing for the odd flipped bit


def _need_known(kn: Knowledge) -> None:
    if not len(kn.known):
        raise NotApplicable("needs known records (--known above 0)")


def _features(kn: Knowledge, *, by_year: bool) -> list[tuple[str, pl.Expr]]:
    """(label, expression) of the features profiled: names (with the year if ``by_year``), and the year."""
    if by_year and not kn.date_field:
        raise NotApplicable("the schema has no date field, so no year of birth")
    feats = []
    for name in kn.name_fields:
        expr = pl.concat_str(pl.col(name), pl.lit(_SEP), pl.col(YEAR)) if by_year else pl.col(name)
        feats.append((name, expr))
    if kn.date_field:
        feats.append((YEAR, pl.col(YEAR)))
    if not feats:
        raise NotApplicable("the schema has no name or date field to learn")
    return feats


def profile_models(kn: Knowledge, bits: np.ndarray, feats: list[tuple[str, pl.Expr]], *, share: float = SHARE,
                   floor: float = FLOOR) -> list[ValueModel]:
    """A Bernoulli model of each feature value seen among the known records, from their bit profile.

    A value's bits are those set by at least ``share`` of its known filters; the chance that
    each is set starts from the bit's background rate, worth :data:`PRIOR` filters, so a value
    seen once is not trusted as if seen often (the other fields' bits of that one filter).
    """
    rate = bits.mean(axis=0, dtype=np.float64)
    known_bits = bits[kn.known]
    models = []
    for label, expr in feats:
        kv = kn.known_values.select(expr.alias("v"))["v"]
        vocab = kv.drop_nulls().unique().sort()
        counts, prof = profiles(known_bits, codes_in(kv, vocab), vocab.len())
        post = (prof * counts[:, None] + PRIOR * rate[None, :]) / (counts[:, None] + PRIOR)
        W, c = bernoulli_weights(prof >= share, post, rate, floor=floor)
        reg = codes_in(kn.register.select(expr.alias("v"))["v"], vocab)
        models.append(ValueModel(label, vocab, W, c, reg))
    return models


def _decoded(ranking, label: str, *, part: int | None = None) -> pl.Series:
    idx = ranking.decoded[label]
    values = ranking.values[label]
    out = pl.concat([values, pl.Series([None], dtype=pl.Utf8)]).gather(np.where(idx >= 0, idx, values.len()))
    if part is not None:
        out = out.str.split(_SEP).list.get(part, null_on_oob=True)
    return out


def _profile_attack(kn: Knowledge, bits: np.ndarray, *, by_year: bool, desc: str) -> Guess:
    feats = _features(kn, by_year=by_year)
    models = profile_models(kn, bits, feats)
    labels = [m.label for m in models]
    ranking = rank_separable(bits[kn.attacked], models, kn.register.height, excluded=kn.excluded_rows,
                             decode=labels, quiet=kn.quiet, desc=desc)
    fields = {label: _decoded(ranking, label, part=0 if by_year and label != YEAR else None) for label in labels}
    seen = ", ".join(f"{m.values.len():,} {m.label}" for m in models)
    return Guess(ranking.top, ranking.unique, fields, detail=f"values profiled: {seen}")


def value(kn: Knowledge) -> Guess:
    """Value profiles: learn each first name's, surname's and birth year's bits from the known filters.

    Assumes: the attacker knows the true identity of a share of the filters (a leaked or
    matched sample) and holds a register of the population. For each value of each name field
    and each year of birth, the bits set by at least :data:`~linkage.privacy.decode.SHARE` of its
    known filters are its bits (a high share rather than all, so flipped bits do not hide
    them; see :func:`profile_models`); each unknown filter is decoded per field as the value
    with the best Bernoulli log-likelihood ratio, and register people are ranked by the sum
    over their fields (people already known are not proposed again). This is
    the frequency-free form of the known-plaintext attacks of Kuzu et al. (2011) and of
    Christen et al. (2017, 2019); values never seen among the known records cannot be decoded.
    """
    _need_known(kn)
    return _profile_attack(kn, kn.bits, by_year=False, desc="value")


def value_year(kn: Knowledge) -> Guess:
    """Value profiles of (name, year of birth) pairs: what salting names by the year leaves open.

    Assumes what :func:`value` does. When names are salted with the year of birth, a name's
    bits differ from one year to the next, so profiles are learnt per (name, year) pair (and
    per year); each unknown filter is ranked by the sum of its (first name, year), (surname,
    year) and year scores. Needs more known records than :func:`value`: each pair must be seen.
    """
    _need_known(kn)
    return _profile_attack(kn, kn.bits, by_year=True, desc="value_year")


def unbalance(kn: Knowledge) -> Guess:
    """Undo balancing, then run :func:`value`: each bit's complement is its most anti-correlated bit.

    Assumes what :func:`value` does, and that filters were balanced as Schnell and Borgs
    (2016) propose: each filter is joined with its complement and the bits permuted, so that
    every filter sets exactly half its bits. The complement of a bit is set exactly when it is
    not, so across the filters each bit's most anti-correlated bit is its complement (bit
    flipping blurs this, but does not hide it). Of each pair the sparser bit is kept (the
    original, not the complement) and the rest dropped; :func:`value` then runs on the
    filters as they were before balancing, up to a permutation of the bits, which it does not
    need to know.
    """
    _need_known(kn)
    kept = kn.unbalanced()
    if kept is None:
        raise NotApplicable("filters are not balanced (their bit counts vary and their bits do not pair up "
                            "with complements)")
    keep, n_pairs = kept
    guess = _profile_attack(kn, np.ascontiguousarray(kn.bits[:, keep]), by_year=False, desc="unbalance")
    return Guess(guess.top, guess.unique, guess.fields,
                 detail=f"{n_pairs:,} complement pairs found, {len(keep):,} bits kept; {guess.detail}")


def bigram_year(kn: Knowledge, *, min_known: int | None = None, share: float = ALL_BUT_FLIPS,
                qgram_fields: tuple[str, ...] | None = None) -> Guess:
    """Bigram bits per year of birth: learn each bigram's bits among a year's known filters.

    Assumes what :func:`value` does. The year of each unknown filter is decoded first, as in
    :func:`value`. Then, per year, a bigram's bits are those set by (at least a high share of)
    every known filter of that year holding it (each person's q-grams, names and postcodes
    alike, made by the public tokenisation); a register person of that year is modelled by the
    union of the bits of their bigrams, and the year's unknown filters are ranked against that
    year's register by the Bernoulli score of those bits. Learning per year defeats salting by
    year, and bigrams are shared by many names, so people whose own names were never seen are
    still found (Kroll and Steinmetzer 2015 learn bigram "atoms" the same way, without
    known records).
    """
    _need_known(kn)
    if not kn.date_field:
        raise NotApplicable("the schema has no date field, so no year of birth")
    bits, rate = kn.bits, kn.bit_rate
    if min_known is None:
        min_known = min_filters(rate)
    year_model = profile_models(kn, bits, [(YEAR, pl.col(YEAR))])[0]
    x = bits[kn.attacked]
    years = year_model.values
    decoded_year = np.full(len(x), -1, dtype=np.int64)
    for lo in range(0, len(x), 4096):
        s = year_model.scores(x[lo:lo + 4096].astype(np.float32))
        if s.shape[1]:
            decoded_year[lo:lo + 4096] = np.argmax(s, axis=1)

    fields = [f for f in kn.schema.fields if f.q is not None and (qgram_fields is None or f.name in qgram_fields)]
    if not fields:
        raise NotApplicable("the schema has no q-gram field")
    reg_tok = frame_tokens(kn.register, fields, qgrams_only=True)
    known_tok = frame_tokens(kn.known_values, fields, qgrams_only=True)
    # One vocabulary: known tokens placed among the register's.
    vocab = reg_tok.tokens
    k_codes = codes_in(known_tok.tokens, vocab)[known_tok.tok]
    ok = k_codes >= 0
    k_person, k_tok = known_tok.person[ok], k_codes[ok]

    reg_year = codes_in(kn.register[YEAR], years)
    known_year = codes_in(kn.known_values[YEAR], years)
    excluded = np.zeros(kn.register.height, dtype=bool)
    excluded[kn.excluded_rows] = True
    top = np.full(len(x), -1, dtype=np.int64)
    unique = np.zeros(len(x), dtype=bool)
    n_tok = vocab.len()
    learnt = 0
    for y in np.unique(decoded_year[decoded_year >= 0]):
        rows = np.flatnonzero(decoded_year == y)
        ky = np.flatnonzero(known_year == y)
        cand = np.flatnonzero((reg_year == y) & ~excluded)
        if not len(ky) or not len(cand):
            continue
        # Token incidence of the year's known records, and the bits of each token.
        pos = np.full(kn.known_values.height, -1, dtype=np.int64)
        pos[ky] = np.arange(len(ky))
        sel = pos[k_person] >= 0
        inc = np.zeros((n_tok, len(ky)), dtype=np.float32)
        inc[k_tok[sel], pos[k_person[sel]]] = 1.0
        used = np.flatnonzero(inc.sum(axis=1) >= min_known)
        if not len(used):
            continue
        inc = inc[used]
        n_with = inc.sum(axis=1)
        prof = (inc @ bits[kn.known[ky]].astype(np.float32)) / n_with[:, None]
        members = prof >= share
        learnt += len(used)
        # Register people of the year: union of their learnt tokens' bits.
        where = np.full(n_tok, -1, dtype=np.int64)
        where[used] = np.arange(len(used))
        cpos = np.full(kn.register.height, -1, dtype=np.int64)
        cpos[cand] = np.arange(len(cand))
        rsel = (cpos[reg_tok.person] >= 0) & (where[reg_tok.tok] >= 0)
        rinc = np.zeros((len(cand), len(used)), dtype=np.float32)
        rinc[cpos[reg_tok.person[rsel]], where[reg_tok.tok[rsel]]] = 1.0
        union = (rinc @ members.astype(np.float32)) > 0
        W, c = bernoulli_weights(union, 1.0, rate)
        top[rows], unique[rows] = rank_dense(x[rows], lambda xb, W=W, c=c: xb @ W + c, cand)
    year_values = pl.concat([years, pl.Series([None], dtype=pl.Utf8)]).gather(
        np.where(decoded_year >= 0, decoded_year, years.len()))
    return Guess(top, unique, {YEAR: year_values}, detail=f"(year, bigram) pairs learnt: {learnt:,}")
