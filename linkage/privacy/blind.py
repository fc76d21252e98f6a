"""Attacks without known plaintext: frequencies of bits and tokens, and frequent bit patterns.

The attacker holds the filters, the public schema (so the tokens each field yields, and how
many bits each sets) and a register of the population, whose token frequencies stand in for
public name and postcode frequency tables. A token sets the same ``weight`` bits in every
filter that holds it, so its bits are set together in as many filters as it occurs in: the
attacks find such sets of bits, align them with the register's tokens by frequency and size,
then decode each filter as the register person whose tokens best explain its set bits.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..linker.score import Pairs
from ..linker.solve import solve_one_to_one
from ..provider.tokens import SEP
from .base import Guess
from .decode import ValueModel, bernoulli_weights, codes_in, rank_separable
from .knowledge import YEAR, Knowledge, TokenSets, frame_tokens

__all__ = ["align_by_cooccurrence", "align_tokens", "decode_tokens", "frequency", "mine_pairwise", "mine_patterns",
           "pattern"]

_GROW_STEPS = 3  # bits added by lift before closing a pattern: enough to isolate one token's filters
_CLOSE = 0.9  # a pattern's closure: the bits set in at least this share of the filters holding it
_SUPPORT_TOLERANCE = np.log(1.15)  # a pattern and a token align when their counts differ by less than 15%
_MIN_SUPPORT = 10  # patterns and tokens seen in fewer filters are not aligned
_SIZE_SLACK = (2, 1)  # a token of weight k may show k - 2 (collisions) to k + 1 bits
_SEEDS_PER_BLOCK = 256
_COOCCURRENCE_TOLERANCE = np.log(1.5)  # aligned by co-occurrence: counts need only agree within 50%
_SIGNATURE = 8  # highest co-occurrence shares that describe a pattern before any is aligned
_ANCHOR_ROUNDS = 3
_PEOPLE_PER_BLOCK = 4096
_PAIRS_PER_BLOCK = 8192


def _register_tokens(kn: Knowledge) -> TokenSets:
    if "register_tokens" not in kn._cache:
        kn._cache["register_tokens"] = kn.tokens(kn.register)
    return kn._cache["register_tokens"]


def _support(x: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Filters setting every bit of each pattern."""
    sizes = patterns.sum(axis=1)
    out = np.zeros(len(patterns), dtype=np.int64)
    for lo in range(0, len(patterns), _SEEDS_PER_BLOCK):
        p = patterns[lo:lo + _SEEDS_PER_BLOCK]
        hits = x @ p.T.astype(np.float32)
        out[lo:lo + len(p)] = (hits >= sizes[lo:lo + len(p)][None, :] - 0.5).sum(axis=0)
    return out


def mine_patterns(bits: np.ndarray, *, steps: int = _GROW_STEPS,
                  close: float = _CLOSE) -> tuple[np.ndarray, np.ndarray]:
    """Closed frequent bit patterns, one grown from every bit: ``(m, L)`` bool and their support.

    From each seed bit, the bit most over-represented (highest lift) among the filters holding
    the pattern so far is added, ``steps`` times, which isolates the filters of the most
    frequent token at the seed; the pattern is then closed (every bit set in at least
    ``close`` of those filters). This is a greedy, seeded form of the maximal frequent itemset
    mining of Christen et al. (PAKDD 2018, TKDE 2019), run on every seed at once.
    """
    x = bits.astype(np.float32)
    n, L = x.shape
    rate = np.maximum(x.mean(axis=0), 1.0 / max(n, 1))
    out = np.zeros((L, L), dtype=bool)
    for lo in range(0, L, _SEEDS_PER_BLOCK):
        seeds = np.arange(lo, min(lo + _SEEDS_PER_BLOCK, L))
        rows = np.arange(len(seeds))
        held = x[:, seeds].copy()
        taken = np.zeros((len(seeds), L), dtype=bool)
        taken[rows, seeds] = True
        for _ in range(steps):
            cond = (held.T @ x) / np.maximum(held.sum(axis=0), 1.0)[:, None]
            lift = np.where(taken, -1.0, cond / rate[None, :])
            nxt = np.argmax(lift, axis=1)
            taken[rows, nxt] = True
            held *= x[:, nxt]
        cond = (held.T @ x) / np.maximum(held.sum(axis=0), 1.0)[:, None]
        out[seeds] = (cond >= close) | taken
    patterns = np.unique(out, axis=0)
    patterns = patterns[patterns.any(axis=1)]
    return patterns, _support(x, patterns)


