"""Three or more files: links joined into clusters of one person, and their pairwise quality."""

import dataclasses
import itertools
import json

import numpy as np
import polars as pl
import pytest
from conftest import assert_user_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import linkage as lk
from linkage.linker.cluster import greedy_clusters, link_many
from linkage.research.evaluate import evaluate_clusters
from linkage.research.synth import synth_files

KEY = bytes(range(32))


def brute_force_clusters(a, b, score, provider, same, apart=()):
    """The greedy rule, spelled out with sets: best edge first, no provider twice, no providers kept apart."""
    banned = {frozenset(p) for p in apart}
    members = {v: {v} for v in range(len(provider))}
    for e in sorted(range(len(a)), key=lambda e: (-score[e], e)):
        x, y = members[a[e]], members[b[e]]
        if x is y:
            continue
        px, py = {provider[v] for v in x}, {provider[v] for v in y}
        shared = px & py
        if same[e]:
            shared -= {provider[a[e]]}
        if shared or any(frozenset((p, q)) in banned for p in px for q in py):
            continue
        union = x | y
        for v in union:
            members[v] = union
    return [min(members[v]) for v in range(len(provider))]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_greedy_clusters_follow_the_rule(data):
    n = data.draw(st.integers(2, 25))
    provider = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    m = data.draw(st.integers(0, 40))
    a = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    b = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    score = np.array(data.draw(st.lists(st.sampled_from([0.6, 0.7, 0.8, 0.9]), min_size=m, max_size=m)))
    same = provider[a] == provider[b] if m else np.zeros(0, bool)
    apart = data.draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(lambda t: t[0] != t[1]),
                               max_size=2))
    want = brute_force_clusters(a, b, score, provider, same, apart)
    for compiled in (True, False):
        root, _ = greedy_clusters(a, b, score, provider, same=same, apart=apart, compiled=compiled)
        assert root.tolist() == want
        for p, q in apart:  # providers kept apart never share a cluster
            assert not set(root[provider == p].tolist()) & set(root[provider == q].tolist())
        # never two records of one provider in a cluster, unless joined as duplicates
        if not same.any():
            for r in set(root.tolist()):
                ps = provider[root == r]
                assert len(ps) == len(set(ps.tolist()))


def test_a_better_link_wins_and_a_conflicting_one_is_refused():
    # records 0 (p0), 1 (p1), 2 (p2), 3 (p1): 0-1 best; 0-3 would bring a second p1 record in
    root, used = greedy_clusters(np.array([0, 0, 1]), np.array([1, 3, 2]), np.array([0.9, 0.8, 0.7]),
                                 np.array([0, 1, 2, 1]))
    assert root.tolist() == [0, 0, 0, 3] and used.tolist() == [True, False, True]


@pytest.fixture(scope="module")
def programme():
    data = synth_files(1500, files=3, seed=5, duplicates=0.03)
    encs = [dataclasses.replace(lk.encode_frame(f, key=KEY), provider=p) for p, f in data.extracts.items()]
    return data, encs


def test_clusters_are_better_than_chance_and_consistent(programme):
    data, encs = programme
    res = link_many(encs)
    c = res.clusters
    assert c.height == sum(len(e) for e in encs) and c["record_id"].n_unique() == c.height
    per = c.group_by("linkage_id").agg(pl.col("provider").n_unique().alias("p"), pl.len().alias("n"))
    assert (per["p"] == per["n"]).all()  # one record per provider without --dedupe
    ev = evaluate_clusters(c, data.truth)
    assert ev.precision > 0.95 and ev.recall > 0.7  # the duplicates within files are missed here
    assert set(res.summary["clusters"]) >= {"clusters", "records", "by_size", "links_refused"}
    assert len(res.summary["pairs_of_files"]) == 3
    # the same inputs give the same clusters
    assert link_many(encs).clusters.equals(c)


