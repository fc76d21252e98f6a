import numpy as np
import polars as pl
import pytest

import linkage as lk
from linkage.errors import SchemaError
from linkage.schema import KINDS

DEFAULT_COLUMNS = ["record_id", "first_name", "last_name", "date_of_birth", "sex", "postcode"]


def load(tmp_path, text: str) -> lk.Schema:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return lk.Schema.from_toml(p)


def test_default_schema_reads_the_default_columns_with_each_kinds_defaults():
    s = lk.Schema.default()
    assert s.input_columns == DEFAULT_COLUMNS
    assert s.filter_length == 1024 and s.min_fields == 2
    weights = {f.name: f.weight for f in s.fields}
    assert weights == {"first_name": 8, "last_name": 8, "date_of_birth": 20, "sex": 8, "postcode": 6}
    assert {f.name for f in s.fields if not f.linkable} == {"sex"}
    assert all(f.weight == KINDS[f.kind].weight for f in s.fields)


def test_a_rename_only_schema_encodes_exactly_as_the_default(tmp_path, people, key):
    s = load(tmp_path, """
version = 3
[columns]
record_id = "Person Ref"
first_name = "forename"
last_name = "surname"
date_of_birth = "dob"
""")
    assert s.input_columns == ["Person Ref", "forename", "surname", "dob", "sex", "postcode"]
    assert s.fingerprint() == lk.Schema.default().fingerprint()
    renamed = people.rename({"record_id": "Person Ref", "first_name": "forename", "last_name": "surname",
                             "date_of_birth": "dob"})
    a, b = lk.encode_frame(people, key=key), lk.encode_frame(renamed, s, key=key)
    assert np.array_equal(a.clks, b.clks) and a.record_ids.to_list() == b.record_ids.to_list()


def test_listing_a_field_keeps_the_others_and_takes_kind_defaults(tmp_path):
    s = load(tmp_path, """
[fields.first_name]
weight = 10
[fields.nhs_number]
kind = "exact"
[fields.middle_name]
kind = "name"
feature = "name"
""")
    names = [f.name for f in s.fields]
    assert names == ["first_name", "last_name", "date_of_birth", "sex", "postcode", "nhs_number", "middle_name"]
    f = {f.name: f for f in s.fields}
    assert f["first_name"].weight == 10 and f["first_name"].feature == "name" and f["first_name"].q == 2
    assert f["nhs_number"].weight == KINDS["exact"].weight and f["nhs_number"].q is None
    assert f["middle_name"].weight == KINDS["name"].weight and f["middle_name"].q == KINDS["name"].q
    assert f["date_of_birth"] == lk.Schema.default().fields[2]


def test_default_fields_false_keeps_only_the_fields_listed(tmp_path):
    s = load(tmp_path, """
default_fields = false
min_fields = 1
[fields.last_name]
[fields.date_of_birth]
swap_day_month = false
""")
    assert [f.name for f in s.fields] == ["last_name", "date_of_birth"]
    assert s.fields[0].feature == "name" and s.fields[1].option("swap_day_month") is False
    assert s.input_columns == ["record_id", "last_name", "date_of_birth"]


def test_changing_a_fields_kind_starts_from_the_new_kinds_defaults(tmp_path):
    s = load(tmp_path, '[fields.postcode]\nkind = "text"\n')
    f = s.fields[-1]
    assert (f.kind, f.weight, f.feature) == ("text", KINDS["text"].weight, "postcode")


def test_resolved_toml_round_trips_and_carries_the_fingerprint(tmp_path):
    s = load(tmp_path, '[columns]\nrecord_id = "id"\n[fields.nhs_number]\nkind = "exact"\nweight = 25\n')
    text = s.to_toml()
    assert f"# fingerprint {s.fingerprint()}" in text and "default_fields = false" in text
    assert load(tmp_path, text) == s
    assert lk.Schema.from_dict(s.to_dict()) == s


def test_version_1_files_keep_their_meaning(tmp_path):
    s = load(tmp_path, """
version = 1
filter_length = 2048
min_fields = 2
[[fields]]
name = "first_name"
kind = "name"
column = "forename"
feature = "name"
[[fields]]
name = "sex"
kind = "sex"
""")
    # Version 1: the list replaced the defaults, every weight defaulted to 10, every field was linkable.
    assert [f.name for f in s.fields] == ["first_name", "sex"]
    assert [f.weight for f in s.fields] == [10, 10] and all(f.linkable for f in s.fields)
    assert s.input_columns == ["record_id", "forename", "sex"]
    assert s.to_dict()["version"] == 2


