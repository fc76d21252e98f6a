"""Choose the match threshold without labels, and estimate precision and recall there.

The model works on A records, not on links, because the one-to-one assignment distorts link
scores (an unmatched record often loses its best partner to that partner's true match and is
assigned a worse one), while every A record's best scores over all of B are undistorted.

For each A record let ``x`` be its best score and ``y`` its runner-up (``best[:, 0:2]``).

* Unmatched record: ``x`` is its best *non-match* score, N1.
* Matched record: usually ``x`` is the match score M and ``y`` is N1.

Assumptions:

1. N1 has the same distribution ``g`` in matched and unmatched records (how high a record's
   best non-match scores does not depend on whether its match is in B). So the runner-ups of
   matched records are a clean sample of ``g``: ``g`` is estimated from ``y`` weighted by each
   record's probability of being matched. Unmatched records' ``x`` are *not* used for ``g``:
   near the threshold they cannot be told from matches, and using them lets ``g`` swallow the
   low tail of the matches.
2. The match-score density ``m`` is convex and non-decreasing where non-matches live (below
   the 99.9% point of ``g``), and free above it, with exact duplicates (score 1.0) in a bin of
   their own. This shape rules out a match density that mimics ``g``; without it the
   split between ``m`` and ``g`` is not identified.

The histogram of ``x`` over all A records is fitted as ``c * g + m`` (Poisson likelihood,
non-negative convex basis for ``m``), alternating with re-estimating ``g`` from the
runner-ups; ``c`` is the number of unmatched records. This gives each record's probability of
being matched, ``r(x) = m(x) / (m(x) + c g(x))``. Then, for a threshold ``t``:

* expected true links ``TP(t)`` = sum of ``r`` over records with ``x >= t`` (a matched record
  whose match is its best is almost always assigned it), capped at the number of links;
* precision = ``TP(t) / links(>= t)``: false links are counted by subtraction, so the
  assignment's effect on which non-matches get linked needs no model;
* recall = ``TP(t) / sum(r)``: all matched A records, including those whose match scores
  below the floor or was never assigned.

The threshold maximises the estimated F1 on a grid from ``floor`` to 1. The fit itself uses
only ``best``, which has no floor; ``floor`` sets where the grid starts and which links exist,
so it must sit below any sensible threshold.

Limits, as measured on FEBRL4 and on synthetic families:

* Matches that score inside the bulk of the non-matches cannot be told from them; the convex
  shape then puts too few there, so recall tends to be overestimated (by about 0.5% on
  FEBRL4, and up to 1-2% in simulations whose matches have a long left tail). Matches whose
  best score is a non-match look unmatched for the same reason.
* The non-match tail is learnt from the matched records' runner-ups, one sample each, but
  scaled by the number of unmatched records. With ~1,300 matches (2,000 records) the errors
  are about 0.01, occasionally 0.02; when only 30% of A is matched they reach 0.02-0.03 and
  at 10% about 0.05-0.07, as its noise swamps the few matches near the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .score import Pairs

__all__ = ["METHOD", "ThresholdFit", "estimate_threshold"]

METHOD = "em-mixture"
_NB = 200  # score bins of width 1/_NB on [0, 1); bin _NB holds exact 1.0 (duplicates)
_G_TAIL = 0.999  # m is convex non-decreasing up to this quantile of g
_H_BASE = 0.01  # bandwidth for g at 10,000 matched records; scales as n^(-1/5)
_H_MAX = 0.05
_OUTER = 60  # alternations between g and (m, c)
_TOL = 1e-4  # on the per-bin match probability; slow drift below this moves estimates < 1e-4
_GRID_STEP = 0.005
_KNOT_STEP = 2  # ramps start every _KNOT_STEP bins
_FEW = 100  # below this many A records the fit is rough; the method name says so


@dataclass(frozen=True)
class ThresholdFit:
    """The chosen threshold, estimated quality there, and the estimated curve."""

    threshold: float  # chosen score threshold (links with score >= it are 'match')
    precision: float  # estimated precision of links at/above threshold
    recall: float  # estimated recall
    f1: float  # estimated F1
    match_fraction: float  # estimated fraction of assigned links that are true matches
    expected_matches: float  # estimated number of true matches among the assigned links
    method: str  # short name of the method
    curve: pl.DataFrame  # threshold, precision, recall, f1 (estimated) over a grid


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


def _fit_records(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Probability of being matched for each best-score bin, and the expected unmatched count."""
    xb, yb = _bins(x), _bins(y)
    n = _NB + 1
    cells = np.bincount(xb * n + yb, minlength=n * n).reshape(n, n).astype(np.float64)
    hist = cells.sum(axis=1)
    centres = np.minimum((np.arange(n) + 0.5) / _NB, 1.0)
    # start: records well clear of their runner-up count as matched
    gh = (np.clip((centres[:, None] - centres[None, :]) / 0.15, 0.0, 1.0) * cells).sum(axis=0)
    r = np.zeros(n)
    coef = None
    top = -1
    for _ in range(_OUTER):
        neff = max(gh.sum(), 1.0)
        h = min(_H_MAX, _H_BASE * (10000.0 / neff) ** 0.2)
        g = _smooth(gh, h)
        g[_NB] = gh[_NB]
        g = np.maximum(g, 0.0) + 1e-12
        g /= g.sum()
        if top < 0:  # the convex region is set from the first estimate of g, then kept
            top = int(min(np.searchsorted(np.cumsum(g), _G_TAIL), _NB - 1))
            basis = _basis(top)
        design = np.vstack([basis, g])
        coef = _poisson_nonneg(design, hist, coef)
        m = coef[:-1] @ basis
        lam = m + coef[-1] * g
        r_new = np.where(lam > 0, m / np.maximum(lam, 1e-300), 0.0)
        delta = np.abs(r_new - r)[hist > 0].max(initial=0.0)
        r = r_new
        gh = r @ cells
        if delta < _TOL:
            break
    return r, float(coef[-1])


