"""B a part at a time: from a file's row groups, in this process or as Dask tasks, with the same links."""

import json
import logging

import numpy as np
import pytest
from conftest import assert_user_error, run_cli

import linkage as lk
from linkage.format import encoded as encoded_format
from linkage.format.encoded import open_encoded
from linkage.linker import block as block_module
from linkage.linker import score as score_module
from linkage.linker.block import Blocking
from linkage.linker.distribute import Cluster, open_runner, part_rows
from linkage.linker.score import ScoreMerge, dice_pairs

KEY = bytes(range(32))
KEYS = [["date_of_birth"], ["soundex(first_name)", "soundex(last_name)"], ["soundex(last_name)", "year(date_of_birth)"]]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A and B encoded with blocking keys; B written in row groups of 500 rows."""
    d = tmp_path_factory.mktemp("parts")
    data = lk.synth_families(2500, seed=8)
    schema = lk.Schema(hardening={"profile": "none"}, blocking_keys=KEYS)
    ea, eb = (lk.encode_frame(x, schema, key=KEY) for x in (data.a, data.b))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(encoded_format, "ROW_GROUP", 500)
        lk.write_encoded(eb, d / "b.enc.parquet")
    lk.write_encoded(ea, d / "a.enc.parquet")
    return data, ea, eb, d / "a.enc.parquet", d / "b.enc.parquet"


@pytest.fixture(scope="module")
def whole(files):
    """Links of B held whole, scored in one part, by blocking method."""
    _, ea, eb, _, _ = files
    return {m: lk.link(ea, eb, blocking=Blocking(m, sample=400)) for m in ("none", "keys", "lsh")}


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 700 rows of B (not aligned to the file's row groups of 500)."""
    monkeypatch.setattr(score_module, "part_rows", lambda *a, **k: 700)
    monkeypatch.setattr(block_module, "part_rows", lambda *a, **k: 700)


@pytest.mark.parametrize("top_k", [None, 1, 5])
def test_parts_merged_in_any_order_equal_one_pass(top_k):
    rng = np.random.default_rng(2)
    a, b = (rng.integers(0, 256, (n, 16), dtype=np.uint8) for n in (200, 900))
    b[600:640] = b[:40]  # equal scores in different parts: ties go to the lower B row
    whole = dice_pairs(a, b, threshold=0.45, top_k=top_k)
    merged = ScoreMerge(len(a), threshold=0.45, top_k=top_k)
    for s0, s1 in [(600, 900), (0, 250), (250, 600)]:
        merged.add(dice_pairs(a, b[s0:s1], threshold=0.45, top_k=top_k), s0)
    got = merged.result()
    assert len(whole.pairs) > len(a) // 2
    for x in ("i", "j", "score"):
        assert np.array_equal(getattr(whole.pairs, x), getattr(got.pairs, x))
    assert np.array_equal(whole.best, got.best) and got.comparisons == whole.comparisons