def mine_pairwise(bits: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bit patterns from pairwise co-occurrence only: each bit with its most co-occurring bits.

    For every bit and every token weight ``k`` in the schema, the pattern is the bit and the
    ``k - 1`` bits with the highest lift over it (the frequency of the pair against what the
    two bits' own frequencies predict); its support is counted over the filters. One product
    of the bit matrix with itself, as in frequency alignment of single bits and bit pairs
    (Christen et al. 2017; TKDE 2019).
    """
    x = bits.astype(np.float32)
    n, L = x.shape
    rate = np.maximum(x.mean(axis=0), 1.0 / max(n, 1))
    pair = (x.T @ x) / n
    lift = pair / np.outer(rate, rate)
    np.fill_diagonal(lift, np.inf)
    order = np.argsort(-lift, axis=1)
    found = []
    for k in sorted({int(w) for w in weights}):
        p = np.zeros((L, L), dtype=bool)
        p[np.arange(L)[:, None], order[:, :k]] = True
        found.append(p)
    patterns = np.unique(np.concatenate(found), axis=0)
    return patterns, _support(x, patterns)


def _candidate_pairs(patterns: np.ndarray, support: np.ndarray, expected: np.ndarray, weight: np.ndarray,
                     tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """(pattern, token) pairs of compatible size whose support and expected support differ by ``tolerance`` (log)."""
    size = patterns.sum(axis=1)
    p_idx = np.flatnonzero(support >= _MIN_SUPPORT)
    t_idx = np.flatnonzero(expected >= _MIN_SUPPORT)
    if not len(p_idx) or not len(t_idx):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.argsort(expected[t_idx], kind="stable")
    t_sorted = t_idx[order]
    log_e = np.log(expected[t_sorted])
    lo = np.searchsorted(log_e, np.log(support[p_idx]) - tolerance)
    hi = np.searchsorted(log_e, np.log(support[p_idx]) + tolerance, side="right")
    n_each = hi - lo
    pp = np.repeat(p_idx, n_each)
    tt = t_sorted[np.repeat(lo - np.cumsum(n_each) + n_each, n_each) + np.arange(n_each.sum())]
    w = weight[tt]
    fit = (size[pp] >= w - _SIZE_SLACK[0]) & (size[pp] <= w + _SIZE_SLACK[1])
    return pp[fit], tt[fit]


def align_tokens(patterns: np.ndarray, support: np.ndarray, n_filters: int, tokens: TokenSets,
                 n_people: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens aligned one-to-one with patterns of their size whose support matches their frequency.

    A token's expected support is its share of register people times the number of filters.
    Pairs are taken greedily, closest in log-frequency first (ties: lower pattern, then token),
    within 15%; returns the tokens assigned and their bits ``(m, L)``.
    """
    expected = tokens.counts() * n_filters / max(n_people, 1)
    pp, tt = _candidate_pairs(patterns, support, expected, tokens.weight, _SUPPORT_TOLERANCE)
    size = patterns.sum(axis=1)
    cost = np.abs(np.log(support[pp]) - np.log(expected[tt])) + np.abs(size[pp] - tokens.weight[tt]) * 1e-3
    chosen = solve_one_to_one(Pairs(pp, tt, -cost))
    return chosen.j.astype(np.int64), patterns[chosen.i]


def _token_cooccurrence(tokens: TokenSets, chosen: np.ndarray, n_people: int) -> np.ndarray:
    """Share of each chosen token's people who also hold each other chosen token: ``(t, t)``, 0 on the diagonal."""
    pos = np.full(tokens.n_tokens, -1, dtype=np.int64)
    pos[chosen] = np.arange(len(chosen))
    sel = pos[tokens.tok] >= 0
    person, col = tokens.person[sel], pos[tokens.tok[sel]]
    co = np.zeros((len(chosen), len(chosen)), dtype=np.float32)
    for lo in range(0, n_people, _PEOPLE_PER_BLOCK):
        rows = (person >= lo) & (person < lo + _PEOPLE_PER_BLOCK)
        z = np.zeros((min(_PEOPLE_PER_BLOCK, n_people - lo), len(chosen)), dtype=np.float32)
        z[person[rows] - lo, col[rows]] = 1.0
        co += z.T @ z
    counts = np.maximum(np.diag(co).copy(), 1.0)
    co /= counts[:, None]
    np.fill_diagonal(co, 0.0)
    return co


def align_by_cooccurrence(bits: np.ndarray, patterns: np.ndarray, support: np.ndarray, tokens: TokenSets,
                          n_people: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens aligned one-to-one with patterns by how they co-occur, among pairs of like size and frequency.

    Two tokens that occur together (``jo`` and ``oh``) have patterns set together in the same
    share of filters. Each pattern (and token) is described first by its highest shares of
    co-occurrence with the others, sorted (which needs no alignment), and assigned greedily;
    then, three times, by its co-occurrence with the best half of the pairs assigned so far
    (anchors), both ways, and assigned again. Frequencies only need to agree within 50%, so a
    register that is a sample of the population, with its own errors, still aligns.
    """
    n = len(bits)
    expected = tokens.counts() * n / max(n_people, 1)
    pp, tt = _candidate_pairs(patterns, support, expected, tokens.weight, _COOCCURRENCE_TOLERANCE)
    if not len(pp):
        return np.empty(0, np.int64), np.zeros((0, patterns.shape[1]), dtype=bool)
    used_p, pp = np.unique(pp, return_inverse=True)
    used_t, tt = np.unique(tt, return_inverse=True)
    x = bits.astype(np.float32)
    pats = patterns[used_p]
    held = ((x @ pats.T.astype(np.float32)) >= pats.sum(axis=1)[None, :] - 0.5).astype(np.float32)
    cp = (held.T @ held) / np.maximum(held.sum(axis=0), 1.0)[:, None]
    np.fill_diagonal(cp, 0.0)
    ct = _token_cooccurrence(tokens, used_t, n_people)
    k = _SIGNATURE
    sig_p, sig_t = -np.sort(-cp, axis=1)[:, :k], -np.sort(-ct, axis=1)[:, :k]
    if sig_p.shape[1] < k:
        sig_p = np.pad(sig_p, ((0, 0), (0, k - sig_p.shape[1])))
    if sig_t.shape[1] < k:
        sig_t = np.pad(sig_t, ((0, 0), (0, k - sig_t.shape[1])))
    chosen = solve_one_to_one(Pairs(pp, tt, -np.abs(sig_p[pp] - sig_t[tt]).mean(axis=1)))
    for _ in range(_ANCHOR_ROUNDS):
        best = np.argsort(-chosen.score, kind="stable")[: max(len(chosen) // 2, 1)]
        aq, au = chosen.i[best], chosen.j[best]
        dist = np.zeros(len(pp), dtype=np.float64)
        for lo in range(0, len(pp), _PAIRS_PER_BLOCK):
            p, t = pp[lo:lo + _PAIRS_PER_BLOCK], tt[lo:lo + _PAIRS_PER_BLOCK]
            dist[lo:lo + len(p)] = (np.abs(cp[p][:, aq] - ct[t][:, au]).mean(axis=1)
                                    + np.abs(cp[aq][:, p].T - ct[au][:, t].T).mean(axis=1))
        chosen = solve_one_to_one(Pairs(pp, tt, -dist))
    return used_t[chosen.j].astype(np.int64), pats[chosen.i]


def decode_tokens(kn: Knowledge, tok: np.ndarray, tok_bits: np.ndarray, *, bits: np.ndarray | None = None,
                  desc: str = "decoding") -> Guess:
    """Rank register people by how well their assigned tokens' bits explain each filter.

    Each field is split by kind of token (a name's q-grams; a date's year, month, day; a
    postcode's q-grams, outward code and sector), and each distinct set of assigned tokens of
    one kind is modelled by the union of their bits (each set with probability ``1 - floor``).
    People are ranked by the sum of the Bernoulli scores of their sets; names and the year of
    birth are decoded alone. ``bits`` are the filters as the attack sees them (default: as given).
    """
    bits = kn.bits if bits is None else bits
    ts = _register_tokens(kn)
    assigned = np.full(ts.n_tokens, -1, dtype=np.int64)
    assigned[tok] = np.arange(len(tok))
    rate = bits.mean(axis=0, dtype=np.float64)
    bits_f = tok_bits.astype(np.float32)
    models, decode, label_of = [], [], {}
    for f in kn.schema.fields:
        values = kn.register[f.name].drop_nulls().unique().sort()
        vt = frame_tokens(pl.DataFrame({f.name: values}), [f])
        g = codes_in(vt.tokens, ts.tokens)[vt.tok]
        a = np.where(g >= 0, assigned[np.maximum(g, 0)], -1)
        tags = vt.tokens.str.split(SEP).list.get(1).to_numpy()[vt.tok]
        reg_value = codes_in(kn.register[f.name], values)
        for tag in np.unique(tags):
            sel = (tags == tag) & (a >= 0)
            if not sel.any():
                continue
            # Values with the same assigned tokens of this kind share one model.
            grouped = (pl.DataFrame({"value": vt.person[sel], "a": a[sel]}).group_by("value")
                       .agg(pl.col("a").sort()).sort("value"))
            sets = grouped.select("a").unique(maintain_order=True).with_row_index("set")
            grouped = grouped.join(sets, on="a", how="left", maintain_order="left")
            set_of_value = np.full(values.len(), -1, dtype=np.int64)
            set_of_value[grouped["value"].to_numpy()] = grouped["set"].to_numpy()
            first = grouped.group_by("set").agg(pl.col("value").first()).sort("set")["value"].to_numpy()
            members = sets.explode("a")
            inc = np.zeros((sets.height, len(tok)), dtype=np.float32)
            inc[members["set"].to_numpy(), members["a"].to_numpy()] = 1.0
            W, c = bernoulli_weights((inc @ bits_f) > 0, 1.0, rate)
            label = f"{f.name}{SEP}{tag}"
            codes = np.where(reg_value >= 0, set_of_value[np.maximum(reg_value, 0)], -1)
            models.append(ValueModel(label, values.gather(first), W, c, codes))
            if f.name in kn.name_fields and tag.startswith("q"):
                decode.append(label)
                label_of[label] = f.name
            elif f.name == kn.date_field and tag == "y":
                decode.append(label)
                label_of[label] = YEAR
    ranking = rank_separable(bits[kn.attacked], models, kn.register.height, decode=decode, quiet=kn.quiet,
                             desc=desc)
    fields = {}
    for label in decode:
        idx, values = ranking.decoded[label], ranking.values[label]
        got = pl.concat([values, pl.Series([None], dtype=pl.Utf8)]).gather(np.where(idx >= 0, idx, values.len()))
        fields[label_of[label]] = got.str.slice(0, 4) if label_of[label] == YEAR else got
    return Guess(ranking.top, ranking.unique, fields)


def _view(kn: Knowledge) -> tuple[np.ndarray, str]:
    """The filters with balancing undone when they are balanced (no plaintext needed for that)."""
    un = kn.unbalanced()
    if un is None:
        return kn.bits, ""
    keep, n_pairs = un
    return np.ascontiguousarray(kn.bits[:, keep]), f"balancing undone ({n_pairs:,} complement pairs); "


def _attack(kn: Knowledge, bits: np.ndarray, note: str, patterns: np.ndarray, support: np.ndarray,
            desc: str, *, cooccurrence: bool) -> Guess:
    ts = _register_tokens(kn)
    if cooccurrence:
        tok, tok_bits = align_by_cooccurrence(bits, patterns, support, ts, kn.register.height)
    else:
        tok, tok_bits = align_tokens(patterns, support, kn.n, ts, kn.register.height)
    found = f"{note}{len(patterns):,} bit patterns mined, {len(tok):,} of {ts.n_tokens:,} tokens aligned"
    if not len(tok):
        return Guess(np.full(len(kn.attacked), -1, dtype=np.int64), np.zeros(len(kn.attacked), dtype=bool),
                     detail=found)
    guess = decode_tokens(kn, tok, tok_bits, bits=bits, desc=desc)
    return Guess(guess.top, guess.unique, guess.fields, detail=found)


def frequency(kn: Knowledge) -> Guess:
    """Frequency alignment: bits and bit pairs aligned with the register's token frequencies.

    Assumes: the attacker knows the schema (the tokenisation and each field's weight are
    public) and holds a register of the population, whose token frequencies stand in for
    public frequency tables (Christen, Schnell, Vatsalan and Ranbaduge, PAKDD 2017;
    Christen, Ranbaduge, Vatsalan and Schnell, "Precise and fast cryptanalysis for Bloom
    filter based privacy-preserving record linkage", IEEE TKDE 2019). No plaintext of any
    filter is known (balanced filters are unbalanced first, as :func:`~linkage.privacy.known.unbalance`
    does, which needs none). The bits of a token are set together in as many filters as it occurs in:
    from pairwise co-occurrence alone, each bit's ``k - 1`` most over-represented partners
    form a candidate token, aligned with the register's tokens of weight ``k`` by frequency;
    filters are decoded as the register people whose tokens best explain their bits.
    """
    ts = _register_tokens(kn)
    bits, note = _view(kn)
    patterns, support = mine_pairwise(bits, np.unique(ts.weight))
    return _attack(kn, bits, note, patterns, support, "frequency", cooccurrence=False)


def pattern(kn: Knowledge) -> Guess:
    """Pattern mining: closed frequent bit patterns aligned with frequent tokens.

    Assumes what :func:`frequency` does. Following the maximal frequent itemset mining of
    Christen, Vidanage, Ranbaduge and Schnell (PAKDD 2018) and Christen et al. (TKDE 2019),
    sets of bits set together in many filters are mined (greedily from every seed bit, then
    closed: see :func:`mine_patterns`). A set whose size is a field's weight and whose number
    of filters is near a register token's frequency may be that token; which one is decided
    by how the sets co-occur against how the tokens co-occur (see
    :func:`align_by_cooccurrence`), so the register need not match the encoded population
    exactly. Filters are then decoded as the register people whose tokens best explain their
    bits.
    """
    bits, note = _view(kn)
    patterns, support = mine_patterns(bits)
    return _attack(kn, bits, note, patterns, support, "pattern", cooccurrence=True)
