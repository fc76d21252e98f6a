"""Blocking at the linkage unit: candidate pairs from the encodings alone, and how complete they are.

Locality-sensitive hashing by bit sampling (Hamming LSH, as in Karapiperis and Verykios'
HLSH): each of ``bands`` bands samples ``bits_per_band`` bit positions, seeded; two filters
become a candidate pair when they agree on every sampled bit of some band. A pair that agrees
on a share ``p`` of the bits collides in a band with probability about ``p ** k``, so pairs
that score high are found almost surely and random pairs rarely. It uses nothing but the
filters the linkage unit already holds, so it discloses nothing more.

Bits that almost every filter sets, or almost none does, are left out of the sample: they
agree for nearly every pair and only make buckets big.

The parameters are chosen from the data, without labels (:func:`plan_lsh`): the likely
matches of a seeded sample of A records scored against all of B say how far true pairs
agree, random pairs say how far non-matches do, and the sizes say what a candidate costs.
The plan is the cheapest one expected to keep ``target`` of the likely matches within
``max_bands`` bands; when none does, the most complete one that still removes ``1 -
max_share`` of the comparisons, and it says what completeness to expect.

How far true pairs agree depends on the encoding. Diffusion (the default hardening) spreads
each difference of the identifiers over many bits: true pairs with a few errors agree on
little more than random pairs do, and no bit sampling finds them cheaply. Measured in
``benchmarks/blocking.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..defaults import BLOCK_ABOVE, BLOCKINGS
from ..errors import InputError
from ..format.encoded import Rows, part_ranges, popcounts
from ..progress import progress
from .distribute import Runner, part_rows, task_threads
from .score import TOP_K, Pairs, ScoreMerge, Scores, as_words, candidate_scores, dice_pairs
from .solve import solve_one_to_one

__all__ = ["BLOCKINGS", "Blocked", "Blocking", "LshPlan", "band_signatures", "blocked_scores", "impute_best",
           "iter_shared_buckets", "key_candidates", "lsh_candidates", "pays", "plan_lsh"]

_DENSITY_RANGE = (0.05, 0.95)  # bits set in fewer or more of the filters than this are left out
_MIN_POOL = 64
_MAX_K = 64  # a band's signature fits one 64-bit word
# Costs in units of one pair scored in a tile (about 5 ns a core on AVX2): hashing one record
# into one band, and finding, deduplicating and scoring one candidate pair (benchmarks/scale.py:
# 1.7e9 LSH candidates took about 330 s on two cores, some 75 tile pairs each). Blocking pays
# when it costs under half of scoring every pair.
_COST_HASH = 25.0
_COST_CANDIDATE = 75.0
_PAYS_BELOW = 0.5
_PLAN_ROWS = 20_000  # B rows, seeded, whose filters the LSH plan samples bits and random pairs from
_CHUNK_CANDIDATES = 5e7  # LSH candidates made at a time, with those several bands share (about 400 MB)


@dataclass(frozen=True)
class Blocking:
    """How to find candidate pairs.

    ``method``: ``none`` scores every pair; ``lsh`` blocks by LSH; ``keys`` by the providers'
    blocking keys; ``auto``, when A x B is at least ``above`` pairs, by keys if both files
    carry the same ones, else by LSH if it pays. ``bands`` and ``bits_per_band`` fix the LSH plan (None: chosen from
    the data for ``target`` pair completeness, within ``max_bands`` and, when the target is out
    of reach, keeping at most ``max_share`` of the comparisons). ``sample``: A records scored
    against all of B to keep the threshold model unbiased and to plan (None: see
    :meth:`sample_size`). ``seed`` fixes the bits and the sample.
    """

    method: str = "auto"
    above: float = BLOCK_ABOVE
    bands: int | None = None
    bits_per_band: int | None = None
    target: float = 0.995
    max_bands: int = 64
    max_share: float = 0.001
    sample: int | None = None
    sample_pairs: float = 2e9
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in BLOCKINGS:
            raise ValueError(f"blocking must be one of {', '.join(BLOCKINGS)}")
        if self.bits_per_band is not None and not 1 <= self.bits_per_band <= _MAX_K:
            raise ValueError(f"bits per band must be 1 to {_MAX_K}")
        if self.bands is not None and self.bands < 1:
            raise ValueError("bands must be at least 1")

    def blocks(self, n_a: int, n_b: int) -> bool:
        """Whether A x B is blocked (``auto``: when it is large enough for blocking to pay)."""
        return self.method in ("lsh", "keys") or (self.method == "auto" and n_a * n_b >= self.above)

    def sample_size(self, n_a: int, n_b: int) -> int:
        """Records of A scored against all of B: ``sample``, or about ``sample_pairs`` comparisons
        but at most a tenth of A, and at least 500 records."""
        if self.sample is not None:
            return min(n_a, self.sample)
        return min(n_a, max(500, min(int(self.sample_pairs // max(n_b, 1)), n_a // 10)))


@dataclass(frozen=True)
class LshPlan:
    """Bit positions of each band (``positions[band]``) and what the plan expects to achieve."""

    positions: np.ndarray  # (bands, bits_per_band) bit positions
    expected_completeness: float | None = None  # share of likely matches kept (None: not planned)
    expected_share: float | None = None  # share of all pairs expected as candidates
    likely_matches: int = 0  # likely matches the plan was made on
    notes: tuple[str, ...] = field(default=())

    @property
    def bands(self) -> int:
        return int(self.positions.shape[0])

    @property
    def bits_per_band(self) -> int:
        return int(self.positions.shape[1])

    def to_dict(self) -> dict:
        return {"bands": self.bands, "bits_per_band": self.bits_per_band,
                "expected_completeness": self.expected_completeness, "expected_share": self.expected_share,
                "likely_matches": self.likely_matches, "positions": self.positions.tolist()}


def _bit(clks: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Bits at ``pos`` of packed filters, as uint8 0/1, shape ``(n, len(pos))``."""
    return (clks[:, pos >> 3] >> (7 - (pos & 7)).astype(np.uint8)) & 1


