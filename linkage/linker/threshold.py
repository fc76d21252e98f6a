"""Choose the match threshold without labels, estimate precision and recall there, and say how sure.

The model works on A records, not on links, because the one-to-one assignment distorts link
scores, while every A record's best scores over all of B are undistorted. For each A record
let ``x`` be its best score and ``y`` its runner-up.

* Unmatched record: ``x`` is its best *non-match* score, N1.
* Matched record: usually ``x`` is the match score M and ``y`` is N1.

The histogram of ``x`` is a mixture ``c g + K m`` of ``c`` unmatched records whose best score
follows ``g`` (the distribution of N1) and ``K`` matched ones following ``m``.

* ``g`` is learnt where N1 shows: the runner-ups of records believed matched (an unbiased
  sample, if N1 is distributed alike in matched and unmatched records) and, with a weight of
  0.15, the best scores of records believed unmatched (many, but near the threshold some of
  them are matches; at full weight they let ``g`` swallow the low tail of the matches).
* ``m`` is where the two can be confused: relatives (twins and siblings share surname,
  postcode and sometimes date of birth) score as high as matches with a few errors, and at
  low overlap they outnumber them. The histogram of ``x`` alone cannot separate them, so
  ``m`` is given a shape, in one of two ways:

  - *reference*: a :class:`MatchModel` says how the scores of true pairs fall with ``e``
    errors in a pair (learnt per schema on synthetic people with known truth, see
    :mod:`linkage.research.calibrate`, or taken from an earlier run). ``m`` mixes these with
    Poisson weights: the fit learns only how many errors pairs have (data quality), held
    near one per pair by a prior worth 30 matches. The shape then depends on the encoding
    and on data quality, not on the overlap, so it carries over to files that share few people.
  - *flexible*: convex and non-decreasing where non-matches live, free above. It needs many
    matches and, at low overlap, takes relatives for matches.

  The one with the better BIC is used: the flexible one only when the data clearly
  contradict the reference (FEBRL4, whose matches have a longer low tail than synthetic ones).

There is no evidence of matches, and nothing is linked, when the fit expects no match or fewer
than three records score 0.95 or more (with a reference model: the score 30% of matches reach,
lower for encodings with flipped bits): matches always include people recorded alike in both
files, and non-matches do not score that high.

For a threshold ``t``, expected true links ``TP(t)`` is the expected number of matched records
with ``x >= t`` (capped at the links), precision is ``TP(t) / links(>= t)`` and recall
``TP(t) / K``. The threshold maximises the expected F1. The 95% intervals come from a seeded
parametric bootstrap of the estimator's own error (data drawn from the fitted mixture,
refitted, compared with the draw's known truth), plus 0.005 a side for what that cannot see;
so they widen where matches are few or confusable with relatives. A wrong reference shape
is not covered: the flexible model's BIC guards against a clearly wrong one.

Measured against truth on synthetic families (overlap 1% to 65%, sibling-rich, national-size
B, several files with errors on both sides) and FEBRL4: ``benchmarks/quality_report.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import numpy as np
import polars as pl

from .score import Pairs

__all__ = ["BINS", "METHOD", "MatchModel", "ThresholdFit", "default_match_model", "estimate_threshold"]

METHOD = "em-mixture"
BINS = 200  # score bins of width 1/BINS on [0, 1); one more bin holds exact 1.0 (no error at all)
_NB = BINS
_G_TAIL = 0.999  # the flexible m is convex non-decreasing up to this quantile of g
_H_BASE = 0.01  # bandwidth for g at 10,000 records; scales as n^(-1/5)
_H_MAX = 0.05
_OUTER = 60  # alternations between g and m
_TOL = 1e-4  # on the per-bin match probability
_GRID_STEP = 0.005  # thresholds tried: bin edges
_KNOT_STEP = 2
_FEW = 100  # below this many A records the fit is rough; the method says so
_FLOOR_SHARE = 0.01  # share of the reference spread evenly over [_FLOOR_FROM, 1): no score is impossible
_FLOOR_FROM = 0.35
_PRIOR_MATCHES = 30.0  # the prior on errors per pair is worth this many matches
_PRIOR_RATE = 1.0  # errors per pair the prior expects (synthetic families: 0.9; two dirty files: 1.8)
_UNMATCHED_WEIGHT = 0.15  # how much an unmatched record's best score counts towards g, against a runner-up
_MODEL_ERROR = 0.005  # added to each side of an interval: what the bootstrap cannot see
_BOOTSTRAP = 40
_WIDE = 0.05  # an interval wider than this gets a warning
_CENTRES = (np.arange(_NB) + 0.5) / _NB
# Evidence of matches: the fit expects some, and some records score near-exactly. Matches
# include people recorded alike in both files (a good share of them in any real linkage);
# non-matches do not score that high, so without any such record there is nothing to find.
_NEAR_EXACT = 0.95
_HIGH_SHARE = 0.3  # with a model, "near-exact" means the score this share of matches reach
_MIN_EVIDENCE = 3


@dataclass(frozen=True)
class MatchModel:
    """How match scores are distributed for one schema, by number of errors in a pair.

    ``by_errors[e]`` is the score histogram of true pairs with ``e`` errors (``BINS + 1`` bins:
    [0, 1) in steps of ``1 / BINS``, then exactly 1.0). A fit mixes the rows with Poisson
    weights whose mean (errors per pair: data quality) it learns; a model with one row is a
    fixed shape (say, the matches of an earlier run with many). ``fingerprint`` is the
    schema's, ``source`` says where it was learnt, ``pairs`` from how many.
    """

    by_errors: np.ndarray
    fingerprint: str | None = None
    source: str = ""
    pairs: int = 0

    def __post_init__(self) -> None:
        h = np.atleast_2d(np.asarray(self.by_errors, dtype=np.float64))
        ok = h.shape[1:] == (_NB + 1,) and np.all(np.isfinite(h)) and h.min(initial=0) >= 0
        if not ok or not np.all(h.sum(axis=1) > 0):
            raise ValueError(f"a match model needs rows of {_NB + 1} non-negative bins, none empty")
        object.__setattr__(self, "by_errors", h / h.sum(axis=1, keepdims=True))

    @staticmethod
    def histogram(scores: np.ndarray) -> np.ndarray:
        """Counts of scores in the model's bins."""
        return np.bincount(_bins(np.asarray(scores, dtype=np.float64)), minlength=_NB + 1).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"bins": _NB, "fingerprint": self.fingerprint, "source": self.source, "pairs": self.pairs,
                "by_errors": [[round(float(v), 7) for v in row] for row in self.by_errors]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MatchModel:
        if not isinstance(d, dict) or d.get("bins") != _NB or "by_errors" not in d:
            raise ValueError(f"not a match model (needs bins = {_NB} and by_errors)")
        return cls(np.asarray(d["by_errors"], dtype=np.float64), d.get("fingerprint"), d.get("source", ""),
                   int(d.get("pairs", 0)))


