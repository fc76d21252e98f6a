"""Blocking at the linkage unit: LSH candidates, their scores, the plan, and links made from them."""

import json

import numpy as np
import polars as pl
import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import linkage as lk
from linkage.compiled import available
from linkage.linker.block import (
    Blocked,
    Blocking,
    LshPlan,
    band_signatures,
    bit_pool,
    blocked_scores,
    impute_best,
    lsh_candidates,
    pays,
    plan_lsh,
)
from linkage.linker.score import Pairs, Scores, candidate_scores, dice_pairs, dice_reference
from linkage.linker.solve import solve_one_to_one

KERNELS = ["numpy", "numba"] if available() else ["numpy"]


def random_filters(rng, n, nbytes, fill):
    return np.packbits(rng.random((n, nbytes * 8)) < fill, axis=1)


def test_band_signatures_pack_the_sampled_bits():
    rng = np.random.default_rng(0)
    clks = random_filters(rng, 50, 16, 0.4)
    pos = np.array([3, 17, 64, 127, 100])
    bits = np.unpackbits(clks, axis=1)[:, pos]
    sig = band_signatures(clks, pos)
    # Equal signatures exactly when the sampled bits are equal.
    same_bits = (bits[:, None, :] == bits[None, :, :]).all(axis=2)
    assert np.array_equal(sig[:, None] == sig[None, :], same_bits)