def test_files_that_share_nobody_never_share_a_cluster():
    from linkage.research.synth import synth_programme

    data = synth_programme(2500, seed=1)  # benefits hold adults, schools children: they share nobody
    encs = [dataclasses.replace(lk.encode_frame(f, key=KEY), provider=p) for p, f in data.extracts.items()]
    res = link_many(encs)
    assert ["dwp", "dfe"] in res.summary["apart"]
    own = next(p for p in res.summary["pairs_of_files"] if {p["provider_a"], p["provider_b"]} == {"dwp", "dfe"})
    assert own["threshold"] is None  # its own scores show no evidence of matches
    both = res.clusters.group_by("linkage_id").agg(pl.col("provider").is_in(["dwp"]).any().alias("dwp"),
                                                  pl.col("provider").is_in(["dfe"]).any().alias("dfe"))
    assert not (both["dwp"] & both["dfe"]).any()
    # a pair that does share people is not kept apart
    assert all("council_1" not in pair for pair in res.summary["apart"])


def test_dedupe_links_duplicates_only_in_files_whose_scores_show_them():
    from linkage.research.synth import synth_programme

    data = synth_programme(2500, seed=1)  # second benefit claims in dwp; twins, but no duplicates, elsewhere
    encs = [dataclasses.replace(lk.encode_frame(f, key=KEY), provider=p) for p, f in data.extracts.items()]
    res = link_many(encs, dedupe=True)
    dup = {d["provider"]: d for d in res.summary["duplicates"]}
    assert dup["dwp"]["evidence"] and dup["dwp"]["links"] > 20
    own = [p["threshold"] for p in res.summary["pairs_of_files"] if "dwp" in (p["provider_a"], p["provider_b"])
           and p["threshold_source"] == "estimated"]
    assert own and dup["dwp"]["threshold"] >= max(own)  # at least the strictest of its pairs of files
    for p in ("council_1", "council_2", "council_3", "dfe"):
        assert not dup[p]["evidence"] and dup[p]["links"] == 0 and dup[p]["threshold"] is None
    within = evaluate_clusters(res.clusters, data.truth).by_providers.filter(
        pl.col("provider_a") == pl.col("provider_b"))
    assert within.filter(pl.col("provider_a") != "dwp")["predicted"].sum() == 0
    dwp = within.filter(pl.col("provider_a") == "dwp").row(0, named=True)
    assert dwp["recall"] > 0.8 and dwp["precision"] > 0.7


def test_only_files_whose_fit_expects_no_match_are_kept_apart():
    from linkage.linker.cluster import _shares_nobody

    def linked(shared):
        d = lk.synth_families(3000, seed=1, overlap=shared / 3000)
        return lk.link(lk.encode_frame(d.a, key=KEY), lk.encode_frame(d.b, key=KEY))

    none, few, some = linked(0), linked(5), linked(20)
    assert not none.fit.evidence and _shares_nobody(none)
    assert not few.fit.evidence and not _shares_nobody(few)  # too few to link on, but not nobody
    assert some.fit.evidence and not _shares_nobody(some)
    given = lk.link(lk.encode_frame(lk.synth_families(500, seed=1, overlap=0.0).a, key=KEY),
                    lk.encode_frame(lk.synth_families(500, seed=2, overlap=0.0).b, key=KEY), threshold=0.9)
    assert not _shares_nobody(given)  # a threshold given by the analyst: no fit, nothing kept apart


def test_greedy_clusters_refuse_a_bad_pair_kept_apart():
    for bad in [(0, 0), (-1, 1), (0, 63)]:
        with pytest.raises(ValueError, match="apart"):
            greedy_clusters(np.array([0]), np.array([1]), np.array([0.9]), np.array([0, 1]), apart=[bad])


def test_dedupe_finds_duplicates_within_a_file(programme):
    data, encs = programme
    plain, deduped = (evaluate_clusters(link_many(encs, dedupe=d).clusters, data.truth) for d in (False, True))
    within = lambda ev: ev.by_providers.filter(pl.col("provider_a") == pl.col("provider_b"))
    assert within(plain)["true_positives"].sum() == 0
    assert within(deduped)["true_positives"].sum() > 0.5 * within(deduped)["true"].sum()
    assert deduped.f1 > plain.f1


def test_spine_links_every_file_only_through_it(programme):
    _, encs = programme
    res = link_many(encs, spine=1)
    assert {(p["provider_a"], p["provider_b"]) for p in res.summary["pairs_of_files"]} == {("p2", "p1"), ("p2", "p3")}
    pairs = res.pairs
    assert ((pairs["provider_a"] == "p2") | (pairs["provider_b"] == "p2")).all()