def test_an_encoded_file_reads_any_rows_from_its_row_groups(files):
    _, _, eb, _, path_b = files
    f = open_encoded(path_b)
    assert len(f) == len(eb) and len(f.group_rows) == -(-len(eb) // 500)
    for start, stop in [(0, 1), (499, 501), (120, 1730), (len(eb) - 3, len(eb))]:
        part = f.read_part(start, stop)
        assert part.start == start and np.array_equal(part.clks, eb.clks[start:stop])
        assert np.array_equal(part.block_keys, eb.block_keys[start:stop])
    assert f.record_ids.equals(eb.record_ids)
    whole = f.load()
    assert np.array_equal(whole.clks, eb.clks) and whole.sha256 == f.sha256


@pytest.mark.parametrize("blocking", ["none", "keys", "lsh"])
def test_streamed_b_links_as_b_in_memory(files, whole, small_parts, blocking):
    """B read from the file 700 rows at a time gives the links of B held whole and scored in one part."""
    data, ea, _, _, path_b = files
    in_memory = whole[blocking]
    streamed = lk.link(ea, open_encoded(path_b), blocking=Blocking(blocking, sample=400))
    assert in_memory.links.equals(streamed.links) and len(in_memory.links) > 1000
    assert in_memory.summary() == streamed.summary()
    assert lk.evaluate(streamed.links, data.truth).f1 > 0.95


def test_cli_links_a_file_read_in_parts(files, small_parts, tmp_path):
    data, _, _, path_a, path_b = files
    r = run_cli("link", path_a, path_b, "--out", tmp_path / "l.parquet", "--blocking", "keys")
    assert r.exit_code == 0, r.output
    assert "peak memory" in r.output
    import polars as pl

    assert lk.evaluate(pl.read_parquet(tmp_path / "l.parquet"), data.truth).f1 > 0.95


def test_part_rows_bound_memory_and_feed_every_worker():
    assert part_rows(10_000_000) == 1 << 20
    assert part_rows(10_000_000, lists=64) == (1 << 28) // (16 * 64)
    assert part_rows(100_000, workers=2) == -(-100_000 // 4)
    assert part_rows(100, workers=4) == 4096  # not smaller than that: tasks would cost more than they do


def test_without_dask_the_options_say_what_to_install(monkeypatch, files, tmp_path):
    import builtins

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("distributed", "dask"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    _, _, _, path_a, path_b = files
    r = run_cli("link", path_a, path_b, "--out", tmp_path / "l.csv", "--workers", "2")
    assert_user_error(r, "need Dask", "pip install 'linkage[dask]'")
    assert not (tmp_path / "l.csv").exists()


def test_workers_and_scheduler_exclude_each_other(files, tmp_path):
    _, _, _, path_a, path_b = files
    r = run_cli("link", path_a, path_b, "--out", tmp_path / "l.csv", "--workers", "2", "--scheduler", "tcp://x:1")
    assert_user_error(r, "--workers", "--scheduler", "not both")


# --- on a Dask LocalCluster ---------------------------------------------------------------

@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("blocking", ["none", "keys", "lsh"])
def test_dask_links_exactly_as_one_process(files, whole, small_parts, scheduler, blocking):
    """Parts of B as tasks on two worker processes, merged as they finish: identical links and summary."""
    _, ea, _, _, path_b = files
    here = whole[blocking]
    there = lk.link(ea, open_encoded(path_b), cluster=Cluster(scheduler=scheduler),
                    blocking=Blocking(blocking, sample=400))
    assert there.engine == {"engine": "dask", "scheduler": scheduler, "workers": 2}
    assert here.links.equals(there.links) and len(here.links) > 1000
    assert {k: v for k, v in here.summary().items() if k != "engine"} == \
        {k: v for k, v in there.summary().items() if k != "engine"}


def test_dask_in_memory_b_is_sent_to_the_workers(files, whole, small_parts, scheduler):
    _, ea, eb, _, _ = files
    there = lk.link(ea, eb, blocking=Blocking("keys", sample=400), cluster=Cluster(scheduler=scheduler))
    assert whole["keys"].links.equals(there.links)


def test_cli_workers_start_a_local_cluster(files, tmp_path):
    _, _, _, path_a, path_b = files
    pytest.importorskip("distributed")
    one = tmp_path / "one.csv"
    two = tmp_path / "two.csv"
    assert run_cli("link", path_a, path_b, "--out", one, "--quiet").exit_code == 0
    r = run_cli("link", path_a, path_b, "--out", two, "--workers", "2", "--quiet")
    assert r.exit_code == 0, r.output
    assert "on Dask (2 workers, local scheduler)" in r.output
    assert one.read_text() == two.read_text()
    summary = json.loads((tmp_path / "two.csv.summary.json").read_text())
    assert summary["engine"]["workers"] == 2


def test_an_unreachable_scheduler_is_a_clear_error(files):
    pytest.importorskip("distributed")
    _, ea, eb, _, _ = files
    with pytest.raises(lk.LinkageError, match=r"could not reach a Dask scheduler at tcp://127\.0\.0\.1:9"):
        lk.link(ea, eb, cluster=Cluster(scheduler="tcp://127.0.0.1:9", timeout=1))


def test_open_runner_without_a_cluster_runs_here():
    with open_runner(None) as runner:
        assert runner.describe() == {"engine": "local"} and runner.workers == 1
        assert list(runner.map(lambda x, y: x + y, [1, 2], 10)) == [11, 12]