@settings(max_examples=20, deadline=None)
@given(na=st.integers(1, 60), nb=st.integers(1, 60), k=st.integers(1, 12), bands=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1))
def test_lsh_candidates_are_exactly_the_pairs_sharing_a_band(na, nb, k, bands, seed):
    rng = np.random.default_rng(seed)
    a, b = random_filters(rng, na, 4, 0.5), random_filters(rng, nb, 4, 0.5)
    b[: min(na, nb) // 2] = a[: min(na, nb) // 2]
    positions = np.stack([np.sort(rng.choice(32, k, replace=False)) for _ in range(bands)])
    ci, cj = lsh_candidates(a, b, LshPlan(positions), chunk=7)
    bits_a, bits_b = np.unpackbits(a, axis=1), np.unpackbits(b, axis=1)
    want = np.zeros((na, nb), dtype=bool)
    for pos in positions:
        want |= (bits_a[:, None, pos] == bits_b[None, :, pos]).all(axis=2)
    wi, wj = np.nonzero(want)
    assert ci.tolist() == wi.tolist() and cj.tolist() == wj.tolist()  # unique, sorted by (i, j)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("top_k", [None, 2, 5])
def test_candidate_scores_equal_tiles_when_every_pair_is_a_candidate(kernel, top_k):
    rng = np.random.default_rng(1)
    a, b = random_filters(rng, 40, 16, 0.3), random_filters(rng, 55, 16, 0.3)
    b[:10] = a[:10]
    ci, cj = (x.ravel() for x in np.meshgrid(np.arange(40), np.arange(55), indexing="ij"))
    got = candidate_scores(a, b, ci, cj, threshold=0.3, top_k=top_k, kernel=kernel)
    ref = dice_pairs(a, b, threshold=0.3, top_k=top_k, kernel="numpy")
    assert np.array_equal(got.pairs.i, ref.pairs.i) and np.array_equal(got.pairs.j, ref.pairs.j)
    assert np.array_equal(got.pairs.score, ref.pairs.score)
    assert np.array_equal(got.best, ref.best)


@pytest.mark.parametrize("kernel", KERNELS)
def test_candidate_scores_see_only_candidates(kernel):
    rng = np.random.default_rng(2)
    a, b = random_filters(rng, 30, 16, 0.3), random_filters(rng, 30, 16, 0.3)
    keep = rng.random((30, 30)) < 0.3
    ci, cj = np.nonzero(keep)
    got = candidate_scores(a, b, ci, cj, threshold=0.0, kernel=kernel)
    ref = dice_reference(a, b)
    assert np.array_equal(got.pairs.score, ref[ci, cj])
    masked = np.where(keep, ref, -1.0)
    top = np.maximum(-np.sort(-masked, axis=1)[:, :3], 0.0)
    assert np.array_equal(got.best, top)


def _near_copies(rng, n, flip):
    a = random_filters(rng, n, 128, 0.5)
    noise = np.packbits(rng.random((n, 1024)) < flip, axis=1)
    return a, a ^ noise


def test_plan_reaches_the_target_on_close_pairs_and_says_when_it_cannot():
    rng = np.random.default_rng(3)
    a, b = _near_copies(rng, 3000, 0.05)  # true pairs agree on about 95% of the bits
    likely = (a[:500], b[:500])
    plan = plan_lsh(a, b, likely, Blocking("lsh"))
    assert plan.expected_completeness >= 0.995 and not plan.notes
    assert plan.expected_share < 0.01
    ci, cj = lsh_candidates(a, b, plan)
    found = np.isin(np.arange(3000) * 3000 + np.arange(3000), ci * 3000 + cj).mean()
    assert found >= 0.99
    assert len(ci) < 0.01 * 3000 * 3000
    a, b = _near_copies(rng, 3000, 0.35)  # true pairs barely closer than random ones
    plan = plan_lsh(a, b, (a[:500], b[:500]), Blocking("lsh", max_bands=8))
    assert plan.expected_completeness < 0.995 and "no plan within 8 bands" in plan.notes[-1]


def test_bit_pool_leaves_out_nearly_constant_bits():
    rng = np.random.default_rng(4)
    bits = rng.random((2000, 256)) < 0.4
    bits[:, :50] = True
    bits[:, 50:100] = False
    clks = np.packbits(bits, axis=1)
    pool = bit_pool(clks, clks)
    assert pool.min() >= 100 and len(pool) == 156


def test_imputation_restores_what_blocking_hid():
    rng = np.random.default_rng(5)
    n = 20_000
    exact = np.sort(rng.beta(5, 5, (n, 3)), axis=1)[:, ::-1]
    blocked = exact.copy()
    hidden = exact < 0.55  # blocking misses every score below 0.55: it reads as 0
    blocked[hidden] = 0.0
    blocked = -np.sort(-blocked, axis=1)
    sample = np.sort(rng.choice(n, 2000, replace=False))
    scores = Scores(Pairs.empty(), blocked.copy(), "numpy", 0)
    scores.best[sample] = exact[sample]
    blk = Blocked(scores=scores, plan=LshPlan(np.zeros((1, 1), dtype=np.int64)), sample=sample,
                  exact=Scores(Pairs.empty(), exact[sample], "numpy", 0), found=blocked[sample],
                  exact_found=np.zeros(0, dtype=bool), candidates=0)
    best, level = impute_best(blk)
    assert 0.5 < level <= 0.56
    for col in (0, 1):
        assert abs(best[:, col].mean() - exact[:, col].mean()) < 0.01
        assert abs(blocked[:, col].mean() - exact[:, col].mean()) > 0.05  # the bias it removed
    kept = blocked[:, 0] >= level
    assert np.array_equal(best[kept, 0], exact[kept, 0])


@pytest.fixture(scope="module")
def synth_encoded():
    data = lk.synth_families(3000, seed=4)
    key = bytes(range(32))
    schema = lk.Schema(hardening={"profile": "none"})
    return data, lk.encode_frame(data.a, schema, key=key), lk.encode_frame(data.b, schema, key=key)


def test_blocked_link_keeps_quality_and_reports_what_it_did(synth_encoded):
    data, ea, eb = synth_encoded
    full = lk.link(ea, eb, blocking="none")
    res = lk.link(ea, eb, blocking=Blocking("lsh", sample=1000))
    f_full, f_blk = lk.evaluate(full.links, data.truth), lk.evaluate(res.links, data.truth)
    assert f_blk.f1 >= f_full.f1 - 0.01
    s = res.summary()
    blk = s["blocking"]
    assert blk["method"] == "lsh" and blk["chosen_by"] == "lsh"
    assert blk["reduction_ratio"] > 0.9 and blk["candidate_pairs"] < 0.1 * len(ea) * len(eb)
    assert s["comparisons"] == blk["candidate_pairs"] + 1000 * len(eb)
    assert 0.9 <= blk["estimated_completeness"] <= 1.0
    # Recall is estimated conservatively: relatives near the threshold count as missed matches.
    assert -0.05 < s["estimated"]["recall"] - f_blk.recall < 0.01
    assert abs(s["estimated"]["precision"] - f_blk.precision) < 0.03
    assert full.summary()["blocking"] == {"method": "none"}


def test_auto_blocks_only_large_jobs(synth_encoded):
    _, ea, eb = synth_encoded
    assert lk.link(ea, eb, blocking="auto").blocking is None  # 3,000 x 3,000 is cheap to score in full
    res = lk.link(ea, eb, blocking=Blocking("auto", above=1e6, sample=500))
    # Above the size, auto plans; for 3,000 x 3,000 hashing costs more than it saves, and it says so.
    assert res.blocking["chosen_by"] == "auto" and res.blocking["method"] == "none"
    assert "blocking would not pay" in res.blocking["notes"][0]
    assert res.comparisons == len(ea) * len(eb)


def test_auto_blocks_when_it_pays():
    rng = np.random.default_rng(6)
    a, b = _near_copies(rng, 4000, 0.03)
    kw = {"threshold": 0.5, "top_k": 5, "kernel": "auto", "likely_above": 0.8}
    got = blocked_scores(a, b, blocking=Blocking("auto", sample=400), **kw)
    assert isinstance(got, Blocked) and pays(got.plan, 4000, 4000)
    assert got.candidates < 0.02 * 4000 * 4000
    links = solve_one_to_one(got.scores.pairs)
    assert (links.i == links.j).sum() >= 0.995 * 4000  # the copies are found
    a, b = _near_copies(rng, 4000, 0.3)  # close pairs are barely closer than random: blocking cannot pay
    assert isinstance(blocked_scores(a, b, blocking=Blocking("auto", sample=400), **kw), LshPlan)


def test_blocking_is_deterministic(synth_encoded):
    _, ea, eb = synth_encoded
    runs = [lk.link(ea, eb, blocking=Blocking("lsh", sample=500)) for _ in range(2)]
    assert runs[0].links.equals(runs[1].links) and runs[0].summary() == runs[1].summary()


def test_unknown_blocking_is_refused(synth_encoded):
    _, ea, eb = synth_encoded
    with pytest.raises(lk.LinkageError, match="blocking must be one of auto, lsh, keys, none"):
        lk.link(ea, eb, blocking="sorted")


def test_cli_link_with_blocking(tmp_path, synth_encoded):
    _, ea, eb = synth_encoded
    lk.write_encoded(ea, tmp_path / "a.enc.parquet")
    lk.write_encoded(eb, tmp_path / "b.enc.parquet")
    out = tmp_path / "links.csv"
    r = run_cli("link", str(tmp_path / "a.enc.parquet"), str(tmp_path / "b.enc.parquet"), "--out", str(out),
                "--blocking", "lsh", "--quiet")
    assert r.exit_code == 0, r.output
    assert "blocked by LSH" in r.output and "reduction ratio" in r.output
    summary = json.loads((tmp_path / "links.csv.summary.json").read_text())
    assert summary["blocking"]["method"] == "lsh" and summary["blocking"]["candidate_pairs"] > 0
    assert pl.read_csv(out).height > 0


# --- blocking keys made by the providers ----------------------------------------------------

KEYS = [["date_of_birth"], ["soundex(first_name)", "soundex(last_name)"], ["soundex(last_name)", "year(date_of_birth)"],
        ["initial(first_name)", "district(postcode)"]]


def test_schema_checks_blocking_keys():
    s = lk.Schema(blocking_keys=[["soundex( last_name )", "year(date_of_birth)"]])
    assert s.blocking_keys == (("soundex(last_name)", "year(date_of_birth)"),)
    assert s.fingerprint() == lk.Schema().fingerprint()  # keys do not change the filters
    with pytest.raises(lk.LinkageError) as e:
        lk.Schema(blocking_keys=[["year(first_name)", "nhs"], ["soundx(last_name)"], []])
    msg = str(e.value)
    assert "year applies to fields of kind date, not name" in msg and "'nhs' is not a field" in msg
    assert "unknown transform 'soundx'" in msg and "blocking key 3 must be a non-empty list" in msg


def test_schema_file_with_blocking_keys_round_trips(tmp_path):
    import tomllib

    s = lk.Schema(blocking_keys=KEYS)
    again = lk.Schema.from_dict(tomllib.loads(s.to_toml()))
    assert again == s and again.blocking_keys == s.blocking_keys
    with pytest.raises(lk.LinkageError, match=r"\[blocking\] needs schema version 3"):
        lk.Schema.from_dict({"version": 2, "blocking": {"keys": [["date_of_birth"]]}})


def _people():
    return pl.DataFrame({
        "record_id": ["a1", "a2", "a3", "a4"],
        "first_name": ["Robert", "Rupert", "Ann", None],
        "last_name": ["Smith", "Smyth", "Jones", "Jones"],
        "date_of_birth": ["1980-01-02", "1980-01-02", "1975-06-07", "1975-06-07"],
        "sex": ["M", "M", "F", "F"],
        "postcode": ["SW1A 1AA", "SW1A 2BB", "M1 1AE", "M1 1AE"],
    })


def test_provider_keys_are_keyed_hashes_of_the_parts():
    df = _people()
    s = lk.Schema(blocking_keys=KEYS)
    enc = lk.encode_frame(df, s, key=bytes(range(32)))
    k = enc.block_keys
    assert k.shape == (4, 4) and k.dtype == np.uint64
    assert k[0, 0] == k[1, 0] and k[2, 0] == k[3, 0] and k[0, 0] != k[2, 0]  # same date of birth
    assert k[0, 1] == k[1, 1]  # Robert Smith, Rupert Smyth: R163 S530 both
    assert k[3, 1] == 0 and k[3, 3] == 0 and k[3, 2] != 0  # no first name: no key that needs one
    assert k[0, 3] == k[1, 3] and k[0, 3] != k[2, 3]  # R + SW1A
    assert len(set(k[0].tolist())) == 4  # every key hashes apart, even of equal parts
    other = lk.encode_frame(df, s, key=bytes(range(1, 33))).block_keys
    assert not np.isin(other[other != 0], k).any()  # another secret, other hashes
    again = lk.encode_frame(df.reverse(), s, key=bytes(range(32))).block_keys[::-1]
    assert np.array_equal(again, k)


def test_keys_travel_in_the_file_without_raw_values(tmp_path):
    df = _people()
    enc = lk.encode_frame(df, lk.Schema(blocking_keys=KEYS), key=bytes(range(32)))
    path = tmp_path / "a.enc.parquet"
    lk.write_encoded(enc, path)
    back = lk.read_encoded(path)
    assert np.array_equal(back.block_keys, enc.block_keys) and back.schema.blocking_keys == enc.schema.blocking_keys
    raw = path.read_bytes()
    for value in ("Robert", "ROBERT", "robert", "R163", "S530", "SW1A", "1980-01-02", "1980"):
        assert value.encode() not in raw
    plain = lk.encode_frame(df, lk.Schema(), key=bytes(range(32)))
    assert plain.block_keys is None


@settings(max_examples=20, deadline=None)
@given(na=st.integers(1, 50), nb=st.integers(1, 50), nkeys=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_key_candidates_are_exactly_the_pairs_sharing_a_key(na, nb, nkeys, seed):
    from linkage.linker.block import key_candidates

    rng = np.random.default_rng(seed)
    ka = rng.integers(0, 6, (na, nkeys)).astype(np.uint64)  # 0: no key
    kb = rng.integers(0, 6, (nb, nkeys)).astype(np.uint64)
    ci, cj = key_candidates(ka, kb, chunk=5)
    want = ((ka[:, None, :] == kb[None, :, :]) & (ka[:, None, :] != 0)).any(axis=2)
    wi, wj = np.nonzero(want)
    assert ci.tolist() == wi.tolist() and cj.tolist() == wj.tolist()


@pytest.fixture(scope="module")
def keyed_encoded():
    data = lk.synth_families(3000, seed=4)
    key = bytes(range(32))
    schema = lk.Schema(blocking_keys=KEYS)
    return data, lk.encode_frame(data.a, schema, key=key), lk.encode_frame(data.b, schema, key=key)


def test_link_on_keys(keyed_encoded):
    data, ea, eb = keyed_encoded
    full = lk.link(ea, eb, blocking="none")
    res = lk.link(ea, eb, blocking=Blocking("keys", sample=500))
    assert lk.evaluate(res.links, data.truth).f1 >= lk.evaluate(full.links, data.truth).f1 - 0.015
    blk = res.summary()["blocking"]
    assert blk["method"] == "keys" and blk["keys"][1] == "soundex(first_name)+soundex(last_name)"
    assert blk["reduction_ratio"] > 0.99
    auto = lk.link(ea, eb, blocking=Blocking("auto", above=1e6, sample=500))
    assert auto.blocking["method"] == "keys" and auto.links.equals(res.links)
    with pytest.raises(lk.LinkageError, match="carries no blocking keys"):
        lk.link(ea, lk.encode_frame(data.b, lk.Schema(), key=bytes(range(32))), blocking="keys")
    other = lk.encode_frame(data.b, lk.Schema(blocking_keys=KEYS[:2]), key=bytes(range(32)))
    with pytest.raises(lk.LinkageError, match="carry different blocking keys"):
        lk.link(ea, other, blocking="keys")


def test_lsh_that_would_not_fit_is_refused(synth_encoded):
    from linkage.linker.block import blocked_scores as run

    _, ea, eb = synth_encoded
    with pytest.raises(lk.LinkageError, match=r"LSH would make about .* candidate pairs"):
        run(ea.clks, eb.clks, threshold=0.4, top_k=5, kernel="auto", blocking=Blocking("lsh", sample=300),
            likely_above=None, max_candidates=10)


def test_candidates_scored_a_chunk_at_a_time_give_the_same_scores(keyed_encoded):
    from linkage.linker.block import blocked_scores as run

    _, ea, eb = keyed_encoded
    kw = {"threshold": 0.4, "top_k": 5, "kernel": "auto", "blocking": Blocking("keys", sample=300),
          "likely_above": None, "keys": (ea.block_keys, eb.block_keys)}
    whole, parts = run(ea.clks, eb.clks, chunk=1 << 16, **kw), run(ea.clks, eb.clks, chunk=97, **kw)
    assert whole.candidates == parts.candidates > 0
    for x, y in ((whole.scores.pairs.i, parts.scores.pairs.i), (whole.scores.pairs.j, parts.scores.pairs.j),
                 (whole.scores.pairs.score, parts.scores.pairs.score), (whole.scores.best, parts.scores.best),
                 (whole.exact_found, parts.exact_found)):
        assert np.array_equal(x, y)


def test_link_summary_reports_time_and_peak_memory(tmp_path, synth_encoded):
    _, ea, eb = synth_encoded
    lk.write_encoded(ea, tmp_path / "a.enc.parquet")
    lk.write_encoded(eb, tmp_path / "b.enc.parquet")
    r = run_cli("link", tmp_path / "a.enc.parquet", tmp_path / "b.enc.parquet", "--out", tmp_path / "l.csv", "-q")
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "l.csv.summary.json").read_text())
    assert summary["peak_memory_bytes"] > 50 * 2**20 and summary["seconds"] > 0
    assert "peak memory" in r.output and " GiB" in r.output


