"""Tests for the synthetic two-provider data generator."""

from __future__ import annotations

import polars as pl
import pytest

from linkage.research.synth import SynthData, synth_families

RECORDS = 2000
COLUMNS = ["record_id", "first_name", "last_name", "date_of_birth", "sex", "postcode"]
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%d-%m-%Y", "%d.%m.%Y"]


@pytest.fixture(scope="module")
def data() -> SynthData:
    return synth_families(RECORDS, seed=0)


def _norm(col: str) -> pl.Expr:
    """Case, whitespace and empty strings normalised away."""
    text = pl.col(col).str.strip_chars().str.to_lowercase().str.replace_all(" ", "")
    return pl.when(text == "").then(None).otherwise(text)


def _dob(col: str = "date_of_birth") -> pl.Expr:
    """Dates of birth parsed from any of the formats in use; null if invalid."""
    text = pl.col(col).str.strip_chars()
    return pl.coalesce([text.str.to_date(f, strict=False) for f in DATE_FORMATS])


def _non_matches_b(d: SynthData) -> pl.DataFrame:
    return d.b.join(d.truth, left_on="record_id", right_on="id_b", how="anti")


def test_deterministic_for_a_seed() -> None:
    one, two = synth_families(500, seed=42), synth_families(500, seed=42)
    assert one.a.equals(two.a)
    assert one.b.equals(two.b)
    assert one.truth.equals(two.truth)


def test_different_seeds_differ() -> None:
    one, two = synth_families(500, seed=1), synth_families(500, seed=2)
    assert not one.a.equals(two.a)
    assert not one.b.equals(two.b)
    assert one.a["record_id"].is_in(two.a["record_id"].implode()).sum() == 0


def test_shapes_and_columns(data: SynthData) -> None:
    assert data.a.height == RECORDS
    assert 0.8 * RECORDS <= data.b.height <= 1.2 * RECORDS
    for frame in (data.a, data.b):
        assert frame.columns == COLUMNS
        assert all(dtype == pl.Utf8 for dtype in frame.dtypes)
    assert data.truth.columns == ["id_a", "id_b"]
    assert all(dtype == pl.Utf8 for dtype in data.truth.dtypes)


def test_record_ids_unique_and_uninformative(data: SynthData) -> None:
    for frame, prefix in ((data.a, "A"), (data.b, "B")):
        ids = frame["record_id"]
        assert ids.null_count() == 0
        assert ids.n_unique() == frame.height
        assert ids.str.starts_with(prefix).all()
    # Matching ids share nothing beyond the side prefix.
    assert (data.truth["id_a"].str.slice(1) != data.truth["id_b"].str.slice(1)).all()


def test_rows_are_shuffled(data: SynthData) -> None:
    # Matched records are not simply the first rows of either extract.
    matched_a = data.a["record_id"].is_in(data.truth["id_a"].implode())
    matched_b = data.b["record_id"].is_in(data.truth["id_b"].implode())
    n = data.truth.height
    assert matched_a.head(n).mean() < 0.8
    assert matched_b.head(n).mean() < 0.8


def test_truth_is_one_to_one_and_refers_to_existing_records(data: SynthData) -> None:
    truth = data.truth
    assert truth.null_count().sum_horizontal().item() == 0
    assert truth["id_a"].n_unique() == truth.height
    assert truth["id_b"].n_unique() == truth.height
    assert truth["id_a"].is_in(data.a["record_id"].implode()).all()
    assert truth["id_b"].is_in(data.b["record_id"].implode()).all()


def test_truth_fraction(data: SynthData) -> None:
    assert 0.5 <= data.truth.height / data.a.height <= 0.8
    # A has people not in B, and B has people not in A.
    assert data.truth.height < data.a.height
    assert data.truth.height < data.b.height


def test_true_pairs_mostly_agree(data: SynthData) -> None:
    pairs = data.truth.join(data.a, left_on="id_a", right_on="record_id").join(
        data.b, left_on="id_b", right_on="record_id", suffix="_b"
    )
    pairs = pairs.with_columns(_dob().alias("dob_a"), _dob("date_of_birth_b").alias("dob_b"))
    agree = pairs.select(
        first=(_norm("first_name") == _norm("first_name_b")).mean(),
        last=(_norm("last_name") == _norm("last_name_b")).mean(),
        dob=(pl.col("dob_a") == pl.col("dob_b")).mean(),
        postcode=(_norm("postcode") == _norm("postcode_b")).mean(),
    ).row(0, named=True)
    # Corrupted, but recognisably the same people.
    for field, rate in agree.items():
        assert 0.6 < rate < 0.99, (field, rate)


