import numpy as np
import pandas as pd
import polars as pl
import pytest

import linkage as lk
from linkage.errors import InputError, KeyFileError
from linkage.provider.encode import REJECT_REASONS, hash_tokens
from linkage.schema import Hardening


def dice(x, y):
    a, b = np.unpackbits(x), np.unpackbits(y)
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_same_key_same_filters_other_key_unrelated(people, key):
    e1 = lk.encode_frame(people, key=key)
    e2 = lk.encode_frame(people.reverse(), key=key)
    other = lk.encode_frame(people, key=lk.generate_key())
    order = {r: i for i, r in enumerate(e2.record_ids.to_list())}
    for i, rid in enumerate(e1.record_ids.to_list()):
        assert np.array_equal(e1.clks[i], e2.clks[order[rid]])
        # Another key gives filters no more similar than chance (~ the fill rate).
        fill = np.unpackbits(np.concatenate([e1.clks[i], other.clks[i]])).mean()
        assert dice(e1.clks[i], other.clks[i]) < fill + 0.1
    assert e1.key_check == e2.key_check != other.key_check


def test_filter_shape_and_bit_order(people, key):
    enc = lk.encode_frame(people, key=key)
    assert enc.clks.shape == (6, 128) and enc.clks.dtype == np.uint8
    # Bit i is bit 7 - i % 8 of byte i // 8: unpackbits (big-endian) recovers positions.
    tokens = ["sex\x1fv\x1fm"]
    pos = hash_tokens(tokens, key, k=8, filter_length=1024)[0]
    sex_only = lk.Schema(fields=(lk.Field("sex", "sex", weight=8, linkable=True),), min_fields=1,
                         hardening=Hardening())  # unhardened: the bits are the token's positions
    one = lk.encode_frame(people.filter(pl.col("record_id") == "p2"), sex_only, key=key)
    assert set(np.flatnonzero(np.unpackbits(one.clks[0]))) == set(pos.tolist())


def test_hash_tokens_distinct_tokens_distinct_positions(key):
    pos = hash_tokens(["a", "b", "a"], key, k=40, filter_length=1000)
    assert pos.shape == (3, 40) and pos.max() < 1000 and pos.min() >= 0
    assert np.array_equal(pos[0], pos[2]) and not np.array_equal(pos[0], pos[1])


def test_equivalent_spellings_give_identical_filters(key):
    df = pl.DataFrame({
        "record_id": ["a", "b"],
        "first_name": ["Siobhán", "SIOBHAN"],
        "last_name": ["O'Brien", "o brien"],
        "date_of_birth": ["1979-03-05", "05/03/1979"],
        "sex": ["F", "2"],
        "postcode": ["LS6 2QW", "ls62qw"],
    })
    enc = lk.encode_frame(df, key=key)
    assert np.array_equal(enc.clks[0], enc.clks[1])


def test_swapped_names_agree_and_swapped_day_month_agree_partly(key):
    base = {"sex": ["F", "F", "F"], "postcode": ["B33 8TH"] * 3}
    df = pl.DataFrame({
        "record_id": ["a", "swapped_names", "swapped_dm"],
        "first_name": ["Mary", "Evans", "Mary"],
        "last_name": ["Evans", "Mary", "Evans"],
        "date_of_birth": ["1950-03-07", "1950-03-07", "1950-07-03"],
        **base,
    })
    enc = lk.encode_frame(df, key=key)
    assert np.array_equal(enc.clks[0], enc.clks[1])
    # Unhardened, the order-free day-month token adds bits both filters share, which can
    # only raise Dice (a shared bit adds 2 to the numerator and at most 2 to the sum).
    plain = {"hardening": {"profile": "none"}}
    on = lk.encode_frame(df, lk.Schema.from_dict(plain), key=key)
    off = lk.encode_frame(df, lk.Schema.from_dict({**plain, "fields": {"date_of_birth": {"swap_day_month": False}}}),
                          key=key)
    assert dice(on.clks[0], on.clks[2]) > dice(off.clks[0], off.clks[2])