def band_signatures(clks: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Each filter's bits at ``positions`` packed into one uint64 (the band's bucket)."""
    packed = np.packbits(_bit(clks, positions), axis=1)
    pad = 8 - packed.shape[1]
    if pad:
        packed = np.concatenate([packed, np.zeros((len(packed), pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)[:, 0]


def bit_pool(a: np.ndarray, b: np.ndarray, *, seed: int = 0, sample: int = 20_000) -> np.ndarray:
    """Bit positions worth sampling: set in neither almost all filters nor almost none."""
    rng = np.random.default_rng(seed)
    rows = [x[np.sort(rng.choice(len(x), min(sample, len(x)), replace=False))] for x in (a, b)]
    density = np.concatenate([np.unpackbits(r, axis=1) for r in rows]).mean(axis=0)
    lo, hi = _DENSITY_RANGE
    pool = np.flatnonzero((density >= lo) & (density <= hi))
    if len(pool) < _MIN_POOL:  # nearly constant filters: take the least constant bits
        pool = np.sort(np.argsort(np.abs(density - 0.5), kind="stable")[:_MIN_POOL])
    return pool


def _agreement(x: np.ndarray, y: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Share of the pool's bits on which each pair of filters ``(x[r], y[r])`` agrees."""
    out = np.empty(len(x))
    for s in range(0, len(x), 8192):
        out[s:s + 8192] = (_bit(x[s:s + 8192], pool) == _bit(y[s:s + 8192], pool)).mean(axis=1)
    return out


def _positions(pool: np.ndarray, bands: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, k, bands])
    k = min(k, len(pool))
    return np.stack([np.sort(rng.choice(pool, k, replace=False)) for _ in range(bands)]) if bands else \
        np.empty((0, k), dtype=np.int64)


