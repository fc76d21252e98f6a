"""Release under the separation principle, attach at the provider, assemble and suppress for researchers."""

import polars as pl
import pytest
from conftest import assert_user_error, run_cli

import linkage as lk
from linkage.linker.release import release
from linkage.provider.attach import attach

CLUSTERS = pl.DataFrame({
    "linkage_id": ["L1", "L1", "L1", "L2", "L2", "L3"],
    "provider": ["council", "dwp", "dfe", "council", "dwp", "dfe"],
    "record_id": ["c1", "d1", "s1", "c2", "d2", "s9"],
})


def test_a_release_holds_only_its_own_providers_ids_and_two_releases_share_none():
    one, two = release(CLUSTERS), release(CLUSTERS)
    assert set(one.tables) == {"council", "dwp", "dfe"}
    for provider, table in one.tables.items():
        own = set(CLUSTERS.filter(pl.col("provider") == provider)["record_id"])
        assert set(table["record_id"]) == own  # its own records, all of them, nobody else's
        assert table.columns == ["record_id", "linkage_id"]
        assert not set(table["linkage_id"]) & set(CLUSTERS["linkage_id"])  # not the linkage unit's cluster ids
    ids = lambda r: set(pl.concat(list(r.tables.values()))["linkage_id"])
    assert not ids(one) & ids(two)
    # records of one cluster share a release id; records of different clusters do not
    both = pl.concat([t.with_columns(pl.lit(p).alias("provider")) for p, t in one.tables.items()])
    joined = both.join(CLUSTERS, on=["provider", "record_id"])
    assert joined.group_by("linkage_id_right").agg(pl.col("linkage_id").n_unique())["linkage_id"].to_list() == [1] * 3
    assert joined["linkage_id"].n_unique() == 3


def test_a_provider_label_must_be_a_plain_name():
    with pytest.raises(lk.LinkageError, match="not plain names"):
        release(CLUSTERS.with_columns(pl.lit("../x").alias("provider")))


ATTRS = pl.DataFrame({"record_id": ["d1", "d1", "d2", "d7"], "spell_start": ["2023-01-02", "2024-02-01", "2023-05-05",
                                                                             "2022-01-01"],
                      "benefit": ["UC", "UC", "PIP", "UC"]})


def test_attach_swaps_record_ids_for_linkage_ids_and_accounts_for_every_row():
    rel = release(CLUSTERS).tables["dwp"]
    got = attach(rel, ATTRS)
    assert got.frame.columns == ["linkage_id", "spell_start", "benefit"]
    assert (got.rows_in, got.attached, got.not_released) == (4, 3, 1)
    assert set(got.frame["linkage_id"]) == set(rel["linkage_id"])


@pytest.mark.parametrize("column", ["first_name", "Surname", "date_of_birth", "dob", "postcode", "home_address",
                                   "nhs_number", "email", "First Name", "Date Of Birth", "client_name", "date_birth",
                                   "Post Code"])
def test_attach_refuses_identifier_columns(column):
    with pytest.raises(lk.LinkageError, match=f"column\\(s\\) {column} identify people"):
        attach(release(CLUSTERS).tables["dwp"], ATTRS.with_columns(pl.lit("x").alias(column)))


def test_attach_reads_record_ids_as_encode_does_and_keeps_numbers_as_numbers(tmp_path):
    rel = release(CLUSTERS).tables["dwp"]
    spaced = ATTRS.with_columns(pl.concat_str([pl.lit(" "), pl.col("record_id"), pl.lit(" ")]).alias("record_id"))
    assert attach(rel, spaced).attached == 3
    from linkage.format.files import write_safe_csv

    frame = pl.DataFrame({"change": ["-5.0", "+3", "-1e3", "=1+2", "-x"]})
    write_safe_csv(frame, tmp_path / "f.csv", keep_numbers=True)
    assert pl.read_csv(tmp_path / "f.csv", infer_schema=False)["change"].to_list() == [
        "-5.0", "+3", "-1e3", "'=1+2", "'-x"]


def test_attach_refuses_a_column_of_postcodes_whatever_its_name():
    attrs = ATTRS.with_columns(pl.Series("where", ["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH"]))
    with pytest.raises(lk.LinkageError, match="where identify people") as e:
        attach(release(CLUSTERS).tables["dwp"], attrs)
    assert "SW1A" not in str(e.value)


