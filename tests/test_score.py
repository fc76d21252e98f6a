import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.compiled import available
from linkage.format.encoded import popcounts
from linkage.linker import dice_pairs
from linkage.linker.score import dice_reference

KERNELS = ["numpy", "numba"] if available() else ["numpy"]


def random_filters(rng, n, nbytes, fill):
    return np.packbits(rng.random((n, nbytes * 8)) < fill, axis=1)


def test_dice_reference_small_example():
    a = np.packbits(np.array([[1, 1, 0, 0, 0, 0, 0, 0], [0] * 8], dtype=bool), axis=1)
    b = np.packbits(np.array([[1, 0, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]], dtype=bool), axis=1)
    assert dice_reference(a, b).tolist() == [[0.5, 1.0], [0.0, 0.0]]
    assert popcounts(a).tolist() == [2, 0]


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=25, deadline=None)
@given(
    na=st.integers(0, 70), nb=st.integers(0, 90), nbytes=st.sampled_from([1, 7, 8, 25, 64, 128, 131]),
    fill=st.floats(0.0, 0.9), threshold=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1),
)
def test_kernels_equal_the_reference(kernel, na, nb, nbytes, fill, threshold, seed):
    rng = np.random.default_rng(seed)
    a = random_filters(rng, na, nbytes, fill)
    b = np.concatenate([a[: nb // 3], random_filters(rng, nb - min(nb // 3, na), nbytes, fill)])[:nb]
    got = dice_pairs(a, b, threshold=threshold, kernel=kernel)
    ref = dice_reference(a, b)
    ii, jj = np.nonzero(ref >= threshold)
    assert got.pairs.i.tolist() == ii.tolist() and got.pairs.j.tolist() == jj.tolist()
    assert np.array_equal(got.pairs.score, ref[ii, jj])  # exactly equal, not approximately
    k = got.best.shape[1]
    top = np.zeros((na, k))
    if nb:
        srt = -np.sort(-ref, axis=1)[:, :k]
        top[:, : srt.shape[1]] = srt
    assert np.array_equal(got.best, top)
    assert got.kernel == kernel and got.comparisons == na * nb


def test_kernels_agree_across_tiles():
    rng = np.random.default_rng(5)
    a, b = random_filters(rng, 2500, 128, 0.3), random_filters(rng, 4500, 128, 0.3)
    results = [dice_pairs(a, b, threshold=0.45, kernel=k) for k in KERNELS]
    for r in results[1:]:
        assert np.array_equal(r.pairs.i, results[0].pairs.i) and np.array_equal(r.pairs.score, results[0].pairs.score)
        assert np.array_equal(r.best, results[0].best)


def test_auto_kernel_reports_what_runs():
    rng = np.random.default_rng(0)
    a = random_filters(rng, 3, 16, 0.3)
    assert dice_pairs(a, a, threshold=0.5).kernel == ("numba" if available() else "numpy")
    with pytest.raises(ValueError):
        dice_pairs(a, a, threshold=0.5, kernel="gpu")


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=25, deadline=None)
@given(
    na=st.integers(1, 60), nb=st.integers(1, 80), nbytes=st.sampled_from([1, 8, 25, 128]),
    top_k=st.integers(1, 6), threshold=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1),
)
def test_top_k_keeps_each_rows_best_pairs(kernel, na, nb, nbytes, top_k, threshold, seed):
    rng = np.random.default_rng(seed)
    a = random_filters(rng, na, nbytes, 0.4)
    b = np.concatenate([a[: nb // 2], random_filters(rng, nb, nbytes, 0.4)])[:nb]  # duplicates: ties
    got = dice_pairs(a, b, threshold=threshold, top_k=top_k, kernel=kernel)
    ref = dice_reference(a, b)
    want = []
    for i in range(na):
        order = sorted(range(nb), key=lambda j: (-ref[i, j], j))[:top_k]  # ties: lower B row first
        want += [(i, j, ref[i, j]) for j in order if ref[i, j] >= threshold]
    assert list(zip(got.pairs.i.tolist(), got.pairs.j.tolist(), got.pairs.score.tolist())) == sorted(want)