def test_swapped_day_month_agrees_partly_on_average_under_default_hardening(key):
    # Diffusion mixes bits, so one pair may go either way by a hair; over many people the
    # shared token must show.
    rng = np.random.default_rng(7)
    n = 300
    day, month = rng.integers(1, 13, n), rng.integers(1, 13, n)
    day = np.where(day == month, day % 12 + 1, day)
    year = rng.integers(1940, 2010, n)
    names = [f"name{i:04d}" for i in range(n)]
    df = pl.DataFrame({
        "record_id": [f"a{i}" for i in range(n)] + [f"b{i}" for i in range(n)],
        "first_name": names * 2, "last_name": ["Evans"] * 2 * n,
        "date_of_birth": [f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(year, month, day)]
                         + [f"{y}-{d:02d}-{m:02d}" for y, m, d in zip(year, month, day)],
        "sex": ["F"] * 2 * n, "postcode": ["B33 8TH"] * 2 * n,
    })
    off = lk.Schema.from_dict({"fields": {"date_of_birth": {"swap_day_month": False}}})

    def mean_dice(enc):
        return np.mean([dice(enc.clks[i], enc.clks[n + i]) for i in range(n)])

    assert lk.encode_frame(df, key=key).schema.hardening.is_set
    assert mean_dice(lk.encode_frame(df, key=key)) > mean_dice(lk.encode_frame(df, off, key=key))


def test_accounting_opt_out_rejects_and_issues(people, key):
    df = pl.concat([people, pl.DataFrame({
        "record_id": ["p1", "", "p9", "p10"],
        "first_name": ["Dup", "NoId", None, "Ann"],
        "last_name": ["Dup", "NoId", None, "Lee"],
        "date_of_birth": [None, None, "31/02/1985", None],
        "sex": [None, None, "F", None],
        "postcode": [None, None, None, "!!"],
    })])
    enc = lk.encode_frame(df, key=key, opt_out=["p2", "p10", "not-there"])
    c = enc.counts
    assert (c.rows_in, c.encoded, c.rejected, c.opted_out) == (10, 4, 4, 2)
    assert dict(zip(enc.rejects["row"].to_list(), enc.rejects["reason"].to_list())) == {
        1: "duplicate_record_id", 7: "duplicate_record_id", 8: "missing_record_id", 9: "too_few_fields"}
    assert sorted(enc.record_ids.to_list()) == ["p3", "p4", "p5", "p6"]
    assert enc.field_issues["date_of_birth"] == {"missing": 2, "impossible": 1}
    assert enc.field_issues["postcode"] == {"missing": 3}  # p10's '!!' was opted out, not counted
    assert enc.field_issues["sex"] == {"missing": 2, "not_known": 1}


def test_missing_column_is_an_input_error(people, key):
    with pytest.raises(InputError, match=r"missing column.*postcode"):
        lk.encode_frame(people.drop("postcode"), key=key)


def test_short_key_is_refused(people):
    with pytest.raises(KeyFileError, match="shorter than 16"):
        lk.encode_frame(people, key=b"short")


def test_pandas_input_and_numeric_columns(people, key):
    pdf = people.to_pandas()
    pdf["sex"] = [2.0, 1.0, 2.0, 1.0, 2.0, np.nan]
    enc_pd = lk.encode_frame(pdf, key=key)
    enc_pl = lk.encode_frame(people, key=key)
    assert enc_pd.record_ids.to_list() == enc_pl.record_ids.to_list()
    assert np.array_equal(enc_pd.clks[:5], enc_pl.clks[:5])
    assert isinstance(pdf, pd.DataFrame)


def test_encoded_holds_no_raw_identifiers(people, key):
    from conftest import raw_values

    enc = lk.encode_frame(people, key=key)
    visible = repr(enc) + repr(enc.frame) + repr(enc.rejects) + repr(enc.field_issues)
    assert not [v for v in raw_values(people) if v in visible]


def test_field_length_not_multiple_of_64(people, key):
    s = lk.Schema(filter_length=200)
    enc = lk.encode_frame(people, s, key=key)
    assert enc.clks.shape == (6, 25)
    assert np.unpackbits(enc.clks, axis=1).sum(axis=1).min() > 10