def test_evaluate_measures_pair_completeness_from_the_encoded_files(keyed_encoded, tmp_path):
    data, ea, eb = keyed_encoded
    pa, pb, out = tmp_path / "a.enc.parquet", tmp_path / "b.enc.parquet", tmp_path / "l.csv"
    lk.write_encoded(ea, pa)
    lk.write_encoded(eb, pb)
    truth = tmp_path / "truth.csv"
    data.truth.write_csv(truth)
    assert run_cli("link", pa, pb, "--out", out, "--blocking", "keys", "--quiet").exit_code == 0
    # By hand: a true pair is a candidate when its records share a (non-empty) blocking key.
    row_a = dict(zip(ea.record_ids.to_list(), ea.block_keys))
    row_b = dict(zip(eb.record_ids.to_list(), eb.block_keys))
    hits = [a in row_a and b in row_b and bool(((row_a[a] == row_b[b]) & (row_a[a] != 0)).any())
            for a, b in data.truth.select("id_a", "id_b").iter_rows()]
    want = sum(hits) / len(hits)
    assert 0.9 < want < 1.0  # some true pairs share no key: the measure can tell
    r = run_cli("evaluate", out, "--truth", truth, "--encoded", pa, pb)
    assert r.exit_code == 0, r.output
    assert f"pair completeness: {want:.4f} of the {len(hits):,} true pairs were candidates" in r.output
    assert "reduction ratio" in r.output
    r = run_cli("evaluate", out, "--truth", truth)
    assert "pass --encoded A B" in r.output
    r = run_cli("evaluate", out, "--truth", truth, "--encoded", pb, pa)  # swapped: refused, not a wrong figure
    assert r.exit_code == 1 and "is not the file the links were made from as A" in r.stderr
    # LSH: a true pair is a candidate when it agrees on every sampled bit of some band.
    from linkage.research.evaluate import pair_completeness

    positions = np.array([[0, 1, 2, 3]])
    clk_a = dict(zip(ea.record_ids.to_list(), np.unpackbits(ea.clks, axis=1)))
    clk_b = dict(zip(eb.record_ids.to_list(), np.unpackbits(eb.clks, axis=1)))
    same = [a in clk_a and b in clk_b and bool((clk_a[a][:4] == clk_b[b][:4]).all())
            for a, b in data.truth.select("id_a", "id_b").iter_rows()]
    got, n = pair_completeness(data.truth, ea, eb, {"method": "lsh", "positions": positions.tolist()})
    assert n == len(same) and got == pytest.approx(sum(same) / len(same))
    with pytest.raises(lk.LinkageError, match="does not say which bits LSH sampled"):
        pair_completeness(data.truth, ea, eb, {"method": "lsh"})
