import pytest

import linkage as lk


def test_default_schema_reads_the_default_columns():
    s = lk.Schema.default()
    assert s.columns == ["record_id", "first_name", "last_name", "date_of_birth", "sex", "postcode"]
    assert s.filter_length == 1024
    assert len(s.fingerprint()) == 64


def test_toml_renames_columns_adds_fields_and_keeps_fingerprint_of_encoding(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(
        """
version = 1
filter_length = 2048
min_fields = 3
[[fields]]
name = "first_name"
kind = "name"
column = "forename"
feature = "name"
weight = 12
[[fields]]
name = "middle_name"
kind = "name"
feature = "name"
weight = 6
q = 3
[[fields]]
name = "nhs_number"
kind = "exact"
weight = 30
"""
    )
    s = lk.Schema.from_toml(p)
    assert s.columns == ["record_id", "forename", "middle_name", "nhs_number"]
    assert s.filter_length == 2048 and s.min_fields == 3
    renamed = lk.Schema.from_dict({**s.to_dict(), "fields": [
        {**f, "column": None} for f in s.to_dict()["fields"]]})
    assert renamed.fingerprint() == s.fingerprint()  # input column names do not change the encoding
    heavier = lk.Schema.from_dict({**s.to_dict(), "fields": [
        {**f, "weight": f["weight"] + 1} for f in s.to_dict()["fields"]]})
    assert heavier.fingerprint() != s.fingerprint()


def test_schema_error_lists_every_problem(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(
        """
filter_length = 1000
colour = "blue"
[[fields]]
name = "x"
kind = "shoe"
weight = 0
[[fields]]
kind = "name"
"""
    )
    with pytest.raises(lk.SchemaError) as e:
        lk.Schema.from_toml(p)
    msg = str(e.value)
    assert str(p) in msg
    assert "unknown key 'colour'" in msg
    assert "kind must be one of" in msg and "weight must be" in msg and "name is required" in msg


def test_schema_rejects_duplicates_and_bad_lengths():
    f = lk.Field("a", "name")
    with pytest.raises(lk.SchemaError, match="defined twice"):
        lk.Schema(fields=(f, f))
    with pytest.raises(lk.SchemaError, match="filter_length"):
        lk.Schema(filter_length=1001)
    with pytest.raises(lk.SchemaError, match="min_fields"):
        lk.Schema(min_fields=9)


def test_unreadable_toml_is_a_schema_error(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("fields = [[[")
    with pytest.raises(lk.SchemaError, match="not valid TOML"):
        lk.Schema.from_toml(p)
    with pytest.raises(lk.SchemaError, match="not found"):
        lk.Schema.from_toml(tmp_path / "missing.toml")
