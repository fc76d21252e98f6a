"""Unsupervised threshold: estimates against known truth on simulated scores, edge cases, determinism."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.linker.score import Pairs
from linkage.linker.threshold import METHOD, ThresholdFit, estimate_threshold

FLOOR = 0.4


def simulate(n: int, match: float, *, seed: int = 1, p_best: float = 0.3, p_second: float = 0.5):
    """Scores from a known mixture, built the way the model assumes they arise.

    Each A record has a level (how high its non-matches score, as with common names) and 12
    non-match scores around it; a matched record also has a match score: 1.0 for 40% (exact
    duplicates), else 1 - Gamma(2, 0.06), whose left tail reaches into the non-matches. A matched
    record is linked to its match; an unmatched one to its best non-match with probability
    ``p_best``, its second with ``p_second``, else not at all (as when B runs out).
    Returns links, best (top 3), whether each link is true, and the number of matched records.
    """
    rng = np.random.default_rng(seed)
    level = rng.normal(0.5, 0.035, n)
    non = np.sort(level[:, None] + 0.035 * rng.standard_normal((n, 12)), axis=1)[:, ::-1][:, :3]
    matched = rng.random(n) < match
    score = np.clip(np.where(rng.random(n) < 0.4, 1.0, 1.0 - rng.gamma(2.0, 0.06, n)), 0.0, 1.0)
    every = np.concatenate([np.where(matched, score, -1.0)[:, None], non], axis=1)
    best = np.clip(-np.sort(-every, axis=1)[:, :3], 0.0, 1.0)
    u = rng.random(n)
    s = np.where(matched, score, np.where(u < p_best, non[:, 0], np.where(u < p_best + p_second, non[:, 1], -1.0)))
    keep = s >= FLOOR
    rows = np.flatnonzero(keep)
    return Pairs(rows, rows, s[keep]), best, matched[keep], int(matched.sum())


def truth_at(links: Pairs, is_true: np.ndarray, n_true: int, t: float) -> tuple[float, float, float]:
    above = links.score >= t
    tp = int(np.sum(is_true & above))
    n = int(above.sum())
    return (tp / n if n else 1.0), tp / n_true, 2 * tp / (n + n_true)


def best_possible_f1(links: Pairs, is_true: np.ndarray, n_true: int) -> float:
    return max(truth_at(links, is_true, n_true, t)[2] for t in np.linspace(FLOOR, 1.0, 121))


@pytest.mark.parametrize(
    ("match", "p_best", "tol"),
    [(0.6, 0.3, 0.015), (0.6, 0.05, 0.015), (0.6, 0.9, 0.015), (0.3, 0.3, 0.025), (1.0, 0.3, 0.01)],
)
def test_estimates_match_the_truth_of_a_known_mixture(match, p_best, tol):
    links, best, is_true, n_true = simulate(20000, match, p_best=p_best, p_second=min(0.5, 1 - p_best))
    fit = estimate_threshold(links, best, floor=FLOOR)
    p, r, f1 = truth_at(links, is_true, n_true, fit.threshold)
    assert abs(fit.precision - p) <= tol and abs(fit.recall - r) <= tol
    assert f1 >= best_possible_f1(links, is_true, n_true) - 0.005
    assert fit.method.startswith(METHOD) and fit.model == "flexible" and fit.evidence
    lo, hi = fit.precision_interval
    assert lo <= fit.precision <= hi and hi - lo < 0.1


def test_expected_matches_and_match_fraction():
    links, best, is_true, _ = simulate(20000, 0.6)
    fit = estimate_threshold(links, best, floor=FLOOR)
    assert fit.expected_matches == pytest.approx(is_true.sum(), rel=0.02)
    assert fit.match_fraction == pytest.approx(is_true.mean(), abs=0.02)
    assert fit.match_fraction == pytest.approx(fit.expected_matches / len(links))


def test_all_links_true_matches_gives_a_low_threshold_and_near_perfect_estimates():
    links, best, is_true, _ = simulate(5000, 1.0)
    fit = estimate_threshold(links, best, floor=FLOOR)
    assert is_true.all()
    assert fit.precision > 0.99 and fit.recall > 0.99
    assert fit.threshold < 0.6


def test_few_matches_still_gives_a_usable_fit():
    links, best, is_true, n_true = simulate(20000, 0.05)
    fit = estimate_threshold(links, best, floor=FLOOR)
    p, _, f1 = truth_at(links, is_true, n_true, fit.threshold)
    assert FLOOR <= fit.threshold <= 1.0
    assert f1 > 0.9
    assert abs(fit.precision - p) <= 0.05


def test_curve_covers_the_grid_and_is_consistent():
    links, best, *_ = simulate(5000, 0.6)
    fit = estimate_threshold(links, best, floor=FLOOR)
    c = fit.curve
    assert c.columns == ["threshold", "precision", "recall", "f1"]
    t = c["threshold"].to_numpy()
    assert t[0] == pytest.approx(FLOOR) and t[-1] == pytest.approx(1.0) and 100 <= len(t) <= 201
    assert np.all(np.diff(t) > 0)
    for col in ("precision", "recall", "f1"):
        v = c[col].to_numpy()
        assert np.all((v >= 0) & (v <= 1))
    assert np.all(np.diff(c["recall"].to_numpy()) <= 1e-12)  # fewer links kept, fewer found
    row = c.filter(pl.col("threshold") == fit.threshold)
    assert row["f1"].item() == pytest.approx(fit.f1) == c["f1"].max()
    assert row["precision"].item() == pytest.approx(fit.precision)


def test_deterministic():
    links, best, *_ = simulate(5000, 0.6, seed=3)
    a = estimate_threshold(links, best, floor=FLOOR)
    b = estimate_threshold(Pairs(links.i.copy(), links.j.copy(), links.score.copy()), best.copy(), floor=FLOOR)
    assert (a.threshold, a.precision, a.recall, a.f1, a.expected_matches) == (
        b.threshold, b.precision, b.recall, b.f1, b.expected_matches)
    assert a.curve.equals(b.curve)


def test_no_evidence_links_nothing_and_says_so():
    for best in (np.zeros((10, 3)), np.zeros((0, 3)), np.full((300, 3), 0.8)):
        i = np.arange(len(best))
        fit = estimate_threshold(Pairs(i, i, best[:, 0].copy()), best, floor=FLOOR)
        assert isinstance(fit, ThresholdFit)
        assert fit.threshold is None and not fit.evidence and fit.recall == 0
        assert "no evidence of matches" in fit.method or "no A records" in fit.method
        assert fit.curve.columns == ["threshold", "precision", "recall", "f1"] and fit.curve.height > 0


def test_matches_need_some_near_exact_scores():
    # Every record well clear of its runner-up, but none scores near-exactly: relatives, say.
    i = np.arange(300)
    best = np.tile([0.8, 0.5, 0.45], (300, 1))
    assert not estimate_threshold(Pairs(i, i, np.full(300, 0.8)), best, floor=FLOOR).evidence
    best[:, 0] = 0.97
    fit = estimate_threshold(Pairs(i, i, np.full(300, 0.97)), best, floor=FLOOR)
    assert fit.evidence and fit.threshold <= 0.97
    assert fit.precision == pytest.approx(1.0) and fit.recall == pytest.approx(1.0, abs=1e-3)


def test_a_handful_of_links():
    best = np.array([[1.0, 0.5, 0.4], [0.97, 0.52, 0.5], [0.96, 0.6, 0.5], [0.55, 0.5, 0.49], [0.45, 0.44, 0.4]])
    i = np.arange(5)
    fit = estimate_threshold(Pairs(i, i, best[:, 0].copy()), best, floor=FLOOR)
    assert FLOOR <= fit.threshold <= 1.0
    assert all(0 <= v <= 1 for v in (fit.precision, fit.recall, fit.f1, fit.match_fraction))
    assert 0 <= fit.expected_matches <= 5
    assert "few records" in fit.method


def test_exact_duplicates_only():
    i = np.arange(300)
    best = np.tile([1.0, 0.55, 0.5], (300, 1))
    fit = estimate_threshold(Pairs(i, i, np.ones(300)), best, floor=FLOOR)
    assert fit.precision == pytest.approx(1.0) and fit.recall == pytest.approx(1.0)


def test_rejects_bad_input():
    links = Pairs(np.array([0]), np.array([0]), np.array([0.5]))
    with pytest.raises(ValueError):
        estimate_threshold(links, np.zeros(5), floor=FLOOR)
    with pytest.raises(ValueError):
        estimate_threshold(links, np.zeros((5, 1)), floor=FLOOR)
    with pytest.raises(ValueError):
        estimate_threshold(links, np.zeros((5, 3)), floor=1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=60),
       st.floats(0.0, 0.9))
def test_any_input_gives_a_valid_fit(rows, floor):
    best = -np.sort(-np.array(rows, dtype=np.float64), axis=1)
    keep = np.flatnonzero(best[:, 0] >= floor)
    fit = estimate_threshold(Pairs(keep, keep, best[keep, 0]), best, floor=floor, bootstrap=5)
    assert fit.threshold is None or floor - 1e-12 <= fit.threshold <= 1.0
    for v in (fit.precision, fit.recall, fit.f1, fit.match_fraction):
        assert 0.0 <= v <= 1.0
    assert 0.0 <= fit.expected_matches <= len(best)
    assert fit.precision_interval[0] <= fit.precision <= fit.precision_interval[1]
    assert fit.curve.select(pl.all().is_nan().any()).row(0) == (False, False, False, False)
