"""The linkage unit's and researcher's command line: link, evaluate, demo; every bad input."""

import json
import shutil

import polars as pl
import pytest
from conftest import TEST_KEY, assert_user_error, raw_values
from conftest import run_cli as run

import linkage as lk
from linkage.errors import InputError
from linkage.provider.keys import write_key

SMALL = 400


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """Two providers' encoded files, made through the CLI from synthetic families."""
    d = tmp_path_factory.mktemp("enc")
    data = lk.synth_families(SMALL, seed=3)
    data.a.write_csv(d / "a.csv")
    data.b.write_csv(d / "b.csv")
    data.truth.write_csv(d / "truth.csv")
    write_key(d / "shared.key", TEST_KEY)  # a fixed key: the same scores every run
    for name in ("a", "b"):
        r = run("encode", d / f"{name}.csv", "--key-file", d / "shared.key", "--out", d / f"{name}.enc.parquet", "-q")
        assert r.exit_code == 0, r.output
    return d, data


@pytest.fixture(scope="module")
def links(encoded, tmp_path_factory):
    """A link table of the encoded files, down to score 0.3, for the evaluate tests."""
    d, _ = encoded
    out = tmp_path_factory.mktemp("links") / "links.csv"
    r = run("link", d / "a.enc.parquet", d / "b.enc.parquet", "--out", out, "--min-score", "0.3", "-q")
    assert r.exit_code == 0, r.output
    return out


def test_link_writes_pseudonymous_links_and_summary(tmp_path, encoded):
    d, data = encoded
    out = tmp_path / "links.csv"
    r = run("link", d / "a.enc.parquet", d / "b.enc.parquet", "--out", out, "-q")
    assert r.exit_code == 0, r.output
    assert "kernel" in r.stdout and "estimated from the data" in r.stdout and "estimated precision" in r.stdout
    links = pl.read_csv(out, infer_schema=False)
    assert links.columns == ["id_a", "id_b", "score", "band"]
    assert set(links["band"].to_list()) <= {"match", "possible"}
    assert links["id_a"].is_unique().all() and links["id_b"].is_unique().all()
    summary = json.loads((tmp_path / "links.csv.summary.json").read_text())
    assert summary["threshold_source"] == "estimated" and 0 < summary["threshold"] <= 1
    assert {"precision", "recall", "f1"} <= set(summary["estimated"])
    # Only pseudonymous ids, scores and bands: no identifier of either side anywhere.
    def values(obj):
        if isinstance(obj, dict):
            return [x for v in obj.values() for x in values(v)]
        return [str(obj)]

    text = out.read_text() + "\n".join(values(summary)) + r.output
    assert not [v for v in raw_values(data.a) | raw_values(data.b) if v in text]
    assert (d / "shared.key").read_bytes().hex() not in text


def test_link_threshold_override_min_score_and_parquet(tmp_path, encoded):
    d, _ = encoded
    out = tmp_path / "links.parquet"
    r = run("link", d / "a.enc.parquet", d / "b.enc.parquet", "--out", out, "--threshold", "0.8",
            "--review-width", "0.1", "--min-score", "0.3", "--kernel", "numpy", "-q")
    assert r.exit_code == 0, r.output
    assert "threshold 0.800 (given)" in r.stdout and "numpy kernel" in r.stdout
    links = pl.read_parquet(out)
    match = links.filter(pl.col("band") == "match")["score"]
    possible = links.filter(pl.col("band") == "possible")["score"]
    below = links.filter(pl.col("band") == "below")["score"]
    assert match.min() >= 0.8 and possible.max() < 0.8 and possible.min() >= 0.7 - 1e-9
    assert below.max() < 0.7 and below.min() >= 0.3


def test_same_result_with_either_kernel(encoded):
    d, _ = encoded
    a, b = lk.read_encoded(d / "a.enc.parquet"), lk.read_encoded(d / "b.enc.parquet")
    r1 = lk.link(a, b, kernel="numpy")
    r2 = lk.link(a, b, kernel="auto")
    assert r1.threshold == r2.threshold
    assert r1.links.equals(r2.links)


def test_evaluate_prints_quality_and_plots(tmp_path, encoded, links):
    d, _ = encoded
    r = run("evaluate", links, "--truth", d / "truth.csv", "--plot", tmp_path / "q.png")
    assert r.exit_code == 0, r.output
    for word in ("precision", "recall", "F1", "estimated at link time", "best threshold in hindsight"):
        assert word in r.stdout
    assert (tmp_path / "q.png").read_bytes()[:4] == b"\x89PNG"