def test_files_must_come_from_distinct_providers(programme):
    _, encs = programme
    with pytest.raises(lk.LinkageError, match="carries no provider label"):
        link_many([dataclasses.replace(encs[0], provider=None), *encs[1:]])
    with pytest.raises(lk.LinkageError, match="provider label 'p1'"):
        link_many([encs[0], dataclasses.replace(encs[1], provider="p1"), encs[2]])
    with pytest.raises(lk.LinkageError, match="not a plain name"):
        link_many([dataclasses.replace(encs[0], provider="=council 1"), *encs[1:]])


def test_dedupe_with_blocking_keys_compares_only_records_that_share_a_key():
    data = synth_files(1500, files=3, seed=5, duplicates=0.03)
    schema = lk.Schema(blocking_keys=[["date_of_birth"], ["soundex(first_name)", "soundex(last_name)"]])
    encs = [dataclasses.replace(lk.encode_frame(f, schema, key=KEY), provider=p) for p, f in data.extracts.items()]
    keyed, every = (link_many(encs, dedupe=True, blocking=b) for b in ("keys", "none"))
    for res in (keyed, every):
        assert sum(d["links"] for d in res.summary["duplicates"]) > 10
    for d, e in zip(keyed.summary["duplicates"], encs):
        assert d["blocking"] == "keys" and 0 < d["comparisons"] < len(e) * (len(e) - 1) // 10
    assert [d["comparisons"] for d in every.summary["duplicates"]] == [len(e) * (len(e) - 1) // 2 for e in encs]
    keys = {e.provider: e.block_keys for e in encs}
    rows = {e.provider: {r: k for k, r in enumerate(e.record_ids.to_list())} for e in encs}
    dup = keyed.pairs.filter(pl.col("provider_a") == pl.col("provider_b"))
    for p, a, b in dup.select("provider_a", "id_a", "id_b").iter_rows():
        ka, kb = keys[p][rows[p][a]], keys[p][rows[p][b]]
        assert ((ka == kb) & (ka != 0)).any()  # every duplicate link found shares a blocking key
    within = [evaluate_clusters(r.clusters, data.truth).by_providers.filter(
        pl.col("provider_a") == pl.col("provider_b")) for r in (keyed, every)]
    assert within[0]["true_positives"].sum() > 0.5 * within[1]["true_positives"].sum() > 0


def test_evaluate_clusters_counts_pairs_per_pair_of_providers():
    clusters = pl.DataFrame({"linkage_id": ["L1", "L1", "L1", "L2", "L3"], "provider": ["a", "b", "c", "a", "b"],
                             "record_id": ["a1", "b1", "c1", "a2", "b2"]})
    truth = pl.DataFrame({"provider": ["a", "b", "c", "a", "b"], "record_id": ["a1", "b1", "c1", "a2", "b2"],
                          "person_id": ["x", "x", "y", "z", "z"]})
    ev = evaluate_clusters(clusters, truth)
    # predicted: a1-b1, a1-c1, b1-c1; true: a1-b1, a2-b2
    assert (ev.predicted_pairs, ev.true_pairs, ev.true_positives) == (3, 2, 1)
    assert ev.precision == pytest.approx(1 / 3) and ev.recall == pytest.approx(0.5)
    ab = ev.by_providers.filter((pl.col("provider_a") == "a") & (pl.col("provider_b") == "b")).row(0, named=True)
    assert (ab["predicted"], ab["true"], ab["true_positives"]) == (1, 2, 1)
    assert ev.exact == pytest.approx(0.0)  # x shares its cluster with y; z is split
    perfect = evaluate_clusters(truth.rename({"person_id": "linkage_id"}), truth)
    assert perfect.f1 == 1.0 and perfect.exact == 1.0
    # records only on one side are alone, whatever their ids look like joined together
    odd = evaluate_clusters(pl.DataFrame({"linkage_id": ["L1"], "provider": ["a"], "record_id": ["12"]}),
                            pl.DataFrame({"provider": ["a1", "a"], "record_id": ["2", "9"], "person_id": ["p", "q"]}))
    assert odd.predicted_pairs == 0 and odd.true_pairs == 0


def test_evaluate_says_when_a_pair_of_providers_has_no_true_pairs(tmp_path):
    clusters, truth = tmp_path / "clusters.csv", tmp_path / "truth.csv"
    pl.DataFrame({"linkage_id": ["L1", "L1", "L2", "L2"], "provider": ["p1", "p2", "p1", "p3"],
                  "record_id": ["a", "b", "c", "d"]}).write_csv(clusters)
    pl.DataFrame({"provider": ["p1", "p2", "p1", "p3"], "record_id": ["a", "b", "c", "d"],
                  "person_id": ["X", "Y", "Z", "Z"]}).write_csv(truth)
    r = run_cli("evaluate", clusters, "--truth", truth)
    assert r.exit_code == 0, r.output
    assert "p1 x p2: no true pairs, but 1 predicted (all false)" in r.output
    assert "p1 x p3: 1 true pairs, 1 predicted, precision 1.0000, recall 1.0000" in r.output


def test_cli_links_three_files_into_a_folder_and_evaluates_it(programme, tmp_path):
    data, encs = programme
    paths = []
    for e in encs:
        paths.append(tmp_path / f"{e.provider}.enc.parquet")
        lk.write_encoded(e, paths[-1])
    truth = tmp_path / "truth.csv"
    data.truth.write_csv(truth)
    out = tmp_path / "out"
    r = run_cli("link", *paths, "--out", out, "--dedupe", "--quiet")
    assert r.exit_code == 0, r.output
    assert "records in" in r.output and "clusters" in r.output
    clusters = pl.read_csv(out / "clusters.csv", infer_schema=False)
    assert clusters.columns == ["linkage_id", "provider", "record_id", "best_score", "band"]
    summary = json.loads((out / "summary.json").read_text())
    assert [i["provider"] for i in summary["inputs"]] == ["p1", "p2", "p3"] and summary["dedupe"]
    r = run_cli("evaluate", out / "clusters.csv", "--truth", truth)
    assert r.exit_code == 0, r.output
    assert "p1 x p2:" in r.output and "estimated at link time" in r.output
    again = run_cli("link", *paths, "--out", out, "--quiet")
    assert_user_error(again, "exists")
    assert run_cli("link", *paths, "--out", out, "--quiet", "--force").exit_code == 0
    # no raw identifier in anything written
    written = "".join(p.read_text() for p in out.iterdir())
    for name in itertools.islice(data.extracts["p1"]["last_name"].drop_nulls().unique().sort(), 50):
        if len(name) > 4:
            assert name not in written
    r = run_cli("link", paths[0], paths[1], paths[0], "--out", tmp_path / "x")
    assert_user_error(r, "given twice")
    r = run_cli("link", paths[0], paths[1], tmp_path / "missing.enc.parquet", "--out", tmp_path / "y")
    assert r.exit_code == 1 and not (tmp_path / "y").exists()  # a failed link leaves no folder behind


def test_a_pair_sharing_few_people_borrows_the_pooled_threshold_and_claims_no_estimate():
    from linkage.research.synth import synth_programme

    data = synth_programme(3000, seed=2)  # large enough for each council and benefits to be certain
    encs = [dataclasses.replace(lk.encode_frame(f, key=KEY), provider=p) for p, f in data.extracts.items()]
    res = link_many(encs)
    pairs = {(p["provider_a"], p["provider_b"]): p for p in res.summary["pairs_of_files"]}
    certain = [p for p in pairs.values() if p["threshold_source"] == "estimated"]
    pooled = [p for p in pairs.values() if p["threshold_source"] == "pooled"]
    assert certain and pooled
    median = float(np.median([p["threshold"] for p in certain]))
    for p in certain:  # a pair keeps its own estimate only when both intervals are narrow
        for lo, hi in (p["estimated"]["precision_interval"], p["estimated"]["recall_interval"]):
            assert hi - lo <= 0.05
    for p in pooled:
        assert p["threshold"] == pytest.approx(median) and p["own_threshold"] != p["threshold"]
        assert p["estimated"]["precision"] is None and "too few matches" in p["estimated"]["warnings"][-1]
    # the pooled pairs' links are banded at the pooled threshold
    c12 = pairs[("council_1", "council_2")]
    links = res.pairs.filter((pl.col("provider_a") == "council_1") & (pl.col("provider_b") == "council_2"))
    if c12["threshold_source"] == "pooled":
        assert (links.filter(pl.col("band") == "match")["score"] >= c12["threshold"]).all()
        assert links.filter(pl.col("band") == "match").height == c12["bands"].get("match", 0)
    # pairs with no evidence of matches link nothing, pooled or not
    assert pairs[("dwp", "dfe")]["threshold"] is None