def default_match_model(fingerprint: str) -> MatchModel | None:
    """The packaged reference for this schema fingerprint, if one was calibrated."""
    for path in files("linkage.linker").joinpath("data").iterdir():
        if path.name.endswith(".match.json"):
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("fingerprint") == fingerprint:
                return MatchModel.from_dict(d)
    return None


@dataclass(frozen=True)
class ThresholdFit:
    """The chosen threshold, estimated quality there with intervals, and the estimated curve.

    ``threshold`` is None when the scores show no match component (``evidence`` False): then
    nothing should be linked as a match.
    """

    threshold: float | None
    precision: float
    recall: float
    f1: float
    match_fraction: float  # estimated share of assigned links (at or above the floor) that are true
    expected_matches: float  # estimated matched A records
    method: str
    curve: pl.DataFrame  # threshold, precision, recall, f1 (estimated) over a grid
    precision_interval: tuple[float, float] = (0.0, 1.0)
    recall_interval: tuple[float, float] = (0.0, 1.0)
    evidence: bool = True
    model: str = "flexible"  # reference | flexible | null
    warnings: tuple[str, ...] = ()
    match_scores: np.ndarray | None = field(default=None, repr=False)  # fitted m, reusable as a MatchModel

    @property
    def uncertain(self) -> bool:
        """Whether the precision or the recall interval is wider than the width that earns a warning."""
        return _wide(self.precision_interval) or _wide(self.recall_interval)