@pytest.mark.parametrize("length", [1024, 512, 200, 64])
def test_encoding_kernels_give_identical_filters(length, key):
    from linkage.compiled import available

    if not available():
        pytest.skip("numba not importable here")
    data = lk.synth_families(300, seed=11)
    schema = lk.Schema(filter_length=length)
    ref = lk.encode_frame(data.b, schema, key=key, kernel="numpy")
    fast = lk.encode_frame(data.b, schema, key=key, kernel="numba")
    assert ref.kernel == "numpy" and fast.kernel == "numba"
    assert np.array_equal(ref.clks, fast.clks)
    assert ref.record_ids.to_list() == fast.record_ids.to_list()


@pytest.mark.parametrize("rid, reason", [
    ("=HYPERLINK(x)", "record_id_formula"), ("+441234", "record_id_formula"), ("-12", "record_id_formula"),
    ("@SUM(A1)", "record_id_formula"), ("a\tb", "record_id_control_character"),
    ("a\nb", "record_id_control_character"), ("a\rb", "record_id_control_character"),
    ("a\x00b", "record_id_control_character"), ("a\u2028b", "record_id_control_character"),
    ("x" * 129, "record_id_too_long"), ("x" * 5_000_000, "record_id_too_long"),
])
def test_record_ids_a_link_table_must_not_carry_are_rejected(people, key, rid, reason):
    df = people.with_columns(pl.Series("record_id", [rid, "p2", "p3", "p4", "p5", "p6"]))
    enc = lk.encode_frame(df, key=key)
    assert enc.rejects.select("row", "reason").rows() == [(1, reason)]
    assert enc.record_ids.to_list() == ["p2", "p3", "p4", "p5", "p6"]
    assert reason in REJECT_REASONS


def test_record_ids_within_the_limits_are_kept(people, key):
    ok = ["x" * 128, " padded ", "a-b", "a=b", "Ünïcode", "12"]
    enc = lk.encode_frame(people.with_columns(pl.Series("record_id", ok)), key=key)
    assert enc.counts.encoded == 6 and enc.record_ids.to_list()[:2] == ["x" * 128, "padded"]


def test_a_5mb_name_is_too_long_and_costs_no_more_than_reading_it(people, key):
    import time

    from linkage.provider.standardise import MAX_FIELD_CHARS

    lk.encode_frame(people, key=key)  # warm up (a compiled kernel is built once)
    huge = "Siobhan" * 750_000  # 5.25 MB
    df = people.with_columns(pl.when(pl.col("record_id") == "p3").then(pl.lit(huge))
                             .otherwise(pl.col("first_name")).alias("first_name"))
    start = time.perf_counter()
    enc = lk.encode_frame(df, key=key)
    assert time.perf_counter() - start < 2.0
    assert enc.field_issues["first_name"] == {"too_long": 1}
    # Left out like a missing value: the record still encodes on its other fields.
    without = lk.encode_frame(df.with_columns(pl.lit(None, dtype=pl.Utf8).alias("first_name")), key=key)
    assert enc.counts.encoded == 6 and np.array_equal(enc.clks[2], without.clks[2])
    assert "Siobhan" not in repr(enc.field_issues) + repr(enc.rejects)
    # At the limit a value is still encoded.
    edge = people.with_columns(pl.lit("a" * MAX_FIELD_CHARS).alias("first_name"))
    assert "too_long" not in lk.encode_frame(edge, key=key).field_issues["first_name"]


def test_row_problems_from_reading_reject_rows_after_opt_outs(people, key):
    df = pl.concat([people, people.head(1).with_columns(pl.lit("p7").alias("record_id"))])
    problems = [None, "short_row", "long_row", None, None, None, None]
    enc = lk.encode_frame(df, key=key, opt_out=["p3"], row_problems=problems)
    c = enc.counts
    assert (c.rows_in, c.encoded, c.rejected, c.opted_out) == (7, 5, 1, 1)
    assert enc.rejects.select("row", "reason").rows() == [(2, "short_row")]  # p3 opted out: in no output
    # Every copy of a duplicated id is rejected, a malformed copy included.
    dup = people.with_columns(pl.Series("record_id", ["p1", "p1", "p3", "p4", "p5", "p6"]))
    enc = lk.encode_frame(dup, key=key, row_problems=["long_row", None, None, None, None, None])
    assert enc.rejects.select("row", "reason").rows() == [(1, "long_row"), (2, "duplicate_record_id")]
    with pytest.raises(ValueError, match="row_problems"):
        lk.encode_frame(people, key=key, row_problems=[None])