def _grid(floor: float) -> np.ndarray:
    n = int(round((1.0 - floor) / _GRID_STEP)) + 1
    return np.linspace(floor, 1.0, max(n, 2))


def _empty_fit(floor: float, note: str) -> ThresholdFit:
    grid = _grid(floor)
    zeros = np.zeros(len(grid))
    curve = pl.DataFrame({"threshold": grid, "precision": zeros + 1.0, "recall": zeros, "f1": zeros})
    return ThresholdFit(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, f"{METHOD} ({note})", curve)


def estimate_threshold(links: Pairs, best: np.ndarray, *, floor: float) -> ThresholdFit:
    """links: one-to-one assigned pairs (all scores >= floor); best: (n_a, 3) top scores of every A record.

    Returns the threshold that maximises the estimated F1, with estimated precision and recall
    (see the module docstring for the model). With no links, no A records, or no evidence of
    any match (every record's best score tied with its runner-up, say), the threshold is 1.0
    and ``method`` says why; with fewer than 100 A records the fit still runs but is rough,
    and ``method`` says that too.
    """
    if not 0.0 <= floor < 1.0:
        raise ValueError("floor must be in [0, 1)")
    best = np.asarray(best, dtype=np.float64)
    if best.ndim != 2 or best.shape[1] < 2:
        raise ValueError("best must be (n_a, k) with k >= 2: each A record's top scores, descending")
    score = np.asarray(links.score, dtype=np.float64)
    if len(score) == 0:
        return _empty_fit(floor, "no links")
    if len(best) == 0:
        return _empty_fit(floor, "no A records")
    x = np.clip(np.nan_to_num(best[:, 0]), 0.0, 1.0)
    y = np.clip(np.nan_to_num(best[:, 1]), 0.0, 1.0)
    r_bin, _ = _fit_records(x, y)
    xs = np.sort(x)
    cum = np.concatenate([[0.0], np.cumsum(r_bin[_bins(xs)])])  # bins rise with x, so this is sorted too
    total = float(cum[-1])

    grid = _grid(floor)
    tp = total - cum[np.searchsorted(xs, grid, side="left")]
    n_links = len(score) - np.searchsorted(np.sort(score), grid, side="left")
    tp = np.minimum(tp, n_links)
    precision = np.where(n_links > 0, tp / np.maximum(n_links, 1), 1.0)
    recall = tp / total if total > 0 else np.zeros(len(grid))
    f1 = np.where(n_links + total > 0, 2 * tp / np.maximum(n_links + total, 1e-12), 0.0)
    curve = pl.DataFrame({"threshold": grid, "precision": precision, "recall": recall, "f1": f1})

    matched = float(min(total - cum[np.searchsorted(xs, floor, side="left")], len(score)))
    if f1.max() <= 0:
        return ThresholdFit(1.0, 1.0, 0.0, 0.0, matched / len(score), matched, f"{METHOD} (no matches)", curve)
    k = int(np.argmax(f1))
    method = METHOD if len(best) >= _FEW else f"{METHOD} (few records)"
    return ThresholdFit(
        threshold=float(grid[k]),
        precision=float(precision[k]),
        recall=float(recall[k]),
        f1=float(f1[k]),
        match_fraction=matched / len(score),
        expected_matches=matched,
        method=method,
        curve=curve,
    )