def _wide(interval: tuple[float, float]) -> bool:
    """An interval too wide to stand behind: it earns a warning, and a pair of files borrows a threshold."""
    return interval[1] - interval[0] > _WIDE


def _bins(v: np.ndarray) -> np.ndarray:
    """Bin index of each score: ``_NB`` bins on [0, 1), and bin ``_NB`` for exactly 1.0."""
    return np.where(v >= 1.0, _NB, np.minimum((v * _NB).astype(np.int64), _NB - 1))


def _smooth(v: np.ndarray, h: float) -> np.ndarray:
    """Gaussian smoothing (bandwidth ``h``) of a histogram's continuous bins, reflected at both ends."""
    step = 1.0 / _NB
    half = min(max(1, int(np.ceil(4 * h / step))), _NB - 1)
    k = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)
    k /= k.sum()
    body = v[:_NB]
    padded = np.concatenate([body[half:0:-1], body, body[-2 : -half - 2 : -1]])
    out = v.astype(np.float64).copy()
    out[:_NB] = np.convolve(padded, k, mode="valid")
    return out


def _density(gh: np.ndarray, n_records: float) -> np.ndarray:
    """A smoothed, normalised density over the bins from weighted counts."""
    neff = max(gh.sum(), 1.0)
    h = min(_H_MAX, _H_BASE * (10000.0 / min(neff, n_records)) ** 0.2)
    g = _smooth(gh, h)
    g[_NB] = gh[_NB]
    g = np.maximum(g, 0.0) + 1e-12
    return g / g.sum()


def _loglik(hist: np.ndarray, lam: np.ndarray) -> float:
    pos = hist > 0
    return float(np.sum(hist[pos] * np.log(np.maximum(lam[pos], 1e-300))) - lam.sum())


def _basis(top: int) -> np.ndarray:
    """Rows: convex non-decreasing ramps ending at bin ``top``, then one row per bin above it."""
    n = _NB + 1
    idx = np.arange(n)
    starts = np.arange(0, top + 1, _KNOT_STEP)
    ramps = np.maximum(idx[None, :] - starts[:, None] + 1, 0).astype(np.float64)
    ramps[:, top + 1 :] = 0.0
    ramps /= ramps.sum(axis=1, keepdims=True)
    free = np.eye(n)[top + 1 :]
    return np.vstack([ramps, free])