def plan_lsh(
    a: np.ndarray,
    b: np.ndarray,
    likely: tuple[np.ndarray, np.ndarray],
    blocking: Blocking,
    *,
    n_b: int | None = None,
) -> LshPlan:
    """Bands and bits per band for ``blocking``, from likely matches and random pairs.

    ``b`` is B or a seeded sample of its rows (``n_b``: how many rows B has, when a sample);
    ``likely`` holds the filters of the likely matches' A and B records. A pair agreeing on a
    share ``p`` of the sampled bits is kept with probability ``1 - (1 - p**k)**L``. Expected
    completeness is the mean of that over the likely matches; expected candidates, over
    seeded random pairs of A and B.
    """
    pool = bit_pool(a, b, seed=blocking.seed)
    rng = np.random.default_rng(blocking.seed)
    n_random = 50_000
    ri, rj = rng.integers(0, len(a), n_random), rng.integers(0, len(b), n_random)
    p_non = _agreement(a[ri], b[rj], pool)
    la, lb = likely
    notes = []
    if len(la) >= 20:
        p_match = _agreement(la, lb, pool)
    else:  # too few likely matches to learn from: assume they agree on 85% of the bits
        p_match = np.full(20, 0.85)
        notes.append("too few likely matches in the sample to plan on; assumed they agree on 85% of the bits")
    ks = [blocking.bits_per_band] if blocking.bits_per_band else list(range(4, min(_MAX_K, len(pool)) + 1))
    bands = np.arange(1, blocking.max_bands + 1) if blocking.bands is None else np.array([blocking.bands])
    n_b = len(b) if n_b is None else n_b
    pairs, records = float(len(a)) * n_b, float(len(a) + n_b)
    best = None  # (reaches target, cost or -completeness, k, L, completeness, share)
    # Agreements take few distinct values (shares of the pool): work on those, with counts.
    vm, wm = np.unique(p_match, return_counts=True)
    vn, wn = np.unique(p_non, return_counts=True)
    wm, wn = wm / wm.sum(), wn / wn.sum()
    for k in ks:
        # Chance that a pair agreeing on a share p is kept with L bands: 1 - (1 - p**k)**L.
        completeness = wm @ (1.0 - (1.0 - vm[:, None] ** k) ** bands[None, :])
        share = wn @ (1.0 - (1.0 - vn[:, None] ** k) ** bands[None, :])
        cost = bands * records * _COST_HASH + share * pairs * _COST_CANDIDATE
        ok = completeness >= blocking.target
        if ok.any():
            c = int(np.argmax(ok))  # fewest bands that reach the target
            cand = (True, -cost[c], k, int(bands[c]), completeness[c], share[c])
        else:
            within = share <= blocking.max_share
            if not within.any():
                continue
            c = int(np.flatnonzero(within)[np.argmax(completeness[within])])
            cand = (False, completeness[c], k, int(bands[c]), completeness[c], share[c])
        if best is None or cand[:2] > best[:2]:
            best = cand
    if best is None:  # nothing keeps within the share: the fewest candidates possible
        k, L = (ks[-1], int(bands[0]))
        best = (False, 0.0, k, L, float(np.mean(1.0 - (1.0 - p_match ** k) ** L)),
                float(np.mean(1.0 - (1.0 - p_non ** k) ** L)))
    reached, _, k, L, completeness, share = best
    if not reached:
        notes.append(f"no plan within {blocking.max_bands} bands keeps {blocking.target:.1%} of the likely "
                     f"matches and at most {blocking.max_share:.1%} of the pairs: this one is expected to keep "
                     f"{completeness:.1%}")
    return LshPlan(positions=_positions(pool, L, k, blocking.seed), expected_completeness=float(completeness),
                   expected_share=float(share), likely_matches=int(len(la)), notes=tuple(notes))


def pays(plan: LshPlan, n_a: int, n_b: int) -> bool:
    """Whether blocking by ``plan`` is expected to cost under half of scoring every pair."""
    if plan.expected_share is None:
        return True
    cost = plan.bands * (n_a + n_b) * _COST_HASH + plan.expected_share * n_a * n_b * _COST_CANDIDATE
    return cost < _PAYS_BELOW * n_a * n_b


