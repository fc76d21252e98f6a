import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.linker import solve_one_to_one
from linkage.linker.score import Pairs
from linkage.linker.solve import band_labels


def greedy_by_hand(i, j, s):
    """Pairs one by one in (score desc, i, j) order, kept when both rows are free."""
    used_i, used_j, out = set(), set(), []
    for k in sorted(range(len(s)), key=lambda k: (-s[k], i[k], j[k])):
        if i[k] not in used_i and j[k] not in used_j:
            used_i.add(i[k])
            used_j.add(j[k])
            out.append((i[k], j[k], s[k]))
    return out


def test_greedy_example_with_ties():
    p = Pairs(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 1]), np.array([0.9, 0.8, 0.9, 0.7, 0.8]))
    got = solve_one_to_one(p)
    # (0,0) and (1,0) tie at 0.9: the lower A row wins; then (2,1) at 0.8 beats (0,1), (1,1).
    assert list(zip(got.i.tolist(), got.j.tolist(), got.score.tolist())) == [(0, 0, 0.9), (2, 1, 0.8)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])),
                max_size=80, unique_by=lambda t: (t[0], t[1])))
def test_vectorised_greedy_equals_one_by_one(triples):
    i = np.array([t[0] for t in triples], dtype=np.int64)
    j = np.array([t[1] for t in triples], dtype=np.int64)
    s = np.array([t[2] for t in triples], dtype=np.float64)
    got = solve_one_to_one(Pairs(i, j, s))
    assert sorted(zip(got.i.tolist(), got.j.tolist(), got.score.tolist())) == sorted(greedy_by_hand(i, j, s))
    assert len(set(got.i.tolist())) == len(got) == len(set(got.j.tolist()))


def test_bands():
    got = band_labels(np.array([0.95, 0.8, 0.79, 0.75, 0.7]), threshold=0.8, review_width=0.05)
    assert got.tolist() == ["match", "match", "possible", "possible", "below"]


def test_band_edges_are_exact_despite_float_subtraction():
    # 0.8 - 0.1 == 0.7000000000000001 in floating point; a score of exactly 0.7 is still 'possible'.
    got = band_labels(np.array([0.8, 0.7, 0.6999]), threshold=0.8, review_width=0.1)
    assert got.tolist() == ["match", "possible", "below"]