def test_assemble_joins_on_linkage_ids_and_refuses_record_ids():
    rel = release(CLUSTERS)
    council = attach(rel.tables["council"], pl.DataFrame({"record_id": ["c1", "c2"], "support": ["2023", "2024"]}))
    dwp = attach(rel.tables["dwp"], ATTRS)
    frame = lk.assemble({"council": council.frame, "dwp": dwp.frame})
    assert frame.columns == ["linkage_id", "council.support", "dwp.spell_start", "dwp.benefit"]
    assert frame.height == 3  # c1 has two spells, c2 one
    with pytest.raises(lk.LinkageError, match="holds record ids"):
        lk.assemble({"raw": ATTRS.with_columns(pl.lit("x").alias("linkage_id"))})
    with pytest.raises(lk.LinkageError, match="several rows per person"):
        lk.assemble({"a": dwp.frame, "b": dwp.frame})


def test_suppress_hides_small_counts_but_not_zero():
    table = pl.DataFrame({"group": ["x", "y", "z"], "before": [25, 3, 0], "after": [12.0, 9.0, 40.0]})
    out = lk.suppress(table, min_count=10)
    assert out["before"].to_list() == [25, None, 0] and out["after"].to_list() == [12.0, None, 40.0]
    assert out["suppressed_cells"].to_list() == [0, 2, 0]
    with pytest.raises(lk.LinkageError, match="not numbers"):
        lk.suppress(table.with_columns(pl.col("before").cast(pl.Utf8)), counts=["before"])


def test_release_and_attach_commands(tmp_path):
    CLUSTERS.write_csv(tmp_path / "clusters.csv")
    r = run_cli("release", tmp_path, "--out", tmp_path / "rel")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "rel").iterdir()) == ["council.csv", "dfe.csv", "dwp.csv", "release.json"]
    text = (tmp_path / "rel" / "release.json").read_text()
    assert "L1" not in text and "c1" not in text
    ATTRS.write_csv(tmp_path / "attrs.csv")
    r = run_cli("attach", tmp_path / "rel" / "dwp.csv", tmp_path / "attrs.csv", "--out", tmp_path / "a.parquet")
    assert r.exit_code == 0, r.output
    assert "rows in 4 = attached 3 + not in the release 1" in r.output
    assert "record_id" not in pl.read_parquet(tmp_path / "a.parquet").columns
    ATTRS.with_columns(pl.lit("AB1 2CD").alias("postcode")).write_csv(tmp_path / "bad.csv")
    r = run_cli("attach", tmp_path / "rel" / "dwp.csv", tmp_path / "bad.csv", "--out", tmp_path / "b.parquet")
    assert_user_error(r, "postcode", "identify people")
    assert "AB1" not in r.output and not (tmp_path / "b.parquet").exists()
    again = run_cli("release", tmp_path / "clusters.csv", "--out", tmp_path / "rel")
    assert_user_error(again, "exists")


def test_programme_demo_runs_the_whole_flow_and_leaks_no_identifier(tmp_path):
    out = tmp_path / "demo"
    r = run_cli("demo", "--programme", "--out", out, "--records", "2000", "--quiet")
    assert r.exit_code == 0, r.output
    assert "pairwise quality of the clusters" in r.output and "attached" in r.output
    extracts = {p.stem: pl.read_csv(p, infer_schema=False) for p in (out / "providers").glob("*.csv")
                if not p.name.endswith(".attributes.csv") and p.name != "truth.csv"}
    assert set(extracts) == {"council_1", "council_2", "council_3", "dwp", "moj", "dfe"}
    # What the linkage unit writes, and what researchers receive, hold no name, date of birth or postcode.
    unit = "\n".join(p.read_text() for p in [*(out / "linked").iterdir(), *(out / "release").iterdir()])
    researchers = "\n".join(p.read_text() for p in (out / "attributes").iterdir())
    for frame in extracts.values():
        for column in ("last_name", "postcode", "date_of_birth"):
            for value in frame[column].drop_nulls().head(30):
                if len(value) >= 6:
                    assert value not in unit, column
                    # attributes hold dates of their own (benefit spells), so only names and postcodes there
                    assert column == "date_of_birth" or value not in researchers, column
    # Researchers see no record id: attribute files carry linkage ids only.
    for p in (out / "attributes").iterdir():
        assert pl.read_csv(p, n_rows=1).columns[0] == "linkage_id"
    again = run_cli("demo", "--programme", "--out", out, "--records", "2000", "--quiet")
    assert_user_error(again, "earlier programme demo", "--force")
    assert run_cli("demo", "--programme", "--out", out, "--records", "2000", "--quiet", "--force").exit_code == 0


def test_synth_programme_command_writes_identifiers_attributes_and_truth(tmp_path):
    r = run_cli("synth", tmp_path, "--programme", "--records", "500")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "truth.csv" in names and "dwp.attributes.csv" in names and "council_3.csv" in names
    truth = pl.read_csv(tmp_path / "truth.csv", infer_schema=False)
    assert set(truth["provider"]) == {"council_1", "council_2", "council_3", "dwp", "moj", "dfe"}
    r = run_cli("synth", tmp_path, "--programme", "--files", "3")
    assert r.exit_code == 2