def _poisson_nonneg(design: np.ndarray, counts: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Maximise the Poisson likelihood of ``counts`` with means ``coef @ design``, ``coef >= 0``.

    Damped, projected Newton steps on the free coefficients; the problem is concave, so any
    start converges to the same fitted means.
    """
    q = design.shape[0]
    mass = design.sum(axis=1)
    pos = counts > 0
    coef = np.full(q, max(counts.sum(), 1.0) / q) if start is None else np.maximum(start, 0.0) + 1e-9

    def loglik(a: np.ndarray) -> float:
        lam = a @ design
        if np.any(lam[pos] <= 0):
            return -np.inf
        return float(np.sum(counts[pos] * np.log(lam[pos])) - lam.sum())

    f = loglik(coef)
    damp = 1e-6
    for _ in range(200):
        lam = np.maximum(coef @ design, 1e-300)
        w = np.where(pos, counts / lam, 0.0)
        grad = design @ w - mass
        free = (coef > 0) | (grad > 0)
        df = design[free]
        hess = (df * (w / lam)) @ df.T
        diag = np.diag(hess).copy() + 1e-12
        for tries in range(30):
            step = np.zeros(q)
            step[free] = np.linalg.solve(hess + np.diag(damp * diag + 1e-12), grad[free])
            if tries == 0 and grad[free] @ step[free] < 1e-8 * max(1.0, abs(f)):
                return coef  # the Newton step predicts nothing left to gain
            trial = np.maximum(coef + step, 0.0)
            ft = loglik(trial)
            if ft > f:
                damp = max(damp / 10, 1e-12)
                break
            damp *= 10
        else:
            break
        coef, f = trial, ft
    return coef


@dataclass
class _Fit:
    """One fitted mixture: per-bin match probability, fitted means, and what it cost."""

    kind: str
    r: np.ndarray
    m: np.ndarray  # expected matched records per bin
    c: float
    loglik: float
    params: int
    state: Any = None  # what a refit on resampled data starts from

    @property
    def matches(self) -> float:
        return float(self.m.sum())

    def bic(self, n: int) -> float:
        return -2.0 * self.loglik + self.params * np.log(max(n, 2))


def _start_g(cells: np.ndarray) -> np.ndarray:
    """First guess: records well clear of their runner-up count as matched (their runner-up is N1)."""
    centres = np.minimum((np.arange(_NB + 1) + 0.5) / _NB, 1.0)
    weight = np.clip((centres[:, None] - centres[None, :]) / 0.15, 0.0, 1.0)
    return (weight * cells).sum(axis=0) + _UNMATCHED_WEIGHT * ((1.0 - weight) * cells).sum(axis=1)


def _fit_flexible(cells: np.ndarray, start: Any = None) -> _Fit:
    hist = cells.sum(axis=1)
    n = hist.sum()
    gh, coef, top = (_start_g(cells), None, -1) if start is None else start
    r = np.zeros(_NB + 1)
    for _ in range(_OUTER):
        g = _density(gh, n)
        if top < 0:  # the convex region is set from the first estimate of g, then kept
            top = int(min(np.searchsorted(np.cumsum(g), _G_TAIL), _NB - 1))
        basis = _basis(top)
        coef = _poisson_nonneg(np.vstack([basis, g]), hist, coef)
        m = coef[:-1] @ basis
        lam = m + coef[-1] * g
        r_new = np.where(lam > 0, m / np.maximum(lam, 1e-300), 0.0)
        delta = np.abs(r_new - r)[hist > 0].max(initial=0.0)
        r = r_new
        gh = r @ cells + _UNMATCHED_WEIGHT * (1.0 - r) * hist
        if delta < _TOL:
            break
    params = int((coef[:-1] > 1e-9).sum()) + 1
    return _Fit("flexible", r, m, float(coef[-1]), _loglik(hist, lam), params, (gh, coef, top))


def _poisson_weights(rate: float, rows: int) -> np.ndarray:
    """Poisson(rate) probabilities of 0 .. rows - 1 errors, the tail lumped into the last."""
    if rows == 1:
        return np.ones(1)
    e = np.arange(rows - 1)
    log_p = -rate + e * np.log(max(rate, 1e-12)) - np.cumsum(np.log(np.maximum(e, 1)))
    p = np.exp(log_p)
    return np.append(p, max(1.0 - p.sum(), 0.0))


def _reference_shapes(ref: MatchModel) -> np.ndarray:
    """The model's rows with a little mass spread over plausible scores: no score is impossible."""
    even = np.append((_CENTRES >= _FLOOR_FROM).astype(np.float64), 0.0)
    return (1.0 - _FLOOR_SHARE) * ref.by_errors + _FLOOR_SHARE * even / even.sum()


_RATES = np.exp(np.linspace(np.log(0.02), np.log(8.0), 121))


def _fit_rate(shapes: np.ndarray, counts: np.ndarray, rate: float, *, search: bool = True) -> float:
    """The errors-per-pair rate that best explains the matches' score counts.

    A grid search first (``search``), then golden-section refinement in log space near it.
    """
    if len(shapes) == 1:
        return rate
    pos = counts > 0

    def loglik(r: float) -> float:
        return float(counts[pos] @ np.log(np.maximum(_poisson_weights(r, len(shapes)) @ shapes[:, pos], 1e-300)))

    best = max(_RATES, key=loglik) if search else rate
    lo, hi = best / (1.05 if search else 1.25), best * (1.05 if search else 1.25)
    for _ in range(20 if search else 14):
        a, b = np.log(lo), np.log(hi)
        m1, m2 = np.exp(b - 0.618 * (b - a)), np.exp(a + 0.618 * (b - a))
        if loglik(m1) < loglik(m2):
            lo = m1
        else:
            hi = m2
    return float(np.sqrt(lo * hi))


def _fit_reference(cells: np.ndarray, ref: MatchModel, start: Any = None) -> _Fit:
    hist = cells.sum(axis=1)
    n = float(hist.sum())
    shapes = _reference_shapes(ref)
    prior = _PRIOR_MATCHES * (_poisson_weights(_PRIOR_RATE, len(shapes)) @ shapes)
    gh, k, rate = (_start_g(cells), 0.5 * n, _PRIOR_RATE) if start is None else start
    r = np.zeros(_NB + 1)
    for _ in range(_OUTER):
        g = _density(gh, n)
        for _inner in range(100):  # EM for the number of matches and their error rate, g held
            shape = _poisson_weights(rate, len(shapes)) @ shapes
            lam = k * shape + (n - k) * g
            rh = np.where(lam > 0, k * shape / np.maximum(lam, 1e-300), 0.0) * hist
            k_new = float(rh.sum())
            rate = _fit_rate(shapes, rh + prior, rate, search=start is None and _inner == 0 and _ == 0)
            done = abs(k_new - k) < 1e-4 * max(n, 1.0)
            k = k_new
            if done:
                break
        m = k * (_poisson_weights(rate, len(shapes)) @ shapes)
        lam = m + (n - k) * g
        r_new = np.where(lam > 0, m / np.maximum(lam, 1e-300), 0.0)
        delta = np.abs(r_new - r)[hist > 0].max(initial=0.0)
        r = r_new
        gh = r @ cells + _UNMATCHED_WEIGHT * (1.0 - r) * hist
        if delta < _TOL:
            break
    return _Fit("reference", r, m, n - k, _loglik(hist, lam), 2, (gh, k, rate))


def _high_score(model: MatchModel | None) -> float:
    """A score that a good share of true pairs reach: 0.95, or lower where the model says matches score lower.

    With a reference model (a hardened encoding, say, whose bit flips lower every score), it is
    the score that ``_HIGH_SHARE`` of matches reach at the prior's errors per pair.
    """
    if model is None:
        return _NEAR_EXACT
    shape = _poisson_weights(_PRIOR_RATE, len(model.by_errors)) @ model.by_errors
    above = np.cumsum(shape[::-1])[::-1]  # share of matches scoring in or above each bin
    edge = int(np.flatnonzero(above >= _HIGH_SHARE)[-1])
    return min(_NEAR_EXACT, edge / _NB)


def _refit(kind: str, cells: np.ndarray, ref: MatchModel | None, start: Any) -> _Fit:
    if kind == "reference":
        return _fit_reference(cells, ref, start)
    return _fit_flexible(cells, start)


def _quality(fit: _Fit, hist: np.ndarray, sorted_scores: np.ndarray, grid: np.ndarray):
    """Expected true links, precision, recall and F1 at each threshold of the grid (bin edges)."""
    tp_bins = fit.r * hist
    above = np.concatenate([np.cumsum(tp_bins[::-1])[::-1], [0.0]])
    edge = np.minimum(np.round(grid * _NB).astype(np.int64), _NB)
    total = float(tp_bins.sum())
    n_links = len(sorted_scores) - np.searchsorted(sorted_scores, grid, side="left")
    tp = np.minimum(above[edge], n_links)
    precision = np.where(n_links > 0, tp / np.maximum(n_links, 1), 1.0)
    recall = np.minimum(tp / total, 1.0) if total > 0 else np.zeros(len(grid))
    f1 = np.minimum(np.where(n_links + total > 0, 2 * tp / np.maximum(n_links + total, 1e-12), 0.0), 1.0)
    return tp, np.minimum(precision, 1.0), recall, f1, total


def _grid(floor: float) -> np.ndarray:
    lo = int(np.ceil(floor * _NB - 1e-9))
    return np.arange(lo, _NB + 1) / _NB


def _empty_fit(floor: float, note: str, *, evidence: bool = True) -> ThresholdFit:
    grid = _grid(floor)
    zeros = np.zeros(len(grid))
    curve = pl.DataFrame({"threshold": grid, "precision": zeros + 1.0, "recall": zeros, "f1": zeros})
    return ThresholdFit(None, 1.0, 0.0, 0.0, 0.0, 0.0, f"{METHOD} ({note})", curve, (1.0, 1.0), (0.0, 0.0),
                        evidence=evidence, model="null")


def _intervals(fit: _Fit, cells: np.ndarray, model: MatchModel | None, t: float, precision: float,
               recall: float, seed: int, reps: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """95% intervals from a parametric bootstrap of the estimator's own error at threshold ``t``.

    Each replicate draws data from the fitted mixture (matched records' scores from ``m`` and
    their runner-ups from the matched records' runner-ups; unmatched records from the records
    believed unmatched), refits, and compares the estimate with the replicate's known truth.
    So the intervals widen where matches are few or confusable with relatives.
    """
    n = int(round(cells.sum()))
    if reps <= 0 or n == 0:
        return (precision, precision), (recall, recall)
    rng = np.random.default_rng(seed)
    unmatched = ((1.0 - fit.r)[:, None] * cells).ravel()
    runner_up = (fit.r[:, None] * cells).sum(axis=0)
    shape = fit.m / max(fit.m.sum(), 1e-300)
    matched = np.outer(shape, runner_up / max(runner_up.sum(), 1e-300)).ravel()
    edge = min(int(round(t * _NB)), _NB)
    share = min(fit.matches / n, 1.0)
    err_p, err_r = [], []
    for _ in range(reps):
        k = int(rng.binomial(n, share))
        true_m = rng.multinomial(k, matched / matched.sum()).reshape(cells.shape) if k else np.zeros(cells.shape)
        rest = rng.multinomial(n - k, unmatched / unmatched.sum()).reshape(cells.shape) if n > k else 0.0
        sim = (true_m + rest).astype(np.float64)
        again = _refit(fit.kind, sim, model, fit.state)
        hist = sim.sum(axis=1)
        above = hist[edge:].sum()
        tp_true = true_m.sum(axis=1)[edge:].sum()
        tp_est = min(float((again.r * hist)[edge:].sum()), above)
        k_est = float((again.r * hist).sum())
        if above > 0:
            err_p.append(tp_est / above - tp_true / above)
        if k > 0 and k_est > 0:
            err_r.append(tp_est / k_est - tp_true / k)

    def interval(point: float, errors: list[float]) -> tuple[float, float]:
        if not errors:
            return point, point
        hi_err, lo_err = np.percentile(errors, [97.5, 2.5])
        lo, hi = point - hi_err - _MODEL_ERROR, point - lo_err + _MODEL_ERROR
        return float(np.clip(lo, 0.0, point)), float(np.clip(hi, point, 1.0))

    return interval(precision, err_p), interval(recall, err_r)


def estimate_threshold(
    links: Pairs,
    best: np.ndarray,
    *,
    floor: float,
    model: MatchModel | None = None,
    seed: int = 0,
    bootstrap: int = _BOOTSTRAP,
) -> ThresholdFit:
    """Threshold, estimated precision and recall with intervals, from scores alone (no labels).

    ``links``: the one-to-one assigned pairs (scores >= ``floor``); ``best``: ``(n_a, k >= 2)``
    top scores of every A record over all of B, descending. ``model``: a reference match-score
    distribution for the schema (see the module docstring); without one only the flexible and
    null models are tried, and at low overlap the estimates are optimistic (a warning says
    so). ``bootstrap`` refits on resampled records for the intervals (seeded by ``seed``).
    When the scores show no match component the threshold is None and ``evidence`` False.
    """
    if not 0.0 <= floor < 1.0:
        raise ValueError("floor must be in [0, 1)")
    best = np.asarray(best, dtype=np.float64)
    if best.ndim != 2 or best.shape[1] < 2:
        raise ValueError("best must be (n_a, k) with k >= 2: each A record's top scores, descending")
    if len(best) == 0:
        return _empty_fit(floor, "no A records", evidence=False)
    x = np.clip(np.nan_to_num(best[:, 0]), 0.0, 1.0)
    y = np.clip(np.nan_to_num(best[:, 1]), 0.0, 1.0)
    n = len(x)
    cells = np.bincount(_bins(x) * (_NB + 1) + _bins(y), minlength=(_NB + 1) ** 2)
    cells = cells.reshape(_NB + 1, _NB + 1).astype(np.float64)
    hist = cells.sum(axis=1)

    fits = [_fit_flexible(cells)]
    if model is not None:
        fits.append(_fit_reference(cells, model))
    fit = min(fits, key=lambda f: f.bic(n))
    few = " (few records)" if n < _FEW else ""
    near_exact = int((x >= _high_score(model)).sum())
    if fit.matches < 1.0 or near_exact < _MIN_EVIDENCE:
        out = _empty_fit(floor, f"no evidence of matches{few}", evidence=False)
        return ThresholdFit(**{**out.__dict__, "expected_matches": float(np.clip(fit.matches, 0.0, n))})

    score = np.sort(np.asarray(links.score, dtype=np.float64))
    grid = _grid(floor)
    tp, precision, recall, f1, total = _quality(fit, hist, score, grid)
    k = int(np.argmax(f1))
    t = float(grid[k])
    at_floor = float(min(tp[0], len(score)))

    p_int, r_int = _intervals(fit, cells, model, t, float(precision[k]), float(recall[k]), seed, bootstrap)

    warnings = []
    if fit.kind == "flexible" and model is None and total < 0.3 * n:
        warnings.append("no reference match-score model for this schema: at low overlap the estimates may be "
                        "optimistic (relatives can pass for matches); calibrate one with `linkage calibrate`")
    if _wide(p_int) or _wide(r_int):
        warnings.append(f"few matches to learn from (about {total:,.0f}): precision could be "
                        f"{p_int[0]:.2f}-{p_int[1]:.2f} and recall {r_int[0]:.2f}-{r_int[1]:.2f}; "
                        "check a clerical sample of the links")
    curve = pl.DataFrame({"threshold": grid, "precision": precision, "recall": recall, "f1": f1})
    return ThresholdFit(
        threshold=t,
        precision=float(precision[k]),
        recall=float(recall[k]),
        f1=float(f1[k]),
        match_fraction=at_floor / len(score) if len(score) else 0.0,
        expected_matches=total,
        method=f"{METHOD}, {fit.kind} match scores{few}",
        curve=curve,
        precision_interval=p_int,
        recall_interval=r_int,
        evidence=True,
        model=fit.kind,
        warnings=tuple(warnings),
        match_scores=fit.m / max(fit.m.sum(), 1e-300),
    )