def distinct_buckets(sig: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A list's distinct buckets and each row's index among them (None when nearly every row's
    bucket is its own): searching the distinct ones costs less than searching every row."""
    values, rows = np.unique(sig, return_inverse=True)
    if len(values) > len(sig) // 2:
        return sig, None
    return values, rows.astype(np.int32 if len(values) < 2**31 else np.int64)


def iter_shared_buckets(sig_a: Callable[[int, int], list[np.ndarray]] | list[tuple[np.ndarray, np.ndarray | None]],
                        n_a: int, sig_b: list[np.ndarray], *, chunk: int = 1 << 16, skip_zero: bool = False,
                        quiet: bool = True) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """For each ``chunk`` of A rows ``r0:r1``: the unique pairs ``(i, j)``, sorted, of those A rows
    and B rows with an equal bucket in some list.

    ``sig_b[t]`` holds every B row's bucket in list ``t``; ``sig_a`` is either a function whose
    ``sig_a(r0, r1)`` gives A rows ``r0:r1``'s buckets in each list (so memory grows with B and
    with one chunk's pairs), or each list's :func:`distinct_buckets` of all of A (each distinct
    bucket is looked up in B once). ``skip_zero``: bucket 0 means none.
    """
    sorted_b = []
    for sig in sig_b:
        order = np.argsort(sig, kind="stable")
        if skip_zero:
            order = order[sig[order] != 0]
        sorted_b.append((sig[order], order.astype(np.int64)))
    nb = np.int64(len(sig_b[0])) if sig_b else np.int64(1)

    def found(values: np.ndarray, srt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.searchsorted(srt, values, side="left")
        n = np.searchsorted(srt, values, side="right") - lo
        if skip_zero:
            n[values == 0] = 0
        return lo, n

    if callable(sig_a):
        def lookups(r0: int, r1: int):
            return [found(sig, srt) for sig, (srt, _) in zip(sig_a(r0, r1), sorted_b)]
    else:
        distinct = [found(values, srt) for (values, _), (srt, _) in zip(sig_a, sorted_b)]

        def lookups(r0: int, r1: int):
            return [(lo[r0:r1], n[r0:r1]) if rows is None else (lo[rows[r0:r1]], n[rows[r0:r1]])
                    for (lo, n), (_, rows) in zip(distinct, sig_a)]

    with progress(total=n_a, desc="blocking", quiet=quiet) as bar:
        for r0 in range(0, n_a, chunk):
            r1 = min(r0 + chunk, n_a)
            codes = [np.empty(0, np.int64)]
            for (lo, n), (_, order_b) in zip(lookups(r0, r1), sorted_b):
                total = int(n.sum())
                if not total:
                    continue
                ii = np.repeat(np.arange(r0, r1, dtype=np.int64), n)
                offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
                codes.append(ii * nb + order_b[np.repeat(lo, n) + offset])
            u = np.sort(np.concatenate(codes))  # a sort and a shift: faster than np.unique here
            u = u[np.concatenate([[True], u[1:] != u[:-1]])] if len(u) else u
            yield r0, r1, u // nb, u % nb
            bar.update(r1 - r0)


def _joined(chunks: Iterator[tuple[int, int, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    parts = list(chunks)
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts])


def _lsh_chunks(a: np.ndarray, b: np.ndarray, plan: LshPlan, *, chunk: int, quiet: bool):
    def sig_a(r0: int, r1: int) -> list[np.ndarray]:
        return [band_signatures(a[r0:r1], pos) for pos in plan.positions]

    return iter_shared_buckets(sig_a, len(a), [band_signatures(b, pos) for pos in plan.positions], chunk=chunk,
                               quiet=quiet)


def _key_chunks(keys_a: np.ndarray, keys_b: np.ndarray, *, chunk: int, quiet: bool):
    return iter_shared_buckets(lambda r0, r1: list(keys_a[r0:r1].T), len(keys_a), list(keys_b.T), chunk=chunk,
                               skip_zero=True, quiet=quiet)


def lsh_candidates(a: np.ndarray, b: np.ndarray, plan: LshPlan, *, chunk: int = 1 << 16,
                   quiet: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unique candidate pairs ``(i, j)``, sorted: rows that share a bucket in some band."""
    return _joined(_lsh_chunks(a, b, plan, chunk=chunk, quiet=quiet))


def key_candidates(keys_a: np.ndarray, keys_b: np.ndarray, *, chunk: int = 1 << 16,
                   quiet: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unique pairs ``(i, j)``, sorted, that share a value of some blocking key (0: none)."""
    return _joined(_key_chunks(keys_a, keys_b, chunk=chunk, quiet=quiet))


@dataclass(frozen=True)
class Blocked:
    """Scores from blocking, and the seeded sample of A rows scored against all of B.

    ``scores`` holds the candidates' pairs (the sample rows' exact pairs in place of theirs)
    and each A row's best scores over its candidates (the sample rows': over all of B).
    ``sample``: the sample's A rows; ``exact``/``found``: their best scores over all of B and
    over their candidates; ``exact_found``: whether each of their exact pairs was a candidate.
    """

    scores: Scores
    plan: LshPlan | None  # None: blocked on keys
    sample: np.ndarray
    exact: Scores
    found: np.ndarray
    exact_found: np.ndarray  # whether each of the sample's exact pairs was a candidate
    candidates: int
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each pass: sample, candidates

    @cached_property
    def sample_links(self) -> Pairs:
        """The sample's one-to-one links over all of B: what all-pairs scoring links for these rows."""
        return solve_one_to_one(self.exact.pairs)

    def completeness(self, at: float, posterior: Callable[[np.ndarray], np.ndarray] | None = None
                     ) -> tuple[float | None, int]:
        """Share of the sample's one-to-one links scoring ``at`` or more that blocking found.

        ``posterior`` (the chance that a link with a given score is a match) weights each
        link, so the share is that of matches, not of relatives that pass for them.
        """
        pairs = self.exact.pairs  # sorted by (i, j)
        assigned = self.sample_links
        top = assigned.score >= at
        nb = np.int64(max(int(pairs.j.max(initial=0)) + 1, 1))
        at_pos = np.searchsorted(pairs.i * nb + pairs.j, assigned.i[top] * nb + assigned.j[top])
        hit = self.exact_found[at_pos].astype(np.float64)
        w = np.ones(len(hit)) if posterior is None else posterior(assigned.score[top])
        if not len(hit) or w.sum() <= 0:
            return None, int(len(hit))
        return float(w @ hit / w.sum()), int(len(hit))