def test_schema_error_lists_every_problem(tmp_path):
    with pytest.raises(SchemaError) as e:
        load(tmp_path, """
filter_length = 1000
colour = "blue"
[columns]
nickname = "nick"
[fields.x]
kind = "shoe"
weight = 0
[fields.y]
weight = 3
[fields.sex]
q = 3
[fields.last_name]
swap_day_month = false
""")
    msg = str(e.value)
    assert "s.toml" in msg
    for fragment in ("unknown key 'colour'", "field 'x': kind must be one of", "field 'x': weight must be",
                     "field 'y': kind is required", "q does not apply to kind 'sex'", "unknown key 'swap_day_month'"):
        assert fragment in msg, fragment
    with pytest.raises(SchemaError, match="'nickname' is not a field"):
        load(tmp_path, '[columns]\nnickname = "nick"\n')


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('version = 4\n', "schema version 4 is not supported (this tool reads versions 1, 2, 3)"),
        ('version = 2\n[[fields]]\nname = "a"\nkind = "name"\n', "an array [[fields]] is version 1"),
        ('[columns]\nfirst_name = "surname"\nlast_name = "surname"\n', "column 'surname' is read by two fields"),
        ('[columns]\nfirst_name = "last_name"\n', "column 'last_name' is read by two fields"),
        ('[fields.record_id]\nkind = "exact"\n', "record_id is the record identifier"),
        ('default_fields = false\nmin_fields = 1\n[fields.sex]\n', "at least one field must be linkable"),
        ('default_fields = false\n', "at least one field is needed"),
        ('min_fields = 9\n', "min_fields must be from 1 to the number of linkable fields (4)"),
        ('[fields.dob]\nkind = "date"\nswap_day_month = "yes"\n', "swap_day_month must be true or false"),
    ],
)
def test_bad_schemas_say_what_is_wrong(tmp_path, text, fragment):
    with pytest.raises(SchemaError) as e:
        load(tmp_path, text)
    assert fragment in str(e.value)


def test_unreadable_toml_is_a_schema_error(tmp_path):
    with pytest.raises(SchemaError, match="not valid TOML"):
        load(tmp_path, "fields = [[[")
    with pytest.raises(SchemaError, match="not found"):
        lk.Schema.from_toml(tmp_path / "missing.toml")


def test_the_fingerprint_covers_what_changes_the_filters_only(tmp_path):
    base = lk.Schema.default()
    same = [load(tmp_path, t) for t in ('min_fields = 3\n', '[columns]\nsex = "gender"\n',
                                         '[fields.sex]\nlinkable = true\n')]
    assert all(s.fingerprint() == base.fingerprint() for s in same)
    other = [load(tmp_path, t) for t in ('filter_length = 2048\n', '[fields.postcode]\nweight = 7\n',
                                          '[fields.first_name]\nq = 3\n', '[fields.first_name]\nfeature = "first"\n',
                                          '[fields.date_of_birth]\nswap_day_month = false\n')]
    assert len({s.fingerprint() for s in other} | {base.fingerprint()}) == len(other) + 1


@pytest.mark.parametrize(
    "text, message",
    [
        ('[fields.postcode]\nweight = 7\n', "field 'postcode' has weight 6 in A but 7 in B"),
        ('filter_length = 2048\n', "filter_length is 1024 in A but 2048 in B"),
        ('[fields.nhs]\nkind = "exact"\n', "field 'nhs' is encoded in B but not in A"),
        ('default_fields = false\n[fields.last_name]\n[fields.first_name]\n', "field 1 is 'first_name' in A but"),
        ('[fields.date_of_birth]\nswap_day_month = false\n', "field 'date_of_birth' has swap_day_month true in A"),
    ],
)
def test_difference_names_the_first_setting_that_differs(tmp_path, text, message):
    other = load(tmp_path, text)
    assert message in lk.Schema.default().difference(other)
    assert lk.Schema.default().difference(load(tmp_path, '[columns]\nsex = "g"\n')) is None


def test_fields_built_in_python_take_kind_defaults():
    f = lk.Field("dob", "date")
    assert (f.weight, f.q, f.feature, f.option("swap_day_month")) == (20, None, "dob", True)
    assert lk.Field("dob", "date", options={"swap_day_month": True}) == f
    with pytest.raises(SchemaError, match="q does not apply"):
        lk.Field("dob", "date", q=2)
    with pytest.raises(SchemaError, match="defined twice"):
        lk.Schema(fields=(f, f))
    with pytest.raises(SchemaError, match="filter_length"):
        lk.Schema(filter_length=1001)


def test_every_kind_is_one_table_with_its_defaults():
    assert set(KINDS) == {"name", "date", "sex", "postcode", "text", "exact"}
    raw = pl.DataFrame({"x": ["  Ann-Marie ", "", None]})
    for k in KINDS.values():
        assert 1 <= k.weight <= 64 and (k.q is None or 1 <= k.q <= 5) and k.description
        got = raw.select(k.standardise(pl.col("x")).alias("v"), k.problem(pl.col("x")).alias("p"))
        assert got["p"].to_list()[1:] == ["missing", "missing"]