def _copy(src, dst):
    shutil.copy(src, dst)
    shutil.copy(src.with_name(src.name + ".manifest.json"), dst.with_name(dst.name + ".manifest.json"))
    return dst


@pytest.mark.parametrize(
    "case, fragments",
    [
        ("not_encoded", ["manifest", "missing"]),
        ("not_encoded_with_manifest", ["not a Parquet file"]),
        ("truncated", ["size differs"]),
        ("altered", ["SHA-256 differs"]),
        ("other_key", ["different keys"]),
        ("other_schema", ["different schemas", "filter_length is 1024 in", "but 512 in"]),
        ("other_weight", ["different schemas", "field 'postcode' has weight 6 in", "but 7 in"]),
        ("empty", ["holds no encoded records"]),
        ("missing", ["not found"]),
        ("exists", ["already exists", "--force"]),
    ],
)
def test_link_refuses_bad_input(tmp_path, encoded, case, fragments):
    d, data = encoded
    a = _copy(d / "a.enc.parquet", tmp_path / "a.enc.parquet")
    b = tmp_path / "b.enc.parquet"
    out = tmp_path / "links.csv"
    if case == "not_encoded":
        b = d / "b.csv"
    elif case == "not_encoded_with_manifest":
        b.write_text("record_id,clk\n1,2\n")
        from linkage.format.encoded import manifest_path
        from linkage.format.files import file_sha256

        manifest_path(b).write_text(json.dumps({"sha256": file_sha256(b), "bytes": b.stat().st_size}))
    elif case in ("truncated", "altered"):
        _copy(d / "b.enc.parquet", b)
        data_b = bytearray(b.read_bytes())
        if case == "truncated":
            data_b = data_b[: len(data_b) // 2]
        else:
            data_b[len(data_b) // 3] ^= 0xFF
        b.write_bytes(bytes(data_b))
    elif case in ("other_key", "other_schema", "other_weight", "empty"):
        key = lk.generate_key() if case == "other_key" else lk.read_key(d / "shared.key")
        schema = {"other_schema": lk.Schema(filter_length=512),
                  "other_weight": lk.Schema.from_dict({"fields": {"postcode": {"weight": 7}}})}.get(case)
        frame = data.b.head(0) if case == "empty" else data.b
        lk.write_encoded(lk.encode_frame(frame, schema, key=key), b)
    elif case == "missing":
        b = tmp_path / "nothere.enc.parquet"
    elif case == "exists":
        _copy(d / "b.enc.parquet", b)
        out.write_text("keep me")
    r = run("link", a, b, "--out", out, "-q")
    assert_user_error(r, *fragments)
    if case == "exists":
        assert out.read_text() == "keep me"
    else:
        assert not out.exists() and not (tmp_path / "links.csv.summary.json").exists()


def test_a_rename_only_schema_links_with_default_encodings(tmp_path, encoded):
    d, data = encoded
    renamed = data.b.rename({"record_id": "PersonRef", "first_name": "Forename", "postcode": "PostCode"})
    renamed.write_csv(tmp_path / "b_own_columns.csv")
    (tmp_path / "s.toml").write_text(
        '[columns]\nrecord_id = "PersonRef"\nfirst_name = "Forename"\npostcode = "PostCode"\n')
    out = tmp_path / "b.enc.parquet"
    r = run("encode", tmp_path / "b_own_columns.csv", "--key-file", d / "shared.key", "--out", out,
            "--schema", tmp_path / "s.toml", "-q")
    assert r.exit_code == 0, r.output
    assert lk.read_encoded(out).clks.tobytes() == lk.read_encoded(d / "b.enc.parquet").clks.tobytes()
    r = run("link", d / "a.enc.parquet", out, "--out", tmp_path / "links.csv", "-q")
    assert r.exit_code == 0, r.output
    links = pl.read_csv(tmp_path / "links.csv", infer_schema=False)
    assert links.filter(pl.col("band") == "match").height > 0.9 * data.truth.height


def test_link_never_writes_over_an_input(tmp_path, encoded):
    d, _ = encoded
    a = _copy(d / "a.enc.parquet", tmp_path / "a.enc.parquet")
    before = a.read_bytes()
    weird = tmp_path / "a.parquet"
    _copy(d / "b.enc.parquet", weird)
    assert_user_error(run("link", a, weird, "--out", weird, "-q", "--force"), "is an input")
    assert a.read_bytes() == before


def test_schema_command_prints_default_and_resolves_a_file(tmp_path):
    r = run("schema")
    assert r.exit_code == 0
    (tmp_path / "default.toml").write_text(r.stdout)
    assert lk.Schema.from_toml(tmp_path / "default.toml") == lk.Schema.default()
    assert f"fingerprint {lk.Schema.default().fingerprint()}" in r.stdout
    (tmp_path / "mine.toml").write_text('[columns]\nrecord_id = "ref"\n[fields.nhs]\nkind = "exact"\n')
    r = run("schema", tmp_path / "mine.toml")
    assert r.exit_code == 0
    assert 'record_id = "ref"' in r.stdout and "[fields.nhs]" in r.stdout and "weight = 30" in r.stdout
    mine = lk.Schema.from_toml(tmp_path / "mine.toml")
    assert f"fingerprint {mine.fingerprint()}" in r.stdout
    (tmp_path / "bad.toml").write_text('[fields.x]\nkind = "shoe"\n')
    assert_user_error(run("schema", tmp_path / "bad.toml"), "bad.toml", "kind must be one of")


def test_evaluate_refuses_truth_without_columns(tmp_path, links):
    bad = tmp_path / "truth.csv"
    bad.write_text("left,right\nA1,B1\n")
    assert_user_error(run("evaluate", links, "--truth", bad), "id_a", "id_b")
    assert not (tmp_path / "q.png").exists()


def test_demo_runs_the_whole_path(tmp_path):
    r = run("demo", "--out", tmp_path / "demo", "--records", "300", "-q")
    assert r.exit_code == 0, r.output
    for step in ("1/6", "2/6", "3/6", "4/6", "5/6", "6/6", "estimated precision", "F1"):
        assert step in r.stdout
    assert (tmp_path / "demo" / "quality.png").exists()
    # Running it again refuses to overwrite unless --force, which names what it removes.
    assert_user_error(run("demo", "--out", tmp_path / "demo", "--records", "300", "-q"), "already exists")
    (tmp_path / "demo" / "mine.txt").write_text("not the demo's")
    r = run("demo", "--out", tmp_path / "demo", "--records", "300", "-q", "--force")
    assert r.exit_code == 0, r.output
    removed = r.stdout.splitlines()[0]
    assert removed.startswith("removing 13 files of an earlier demo") and "shared.key" in removed
    assert (tmp_path / "demo" / "mine.txt").read_text() == "not the demo's"


def test_evaluate_plot_needs_force_to_replace_and_an_existing_folder(tmp_path, encoded, links):
    d, _ = encoded
    out = links
    plot = tmp_path / "q.png"
    plot.write_text("keep")
    assert_user_error(run("evaluate", out, "--truth", d / "truth.csv", "--plot", plot), "already exists")
    assert plot.read_text() == "keep"
    assert_user_error(run("evaluate", out, "--truth", d / "truth.csv", "--plot", tmp_path / "no" / "q.png"),
                      "folder does not exist")
    r = run("evaluate", out, "--truth", d / "truth.csv", "--plot", plot, "--force")
    assert r.exit_code == 0 and "replaced (--force)" in r.stdout and plot.read_bytes()[:4] == b"\x89PNG"


def test_summary_records_what_was_linked(tmp_path, encoded):
    d, _ = encoded
    out = tmp_path / "links.csv"
    assert run("link", d / "a.enc.parquet", d / "b.enc.parquet", "--out", out, "-q").exit_code == 0
    s = json.loads((tmp_path / "links.csv.summary.json").read_text())
    from linkage.format.files import file_sha256

    for side, name in (("a", "a.enc.parquet"), ("b", "b.enc.parquet")):
        rec = s["inputs"][side]
        assert rec["sha256"] == file_sha256(d / name) and rec["file"] == name
        assert rec["records"] == rec["counts"]["encoded"] and rec["created"]
    assert s["tool_version"] == lk.__version__ and s["created"] and s["schema_fingerprint"]
    est = s["estimated"]
    assert est["precision_interval"][0] <= est["precision"] <= est["precision_interval"][1]
    assert est["evidence"] is True and est["match_model"]


def test_review_list_floor_and_whole_curve(tmp_path, encoded):
    d, _ = encoded
    out, review = tmp_path / "links.csv", tmp_path / "review.csv"
    r = run("link", d / "a.enc.parquet", d / "b.enc.parquet", "--out", out, "--review", review, "--min-score", "0.2",
            "--floor", "0.35", "--top-k", "0", "-q")
    assert r.exit_code == 0, r.output
    links = pl.read_csv(out, schema_overrides={"id_a": pl.Utf8, "id_b": pl.Utf8})
    assert links["score"].min() < 0.4  # below the default floor: the whole curve
    rev = pl.read_csv(review, schema_overrides={"id_a": pl.Utf8, "id_b": pl.Utf8})
    assert rev.columns == ["review_id", "candidate_of", "id_a", "id_b", "score"]
    possible = links.filter(pl.col("band") == "possible")
    heads = rev.filter(pl.col("candidate_of") == "link")
    assert heads.height == possible.height > 0
    assert set(zip(heads["id_a"], heads["id_b"])) == set(zip(possible["id_a"], possible["id_b"]))
    others = rev.filter(pl.col("candidate_of") == "a").join(heads.select("review_id", "id_a"), on="review_id")
    assert (others["id_a"] == others["id_a_right"]).all()  # an A record's other candidates are its own
    assert "clerical review" in r.stdout


def test_a_job_that_would_not_fit_in_memory_is_refused_first(tmp_path, encoded, monkeypatch):
    import importlib

    link_module = importlib.import_module("linkage.linker.link")  # the module (the package exports the function)
    d, _ = encoded
    monkeypatch.setattr(link_module, "_available_memory", lambda: 10_000)
    a, b = lk.read_encoded(d / "a.enc.parquet"), lk.read_encoded(d / "b.enc.parquet")
    with pytest.raises(InputError, match=r"would hold about .* pairs"):
        lk.link(a, b, top_k=0, min_score=0.0)
    assert lk.link(a, b, top_k=3).top_k == 3  # with top-k the memory is bounded: no refusal


def test_top_k_means_the_same_in_the_api_and_the_command(encoded):
    d, _ = encoded
    a, b = lk.read_encoded(d / "a.enc.parquet"), lk.read_encoded(d / "b.enc.parquet")
    every = lk.link(a, b, top_k=0, threshold=0.7)
    assert every.top_k is None and every.links.equals(lk.link(a, b, top_k=None, threshold=0.7).links)
    with pytest.raises(InputError, match="top_k"):
        lk.link(a, b, top_k=-1)


def test_link_tables_are_safe_in_a_spreadsheet(tmp_path):
    from linkage.format.links import write_links

    links = pl.DataFrame({"id_a": ["=HYPERLINK(\"x\")", "@A1", "ok"], "id_b": ["=cmd|' /C calc'!A0", "+1", "-2"],
                          "score": [0.9, 0.8, 0.7], "band": ["match", "match", "match"]})
    write_links(links, tmp_path / "l.csv")
    text = (tmp_path / "l.csv").read_text()
    for cell in ("'=HYPERLINK", "'@A1", "'=cmd", "'+1", "'-2"):
        assert cell in text
    assert "\n=" not in text and ",=" not in text and ",@" not in text


def test_a_file_linked_with_itself_is_refused_on_the_command_line(tmp_path, encoded):
    d, _ = encoded
    copy = _copy(d / "a.enc.parquet", tmp_path / "copy.enc.parquet")
    for other in (d / "a.enc.parquet", copy):
        assert_user_error(run("link", d / "a.enc.parquet", other, "--out", tmp_path / "l.csv", "-q"),
                          "hold the same encodings", "de-duplicate")
    assert not (tmp_path / "l.csv").exists()


def test_the_api_explains_itself(encoded):
    d, data = encoded
    a, b = lk.read_encoded(d / "a.enc.parquet"), lk.read_encoded(d / "b.enc.parquet")
    with pytest.raises(InputError, match=r"expected an Encoded .* got DataFrame"):
        lk.link(a.frame, b.frame)
    with pytest.raises(InputError, match="threshold must be a number"):
        lk.link(a, b, threshold="high")
    ev = lk.evaluate(lk.link(a, b).links, data.truth)
    assert str(ev) == ev.table() and "precision" in str(ev)