def _found(codes: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Whether each pair code in ``want`` is among the sorted unique ``codes``."""
    pos = np.clip(np.searchsorted(codes, want), 0, max(len(codes) - 1, 0))
    return (codes[pos] == want) if len(codes) else np.zeros(len(want), dtype=bool)


@dataclass(frozen=True)
class _SampleJob:
    """What each part of B does for the sample: score it, and hand over the B rows the plan needs."""

    threshold: float
    top_k: int | None
    kernel: str
    plan_rows: np.ndarray  # B rows whose filters the LSH plan samples (empty: no plan to make)
    threads: int | None


def _sample_part(span: tuple[int, int], a: np.ndarray, source: Any, job: _SampleJob):
    """Rows ``span`` of B against the sample of A; the filters of the plan's rows and of the pairs kept."""
    start, stop = span
    part = source.read_part(start, stop)
    with task_threads(job.threads):
        scores = dice_pairs(a, part.clks, threshold=job.threshold, top_k=job.top_k, kernel=job.kernel)
    rows = np.unique(np.concatenate([job.plan_rows[(job.plan_rows >= start) & (job.plan_rows < stop)] - start,
                                     scores.pairs.j])) if len(job.plan_rows) else np.empty(0, np.int64)
    return start, scores, rows + start, part.clks[rows]


@dataclass(frozen=True)
class _Side:
    """A as each part's task needs it: filters, buckets in each list, and which rows are the sample."""

    clks: np.ndarray
    lists: list[tuple[np.ndarray, np.ndarray | None]]  # distinct buckets of each band or key (distinct_buckets)
    in_sample: np.ndarray


@dataclass(frozen=True)
class _CandidateJob:
    threshold: float
    top_k: int | None
    kernel: str
    plan: LshPlan | None  # None: blocking keys
    chunk: int  # A rows whose candidates are made at a time
    n_b: int
    threads: int | None


def _candidate_part(span: tuple[int, int], a: _Side, source: Any, job: _CandidateJob):
    """Candidates of all of A among rows ``span`` of B, scored; the sample's candidates as pair codes."""
    start, stop = span
    part = source.read_part(start, stop)
    if job.plan is None:
        sig_b, skip_zero = list(part.block_keys.T), True
    else:
        sig_b, skip_zero = [band_signatures(part.clks, pos) for pos in job.plan.positions], False
    na = len(a.clks)
    k = max(TOP_K, job.top_k or 0)
    top_s, top_j = np.full((na, k), -1.0), np.full((na, k), -1, dtype=np.int64)
    kept, sample_codes, n, kernel = [], [], 0, job.kernel
    words_b, pb = as_words(part.clks), popcounts(part.clks)  # once, not once per chunk
    chunks = iter_shared_buckets(a.lists, na, sig_b, chunk=job.chunk, skip_zero=skip_zero)
    with task_threads(job.threads):
        for r0, r1, ci, cj in chunks:
            got = candidate_scores(a.clks[r0:r1], words_b, ci - r0, cj, threshold=job.threshold, top_k=job.top_k,
                                   kernel=job.kernel, pb=pb, pairs=job.top_k is None)
            top_s[r0:r1], top_j[r0:r1] = got.top
            kept.append(Pairs(got.pairs.i + r0, got.pairs.j, got.pairs.score))
            mine = a.in_sample[ci]
            sample_codes.append(ci[mine] * np.int64(job.n_b) + cj[mine] + start)
            n += len(ci)
            kernel = got.kernel
    pairs = Pairs(*(np.concatenate([getattr(p, x) for p in kept]) for x in ("i", "j", "score"))) if kept \
        else Pairs.empty()
    scores = Scores(pairs, np.maximum(top_s[:, :TOP_K], 0.0), kernel, n, top=(top_s, top_j))
    return start, scores, np.concatenate(sample_codes) if sample_codes else np.empty(0, np.int64)


def _sources(b: Any, keys: np.ndarray | tuple[np.ndarray, np.ndarray] | None):
    """B as a source of parts, and A's blocking keys (arrays of B's keys are wrapped with them)."""
    if isinstance(keys, tuple):
        keys_a, keys_b = keys
    else:
        keys_a, keys_b = keys, None
    if isinstance(b, np.ndarray):
        b = Rows(b, keys_b)
    return b, keys_a


def blocked_scores(a: np.ndarray, b: Any, *, threshold: float, top_k: int | None, kernel: str,
                   blocking: Blocking, likely_above: float | Callable[[Pairs, np.ndarray], float | None] | None,
                   keys: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
                   max_candidates: float | None = None, chunk: int = 1 << 16, runner: Runner | None = None,
                   quiet: bool = True) -> Blocked | LshPlan:
    """Score candidates (from blocking ``keys`` when given, else LSH), and a seeded sample of A
    rows against all of B.

    ``b`` is an encoded file (:class:`~linkage.format.encoded.EncodedFile`, read a part at a
    time), an :class:`~linkage.format.encoded.Encoded`, or packed filters; ``keys`` are A's
    blocking keys (B's come with its parts), or for filters, A's and B's. Parts of B run on
    ``runner`` (default: this process, one after another) and merge into the same result.

    With ``auto``, when the plan is not expected to pay (:func:`pays`), only the plan is
    returned: scoring every pair is cheaper. Candidates are made and scored ``chunk`` A rows at
    a time against a part of B; a plan expected to give more than ``max_candidates`` pairs at
    a time is refused before any is made.

    The sample plans the LSH: its one-to-one links scoring ``likely_above`` or more are the
    likely matches (a function of the sample's links and best scores may say where; None, or
    a function that returns None: its best tenth). It also lets the threshold model see every
    A row's best scores as all-pairs scoring would (:func:`impute_best`).
    """
    runner = runner or Runner()
    started = time.perf_counter()
    b, keys_a = _sources(b, keys)
    n_a, n_b = len(a), len(b)
    rng = np.random.default_rng(blocking.seed)
    sample = np.sort(rng.choice(n_a, blocking.sample_size(n_a, n_b), replace=False))
    planning = keys_a is None and (blocking.bands is None or blocking.bits_per_band is None)
    plan_rows = np.sort(rng.choice(n_b, min(n_b, _PLAN_ROWS), replace=False)) if keys_a is None \
        else np.empty(0, np.int64)
    n_lists = keys_a.shape[1] if keys_a is not None else (blocking.bands or blocking.max_bands)
    spans = part_ranges(n_b, part_rows(n_b, lists=n_lists, workers=runner.workers))

    # Pass 1: the sample against all of B, and the B filters the plan needs.
    exact_sum = ScoreMerge(len(sample), threshold=threshold, top_k=top_k)
    got_rows, got_clks = [], []
    job = _SampleJob(threshold, top_k, kernel, plan_rows, runner.threads)
    source = runner.share(b)
    with progress(total=n_b, desc="sampling", quiet=quiet) as bar:
        for start, part, rows, clks in runner.map(_sample_part, spans, runner.share(a[sample]), source, job):
            exact_sum.add(part, start)
            got_rows.append(rows)
            got_clks.append(clks)
            bar.update(part.comparisons // max(len(sample), 1))
    exact = exact_sum.result()
    sampled = time.perf_counter()
    assigned = solve_one_to_one(exact.pairs)
    if keys_a is None and callable(likely_above):
        likely_above = likely_above(assigned, exact.best)
    if likely_above is None or callable(likely_above):
        likely_above = float(np.quantile(exact.best[:, 0], 0.9)) if len(assigned) else 1.0
    likely = assigned.select(assigned.score >= likely_above)
    if keys_a is not None:
        plan = None
        lists = [distinct_buckets(np.ascontiguousarray(k)) for k in keys_a.T]
        chunk_rows = chunk
    else:
        rows = np.concatenate(got_rows) if got_rows else np.empty(0, np.int64)
        order = np.argsort(rows, kind="stable")
        rows, clks = rows[order], np.concatenate(got_clks)[order]
        b_plan = clks[np.searchsorted(rows, plan_rows)]
        if not planning:
            plan = LshPlan(_positions(bit_pool(a, b_plan, seed=blocking.seed), blocking.bands,
                                      blocking.bits_per_band, blocking.seed))
        else:
            plan = plan_lsh(a, b_plan, (a[sample[likely.i]], clks[np.searchsorted(rows, likely.j)]), blocking,
                            n_b=n_b)
        if blocking.method == "auto" and not pays(plan, n_a, n_b):
            return plan  # scoring every pair is cheaper: the caller does
        share = plan.expected_share or 0.0
        part_max = max(e - s for s, e in spans)
        if max_candidates is not None and share * min(chunk, n_a) * part_max > max_candidates:
            raise InputError(
                f"LSH would make about {share * n_a * n_b:,.0f} candidate pairs ({share:.1%} of all pairs), "
                f"more than fit in memory {min(chunk, n_a):,} records at a time: true pairs of this encoding "
                "agree on few more bits than random pairs, so blocking by LSH does not pay; use --blocking none "
                "(or keys)")
        lists = [distinct_buckets(band_signatures(a, pos)) for pos in plan.positions]  # once, not once per part
        # About _CHUNK_CANDIDATES candidates at a time, counting a pair twice when bands share it.
        per_row = max(2.0 * share * part_max, 1.0)
        chunk_rows = int(min(chunk, max(1024, _CHUNK_CANDIDATES // per_row)))

    # Pass 2: each part's candidates, made a chunk of A at a time and scored as they come.
    in_sample = np.zeros(n_a, dtype=bool)
    in_sample[sample] = True
    side = runner.share(_Side(a, lists, in_sample))
    job = _CandidateJob(threshold, top_k, kernel, plan, chunk_rows, n_b, runner.threads)
    cand_sum = ScoreMerge(n_a, threshold=threshold, top_k=top_k)
    codes, stops = [], dict(spans)
    with progress(total=n_b, desc="blocking", quiet=quiet) as bar:
        for start, part, sample_codes in runner.map(_candidate_part, spans, side, source, job):
            cand_sum.add(part, start)
            codes.append(sample_codes)
            bar.update(stops[start] - start)
    cand = cand_sum.result()
    codes = np.sort(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    exact_i = sample[exact.pairs.i]
    exact_found = _found(codes, exact_i * np.int64(n_b) + exact.pairs.j)
    best = cand.best.copy()
    found = best[sample].copy()
    # The sample rows' own pairs and best scores are exact: they replace the candidates' ones.
    keep = ~in_sample[cand.pairs.i]
    pi = np.concatenate([cand.pairs.i[keep], exact_i])
    pj = np.concatenate([cand.pairs.j[keep], exact.pairs.j])
    ps = np.concatenate([cand.pairs.score[keep], exact.pairs.score])
    order = np.lexsort((pj, pi))
    best[sample] = exact.best
    scores = Scores(Pairs(pi[order], pj[order], ps[order]), best, cand.kernel if cand.comparisons else exact.kernel,
                    cand.comparisons + len(sample) * n_b)
    seconds = {"sample": round(sampled - started, 3), "candidates": round(time.perf_counter() - sampled, 3)}
    return Blocked(scores=scores, plan=plan, sample=sample, exact=exact, found=found, exact_found=exact_found,
                   candidates=cand.comparisons, seconds=seconds)


def impute_best(blocked: Blocked, *, seed: int = 0) -> tuple[np.ndarray, float]:
    """Every A row's best two scores as all-pairs scoring would see them, and the level trusted.

    Blocking finds a row's high scores but misses low ones, so the best and runner-up over
    candidates are biased low. On the sample both are known; ``level`` is the lowest score above
    which blocking missed nothing there. A row's score at or above ``level`` is kept; one
    below it is replaced by the exact score of a random sample row that blocking saw alike
    (hot-deck imputation): unbiased when blocking treats rows alike.
    """
    best = blocked.scores.best.copy()
    exact, found = blocked.exact.best[:, :2], blocked.found[:, :2]
    missed = ~np.isclose(exact, found)
    level = float(exact[missed].max()) + 1e-9 if missed.any() else 0.0
    if level <= 0.0 or len(blocked.sample) == len(best):
        return best, level
    others = np.ones(len(best), dtype=bool)
    others[blocked.sample] = False
    x, y = best[:, 0], best[:, 1]
    rng = np.random.default_rng(seed)
    # Rows whose best is below the level: both scores from a donor whose found best was too.
    low_x = others & (x < level)
    donors = np.flatnonzero(found[:, 0] < level)
    if low_x.any() and len(donors):
        d = donors[rng.integers(0, len(donors), int(low_x.sum()))]
        best[low_x, 0], best[low_x, 1] = exact[d, 0], exact[d, 1]
    # Rows whose best is trusted but runner-up is not: the runner-up from a donor alike.
    low_y = others & (x >= level) & (y < level)
    donors = np.flatnonzero((found[:, 0] >= level) & (found[:, 1] < level))
    if not len(donors):
        donors = np.flatnonzero(exact[:, 1] < level)
    if low_y.any() and len(donors):
        d = donors[rng.integers(0, len(donors), int(low_y.sum()))]
        best[low_y, 1] = np.minimum(exact[d, 1], best[low_y, 0])
    best[:, 2:] = np.minimum(best[:, 2:], best[:, 1:2])
    return best, level