def test_relatives_share_household_with_a(data: SynthData) -> None:
    a_households = data.a.select(
        _norm("last_name").alias("last"), _norm("postcode").alias("pc")
    ).drop_nulls().unique()
    others = _non_matches_b(data).select(
        _norm("last_name").alias("last"), _norm("postcode").alias("pc")
    )
    relatives = others.join(a_households, on=["last", "pc"], how="semi")
    # About a third of non-matches are relatives; corruption hides some.
    assert relatives.height >= 0.1 * others.height
    assert relatives.height >= 30


def test_twins_exist_in_a(data: SynthData) -> None:
    a = data.a.select(
        _norm("first_name").alias("first"),
        _norm("last_name").alias("last"),
        _norm("postcode").alias("pc"),
        _dob().alias("dob"),
    ).drop_nulls()
    twins = (
        a.group_by("last", "pc", "dob")
        .agg(pl.col("first").n_unique().alias("people"))
        .filter(pl.col("people") >= 2)
    )
    assert twins.height >= 3


def test_formats_vary(data: SynthData) -> None:
    shapes = data.b["date_of_birth"].drop_nulls().str.replace_all(r"\d", "9")
    common = shapes.value_counts().filter(pl.col("count") >= 10)["date_of_birth"].to_list()
    assert {"99/99/9999", "9999-99-99"} <= set(common)
    assert len(common) >= 3
    # Each provider has its own dominant date format.
    a_shapes = data.a["date_of_birth"].drop_nulls().str.replace_all(r"\d", "9")
    assert a_shapes.mode().to_list() == ["9999-99-99"]
    assert shapes.mode().to_list() == ["99/99/9999"]
    for frame in (data.a, data.b):
        assert frame["sex"].drop_nulls().n_unique() >= 4
    postcodes = data.b["postcode"].drop_nulls()
    assert postcodes.str.contains(" ").any()
    assert (~postcodes.str.contains(" ") & (postcodes != "")).any()
    assert postcodes.str.contains("[a-z]").any()


def test_missing_values_exist(data: SynthData) -> None:
    for frame in (data.a, data.b):
        fields = frame.drop("record_id")
        assert fields.null_count().sum_horizontal().item() > 0
    b_fields = data.b.drop("record_id")
    assert sum((b_fields[c] == "").sum() for c in b_fields.columns) > 0


def test_some_dates_of_birth_in_a_are_invalid(data: SynthData) -> None:
    a = data.a.with_columns(_dob().alias("dob"))
    given = pl.col("date_of_birth").is_not_null() & (pl.col("date_of_birth").str.strip_chars() != "")
    invalid = a.filter(given & pl.col("dob").is_null()).height
    assert 1 <= invalid <= 0.02 * RECORDS
    # B's dates, though corrupted, are all real dates.
    b = data.b.with_columns(_dob().alias("dob"))
    assert b.filter(given & pl.col("dob").is_null()).height == 0


def test_postcodes_are_valid_uk_format(data: SynthData) -> None:
    pattern = r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABDEFGHJLNPQRSTUWXYZ]{2}$"
    for frame in (data.a, data.b):
        pc = frame["postcode"].drop_nulls().str.strip_chars().str.to_uppercase()
        pc = pc.filter(pc != "")
        assert pc.str.contains(pattern).all()


def test_name_variety(data: SynthData) -> None:
    firsts = set(data.a["first_name"].drop_nulls().to_list())
    lasts = set(data.a["last_name"].drop_nulls().to_list())
    assert len(firsts) > 150
    assert len(lasts) > 150
    assert any(any(ord(ch) > 127 for ch in name) for name in firsts | lasts)


def test_small_extracts() -> None:
    d = synth_families(1, seed=3)
    assert d.a.height == 1
    assert d.b.columns == COLUMNS
    with pytest.raises(ValueError):
        synth_families(0)
