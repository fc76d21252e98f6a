"""Hardening options (schema version 3): field keys, salts, balance, XOR-fold, diffusion, BLIP.

Each option changes the filters and the fingerprint and is deterministic for a key; the
defaults leave the encoding exactly as an unhardened schema's.
"""

import json
import math

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import TEST_KEY
from conftest import run_cli as run

import linkage as lk
from linkage.errors import InputError, SchemaError
from linkage.format.encoded import Encoded, popcounts
from linkage.provider.harden import blip_mask, from_sliced, plan_hardening, to_sliced
from linkage.provider.keys import derive_key, hkdf
from linkage.schema import Hardening, Salt

SALT = {"fields": ["first_name", "last_name"], "with": "date_of_birth", "part": "year"}
OPTIONS = {
    "field_keys": {"field_keys": True},
    "salt": {"salt": SALT},
    "keyed_salt": {"salt": {**SALT, "keyed": True}},
    "balance": {"balance": True},
    "xor_fold": {"xor_fold": True},
    "blip": {"blip": 0.05},
    "blip_seeded": {"blip": 0.05, "blip_seed": "run 2"},
    "diffusion": {"diffusion": 3},
    "diffusion_long": {"diffusion": 3, "diffusion_length": 2048},
}
OTHER_KEY = bytes(range(100, 132))
PLAIN = lk.Schema(hardening=Hardening())  # the default fields without hardening: today's encoding


def hardened(**options) -> lk.Schema:
    return lk.Schema(hardening={"profile": "none", **options})


def encode(df, schema, key=TEST_KEY):
    return lk.encode_frame(df, schema, key=key)


def dice(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 2 * popcounts(x & y) / np.maximum(popcounts(x) + popcounts(y), 1)


def bits(packed: np.ndarray) -> np.ndarray:
    return np.unpackbits(packed, axis=1).astype(bool)


def load(tmp_path, text: str) -> lk.Schema:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return lk.Schema.from_toml(p)


@pytest.fixture(scope="module")
def families():
    return lk.synth_families(600, seed=1)


def true_pairs(a, b, truth) -> tuple[np.ndarray, np.ndarray]:
    ia = {r: i for i, r in enumerate(a.record_ids.to_list())}
    ib = {r: i for i, r in enumerate(b.record_ids.to_list())}
    pairs = np.array([(ia[x], ib[y]) for x, y in truth.iter_rows() if x in ia and y in ib])
    return pairs[:, 0], pairs[:, 1]


# --- keys ---------------------------------------------------------------------------------

def test_hkdf_matches_the_rfc_5869_test_vectors():
    # A.1: basic test case with SHA-256.
    okm = hkdf(bytes([0x0B] * 22), salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)), length=42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")
    # A.3: zero-length salt and info.
    okm = hkdf(bytes([0x0B] * 22), length=42)
    assert okm.hex() == ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                         "9d201395faa4b61a96c8")
    with pytest.raises(ValueError):
        hkdf(b"k", length=255 * 32 + 1)


def test_derived_keys_are_per_label_and_per_secret():
    a, b = derive_key(TEST_KEY, "x"), derive_key(TEST_KEY, "y")
    assert len(a) == 32 and a != b and a == derive_key(TEST_KEY, "x") and a != derive_key(OTHER_KEY, "x")


# --- the schema ---------------------------------------------------------------------------

def test_no_hardening_is_exactly_todays_encoding(tmp_path, people):
    off = load(tmp_path, "version = 3\n[hardening]\nfield_keys = false\nblip = 0.0\ndiffusion = 0\n")
    default = PLAIN
    assert off == default == lk.Schema(hardening=Hardening())
    assert off.canonical_json() == default.canonical_json() and "hardening" not in off.canonical_json()
    assert off.fingerprint() == "78725b271b1e688ffe9152d24f0b7eef6c2933449265d1933ed5fb2a7b2168fb"
    assert off.output_length == off.filter_length == 1024
    assert off.to_dict()["version"] == 2 and "hardening" not in off.to_dict()  # older readers still read it
    assert np.array_equal(encode(people, off).clks, encode(people, default).clks)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_each_option_changes_the_filters_and_the_fingerprint_and_is_deterministic(name, people):
    schema = hardened(**OPTIONS[name])
    plain = encode(people, PLAIN)
    first, again, other = encode(people, schema), encode(people, schema), encode(people, schema, OTHER_KEY)
    assert schema.fingerprint() != PLAIN.fingerprint()
    assert json.loads(schema.canonical_json())["hardening"]["version"] == 1
    assert first.clks.shape == (len(people), schema.output_length // 8)
    assert np.array_equal(first.clks, again.clks)  # same input, same key: same filters
    assert first.clks.shape != plain.clks.shape or not np.array_equal(first.clks, plain.clks)
    assert not np.array_equal(first.clks, other.clks)
    # Another key gives unrelated filters: the same record scores like a stranger.
    same_key = dice(first.clks, again.clks).mean()
    assert same_key == 1.0 and dice(first.clks, other.clks).mean() < 0.8


def test_every_option_has_its_own_fingerprint():
    prints = {hardened(**o).fingerprint() for o in OPTIONS.values()} | {PLAIN.fingerprint()}
    assert len(prints) == len(OPTIONS) + 1


def test_output_length_follows_the_order_of_operations():
    assert hardened(balance=True).output_length == 2048
    assert hardened(xor_fold=True).output_length == 512
    assert hardened(balance=True, xor_fold=True).output_length == 1024
    assert hardened(xor_fold=True, diffusion=4).output_length == 512  # diffusion keeps its input length
    assert hardened(xor_fold=True, diffusion=4).hardening.diffusion_length == 512  # filled in
    assert hardened(balance=True, diffusion=4, diffusion_length=800).output_length == 800
    assert hardened(diffusion=3) == hardened(diffusion=3, diffusion_length=1024)


@pytest.mark.parametrize(
    "table, fragment",
    [
        ("blip = 0.5", "blip (the flip probability) must be a number from 0 to below 0.5"),
        ("blip = -0.1", "blip (the flip probability) must be"),
        ("blip = true", "blip (the flip probability) must be"),
        ('blip_seed = "x"', "blip_seed applies only with blip above 0"),
        ("diffusion = 1", "diffusion must be 0 (off) or a whole number from 2 to 16"),
        ("diffusion = 3\ndiffusion_length = 100", "diffusion_length must be 0 (the input length) or a multiple of 8"),
        ("diffusion = 3\ndiffusion_length = 32", "diffusion_length must be a multiple of 8 from 64 to 16384"),
        ("diffusion = 0\ndiffusion_length = 512", "diffusion_length applies only with diffusion"),
        ('balance = "yes"', "balance must be true or false"),
        ("colour = 1", "hardening: unknown key 'colour'"),
        ('[hardening.salt]\nfields = ["first_name", "last_name"]\nwith = "dob"', "with 'dob' is not a field"),
        ('[hardening.salt]\nfields = ["first_name"]\nwith = "date_of_birth"', "fields sharing feature 'name' are"),
        ('[hardening.salt]\nfields = ["postcode"]\nwith = "sex"\npart = "year"', "part 'year' needs a date field"),
        ('[hardening.salt]\nfields = ["sex"]\nwith = "sex"', "the field in with cannot salt itself"),
        ('[hardening.salt]\nfields = ["sex"]\nwith = "postcode"\npart = "week"', "part must be one of whole, year"),
        ('[hardening.salt]\nwith = "postcode"', "hardening salt: fields is required"),
        ('[hardening.salt]\nfields = []\nwith = "postcode"', "fields must be a non-empty list of field names"),
    ],
)
def test_bad_hardening_says_what_is_wrong(tmp_path, table, fragment):
    with pytest.raises(SchemaError) as e:
        load(tmp_path, f"version = 3\n[hardening]\n{table}\n")
    assert fragment in str(e.value) and "s.toml" in str(e.value)


def test_every_hardening_problem_is_listed_at_once(tmp_path):
    with pytest.raises(SchemaError) as e:
        load(tmp_path, 'version = 3\n[hardening]\nblip = 0.7\ndiffusion = 1\nxor_fold = "no"\nblip_seed = 3\n')
    assert len(e.value.problems) == 4
    with pytest.raises(SchemaError) as e:
        load(tmp_path, 'version = 3\n[hardening]\ncolour = 1\nblip = 0.7\n[hardening.salt]\nfields = "x"\nsize = 2\n')
    assert len(e.value.problems) == 5 and "unknown key 'size'" in str(e.value) and "with is required" in str(e.value)
    with pytest.raises(SchemaError) as e:
        load(tmp_path, 'version = 3\nfilter_length = 1001\nmin_fields = 7\n[hardening]\nblip = 0.7\n')
    assert len(e.value.problems) == 3 and "filter_length must be a multiple of 8" in str(e.value)
    with pytest.raises(SchemaError, match="xor_fold needs a filter length that is a multiple of 16"):
        load(tmp_path, 'version = 3\nfilter_length = 1032\n[hardening]\nxor_fold = true\n')
    assert load(tmp_path, 'version = 3\nfilter_length = 1032\n[hardening]\nxor_fold = true\nbalance = true\n')


def test_hardening_needs_version_3_and_versions_1_and_2_mean_none(tmp_path):
    with pytest.raises(SchemaError, match=r"\[hardening\] needs schema version 3"):
        load(tmp_path, "version = 2\n[hardening]\nbalance = true\n")
    with pytest.raises(SchemaError, match="unknown key 'hardening'"):
        load(tmp_path, 'version = 1\n[hardening]\nbalance = true\n')
    v1 = load(tmp_path, 'version = 1\nmin_fields = 1\n[[fields]]\nname = "first_name"\nkind = "name"\n')
    v2 = load(tmp_path, 'version = 2\n[fields.postcode]\nweight = 7\n')
    assert v1.hardening == v2.hardening == Hardening() and not v1.hardening.is_set
    assert v1.output_length == v1.filter_length


def test_a_hardened_schema_round_trips_through_toml_and_dicts(tmp_path):
    text = """
version = 3
filter_length = 512
[columns]
record_id = "ref"
[hardening]
field_keys = true
balance = true
xor_fold = true
blip = 0.05
blip_seed = "2026 run"
diffusion = 4
[hardening.salt]
fields = ["first_name", "last_name"]
with = "date_of_birth"
part = "year"
keyed = true
"""
    s = load(tmp_path, text)
    h = s.hardening
    assert h.salt == Salt(("first_name", "last_name"), "date_of_birth", "year", keyed=True)
    assert (h.field_keys, h.balance, h.xor_fold, h.blip, h.blip_seed, h.diffusion) == (
        True, True, True, 0.05, "2026 run", 4)
    assert h.diffusion_length == 512 and s.output_length == 512
    resolved = s.to_toml()
    assert "version = 3" in resolved and "[hardening.salt]" in resolved
    assert f"# fingerprint {s.fingerprint()}" in resolved
    assert load(tmp_path, resolved) == s
    assert lk.Schema.from_dict(s.to_dict()) == s
    assert lk.Schema.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_the_canonical_form_holds_only_what_is_set():
    h = json.loads(hardened(blip=0.1, xor_fold=True).canonical_json())["hardening"]
    assert h == {"version": 1, "xor_fold": True, "blip": 0.1, "blip_seed": ""}
    h = json.loads(hardened(salt=SALT).canonical_json())["hardening"]
    assert h == {"version": 1, "salt": {"fields": ["first_name", "last_name"], "with": "date_of_birth",
                                        "part": "year", "keyed": False}}


@pytest.mark.parametrize(
    "a, b, message",
    [
        ({"blip": 0.05}, {}, "hardening blip is 0.05 in A but 0 in B"),
        ({"blip": 0.05}, {"blip": 0.05, "blip_seed": "x"}, 'hardening blip_seed is "" in A but "x" in B'),
        ({"balance": True}, {}, "hardening balance is true in A but false in B"),
        ({}, {"diffusion": 3}, "hardening diffusion is 0 in A but 3 in B"),
        ({"salt": SALT}, {}, "hardening salt is on in A but off in B"),
        ({"salt": SALT}, {"salt": {**SALT, "part": "month"}}, 'hardening salt part is "year" in A but "month" in B'),
    ],
)
def test_difference_names_the_hardening_setting(a, b, message):
    assert hardened(**a).difference(hardened(**b)) == message
    assert hardened(**a).difference(hardened(**a)) is None


def test_hardening_describes_itself():
    h = hardened(field_keys=True, salt=SALT, balance=True, xor_fold=True, diffusion=3, blip=0.1).hardening
    lines = h.describe()
    assert len(lines) == 6 and "seeded by the key, the empty seed and the record id" in lines[-1]
    assert math.isclose(h.blip_epsilon, math.log(9)) and "epsilon 2.20 per bit" in lines[-1]
    assert Hardening().describe() == [] and Hardening().blip_epsilon == math.inf


# --- each option --------------------------------------------------------------------------

def test_field_keys_give_each_feature_its_own_key_and_keep_swapped_names_matching(people):
    swapped = people.with_columns(first_name=pl.col("last_name"), last_name=pl.col("first_name"))
    s = hardened(field_keys=True)
    assert np.array_equal(encode(people, s).clks, encode(swapped, s).clks)  # first and last name share a key
    # Another feature's key: the same field encoded under its own name sets other bits.
    renamed = lk.Schema(fields=(lk.Field("first_name", "name", feature="given"), *PLAIN.fields[1:]),
                        hardening={"field_keys": True})
    a, b = encode(people, s), encode(people, renamed)
    assert dice(a.clks, b.clks).mean() < 0.9


def test_balance_sets_exactly_half_the_bits():
    data = lk.synth_families(300, seed=2)
    enc = encode(data.a, hardened(balance=True))
    assert enc.clks.shape[1] * 8 == 2048
    assert (popcounts(enc.clks) == 1024).all()
    plain = encode(data.a, PLAIN)
    assert np.array_equal(np.sort(bits(enc.clks), axis=1), np.sort(np.hstack([bits(plain.clks), ~bits(plain.clks)]),
                                                                   axis=1))


def test_xor_fold_halves_the_filter(people):
    plain, folded = encode(people, PLAIN), encode(people, hardened(xor_fold=True))
    assert folded.clks.shape == (len(people), 64)
    assert np.array_equal(folded.clks, plain.clks[:, :64] ^ plain.clks[:, 64:])


def test_blip_flips_about_f_of_the_bits_the_same_for_a_record_every_run(families):
    f = 0.1
    plain = encode(families.a, PLAIN)
    noisy = encode(families.a, hardened(blip=f))
    flipped = bits(noisy.clks) ^ bits(plain.clks)
    assert abs(flipped.mean() - f) < 0.005
    assert abs(flipped.mean(axis=0) - f).max() < 0.1  # no bit is spared or singled out
    # Another run, its records in another order and fewer of them: each record keeps its flips.
    order = families.a.sample(fraction=0.5, seed=3)
    again = encode(order, hardened(blip=f))
    rows = {r: i for i, r in enumerate(noisy.record_ids.to_list())}
    idx = [rows[r] for r in again.record_ids.to_list()]
    assert np.array_equal(again.clks, noisy.clks[idx])
    # Another seed: other flips (two independent draws agree on about f * f of the bits).
    other = encode(families.a, hardened(blip=f, blip_seed="another run"))
    both = flipped & (bits(other.clks) ^ bits(plain.clks))
    assert both.mean() < 2 * f * f and not np.array_equal(other.clks, noisy.clks)


def test_blip_masks_are_independent_bits_with_probability_f():
    ids = [f"r{i}" for i in range(4000)]
    for f in (0.01, 0.25, 0.49):
        m = bits(blip_mask(ids, b"k" * 32, f, 72))
        assert m.shape == (4000, 72) and abs(m.mean() - f) < 0.01
        # Neighbouring bits are independent: both flipped about f * f of the time.
        assert abs((m[:, :-1] & m[:, 1:]).mean() - f * f) < 0.01


def test_diffusion_makes_each_output_bit_the_xor_of_exactly_t_inputs():
    for t, n_out in ((3, 1024), (5, 1024), (4, 1536), (16, 512)):
        plan = plan_hardening(hardened(diffusion=t, diffusion_length=n_out), TEST_KEY)
        unit = np.packbits(np.eye(1024, dtype=np.uint8), axis=1)  # input bit i alone, for each i
        out = bits(plan.apply(unit))  # (input bit, output bit): whether the input feeds the output
        assert out.shape == (1024, n_out)
        assert (out.sum(axis=0) == t).all()
        feeds = out.sum(axis=1)  # every input feeds t * n_out / n_in outputs, rounded down or up
        assert feeds.min() == t * n_out // 1024 and feeds.max() == -(-t * n_out // 1024)
        # Linear: the output of two inputs is the XOR of their outputs.
        both = bits(plan.apply(np.packbits(np.eye(1024, dtype=np.uint8)[:2].sum(axis=0, keepdims=True), axis=1)))
        assert np.array_equal(both[0], out[0] ^ out[1])
    p3 = plan_hardening(hardened(diffusion=3), TEST_KEY).positions
    assert not np.array_equal(p3, plan_hardening(hardened(diffusion=3), OTHER_KEY).positions)


@pytest.mark.parametrize("t", [3, 5])
def test_diffusion_keeps_similar_filters_similar(families, t):
    a, b = (encode(x, hardened(diffusion=t)) for x in (families.a, families.b))
    i, j = true_pairs(a, b, families.truth)
    true = dice(a.clks[i], b.clks[j])
    strangers = dice(a.clks[i], b.clks[np.random.default_rng(0).permutation(j)])
    assert np.median(true) > np.quantile(strangers, 0.99) + 0.2
    assert true.mean() > strangers.mean() + 0.3


def test_salting_by_year_separates_the_names_of_different_years():
    # Few bits per token in a long filter, so chance collisions are (for this key) none.
    fields = (lk.Field("first_name", "name", feature="name", weight=2), lk.Field("last_name", "name", feature="name",
              weight=2), lk.Field("date_of_birth", "date", weight=2))
    schema = lk.Schema(fields=fields, filter_length=16384, min_fields=1, hardening={"profile": "none", "salt": SALT})
    plain = lk.Schema(fields=fields, filter_length=16384, min_fields=1, hardening=Hardening())
    df = pl.DataFrame({
        "record_id": ["a", "b", "c", "d", "e"],
        "first_name": ["John", "John", "John", "John", "John"],
        "last_name": ["Smith", "Smith", "Smith", "Smith", "Smith"],
        "date_of_birth": ["1980-03-04", "1981-05-06", "1980-05-06", None, None],
    })
    salted, unsalted = encode(df, schema), encode(df, plain)
    shared = popcounts(salted.clks[[0, 0, 3]] & salted.clks[[1, 2, 4]])
    before = popcounts(unsalted.clks[[0, 0]] & unsalted.clks[[1, 2]])
    assert before[0] > 0  # unsalted, a and b share their names' bits
    assert shared[0] == 0  # salted with different years: no bit in common
    assert shared[1] == before[1]  # the same year: names (and year) agree as before
    assert np.array_equal(salted.clks[3], salted.clks[4])  # no year: the fixed "no salt" value


def test_keyed_salts_and_salts_by_the_whole_value_differ(people):
    year, keyed = hardened(salt=SALT), hardened(salt={**SALT, "keyed": True})
    whole = lk.Schema(hardening={"profile": "none", "salt": {"fields": ["postcode"], "with": "sex"}})
    assert whole.hardening.salt.part == "whole"
    encs = [encode(people, s).clks for s in (year, keyed, whole, PLAIN)]
    assert len({e.tobytes() for e in encs}) == 4


def test_salted_fields_encode_with_either_kernel(people):
    pytest.importorskip("numba")
    s = hardened(salt=SALT, field_keys=True, balance=True)
    a = lk.encode_frame(people, s, key=TEST_KEY, kernel="numba")
    b = lk.encode_frame(people, s, key=TEST_KEY, kernel="numpy")
    assert np.array_equal(a.clks, b.clks)


def test_bit_slicing_round_trips():
    rng = np.random.default_rng(5)
    for n, nbytes in ((64, 8), (128, 128), (640, 33)):
        packed = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
        sliced = to_sliced(packed)
        assert np.array_equal(bits(sliced), bits(packed).T)  # row i: bit i of every filter
        assert np.array_equal(from_sliced(sliced), packed)


def test_everything_at_once_is_deterministic_and_links(families):
    s = hardened(field_keys=True, salt=SALT, balance=True, xor_fold=True, diffusion=4, blip=0.02)
    a, b = encode(families.a, s), encode(families.b, s)
    assert np.array_equal(a.clks, encode(families.a, s).clks)
    curve = lk.evaluate(lk.link(a, b, threshold=0.6, min_score=0.3).links, families.truth).curve
    assert curve["f1"].max() > 0.85  # (0.91: salting by year costs the pairs whose years differ)


# --- files and the command line -----------------------------------------------------------

def test_a_hardened_file_round_trips_and_is_checked_against_its_output_length(tmp_path, people):
    s = hardened(balance=True, blip=0.05, blip_seed="x", salt=SALT)
    enc = encode(people, s)
    path = lk.write_encoded(enc, tmp_path / "h.enc.parquet", provider="p")
    meta = json.loads(pq.read_schema(path).metadata[b"linkage"])
    assert meta["schema"]["version"] == 3 and meta["output_length"] == 2048 and meta["filter_length"] == 1024
    back = lk.read_encoded(path)
    assert back.schema == s and np.array_equal(back.clks, enc.clks)
    assert pq.read_schema(path).field("clk").type.byte_width == 256
    wrong = Encoded(record_ids=enc.record_ids, clks=enc.clks[:, :128], schema=s,
                                      key_check=enc.key_check, counts=enc.counts)
    with pytest.raises(InputError, match="filters are 1024 bits but the schema's output length is 2048"):
        lk.write_encoded(wrong, tmp_path / "w.enc.parquet")


def test_linkage_link_and_inspect_work_on_hardened_files(tmp_path, families):
    s = hardened(field_keys=True, xor_fold=True, diffusion=3, blip=0.02)
    (tmp_path / "s.toml").write_text(s.to_toml())
    for name, df in (("a", families.a), ("b", families.b)):
        lk.write_encoded(encode(df, lk.Schema.from_toml(tmp_path / "s.toml")), tmp_path / f"{name}.enc.parquet",
                         provider=name)
    r = run("link", tmp_path / "a.enc.parquet", tmp_path / "b.enc.parquet", "--out", tmp_path / "links.csv",
            "--threshold", "0.7", "-q")
    assert r.exit_code == 0, r.output
    ev = lk.evaluate(pl.read_csv(tmp_path / "links.csv", infer_schema=False), families.truth)
    assert ev.f1 > 0.85
    r = run("inspect", tmp_path / "a.enc.parquet")
    assert r.exit_code == 0, r.output
    for fragment in ("output length:      512 bits, after hardening", "field keys", "xor-fold",
                     "diffusion: each of 512", "BLIP: each bit flipped with probability 0.02",
                     "flips seeded by the key"):
        assert fragment in r.stdout, fragment
    plain = tmp_path / "plain.enc.parquet"
    lk.write_encoded(encode(families.a, PLAIN), plain)
    assert "hardening:          none" in run("inspect", plain).stdout


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_filters_of_any_length_link(families, kernel):
    if kernel == "numba":
        pytest.importorskip("numba")
    s = hardened(diffusion=3, diffusion_length=200)  # 25 bytes: no whole machine word
    a, b = encode(families.a, s), encode(families.b, s)
    assert a.clks.shape[1] == 25
    assert lk.evaluate(lk.link(a, b, threshold=0.6, kernel=kernel).links, families.truth).f1 > 0.9


def test_files_of_different_hardening_are_refused_naming_the_setting(tmp_path, families):
    a = encode(families.a, hardened(blip=0.05))
    b = encode(families.b, PLAIN)
    with pytest.raises(lk.LinkageError, match=r"hardening blip is 0\.05 in A but 0 in B"):
        lk.link(a, b)


def test_a_schema_that_says_nothing_gets_the_default_profile(tmp_path):
    from linkage.schema import PROFILES

    default = lk.Schema.default()
    assert default == lk.Schema() == load(tmp_path, "")  # no version: the newest, with the default profile
    assert default.hardening == Hardening(**PROFILES["default"]).resolved(1024)
    assert load(tmp_path, "version = 2\n") == PLAIN  # version 2 knew no hardening
    assert load(tmp_path, '[hardening]\nprofile = "none"\n') == PLAIN
    more = load(tmp_path, "[hardening]\nblip = 0.05\n")  # options given override the profile, the rest stays
    assert more.hardening.diffusion == 5 and more.hardening.field_keys and more.hardening.blip == 0.05
    strong = load(tmp_path, '[hardening]\nprofile = "stronger"\n')
    assert strong.output_length == 2048 and strong.fingerprint() != default.fingerprint()
    with pytest.raises(SchemaError, match="profile must be one of"):
        load(tmp_path, '[hardening]\nprofile = "maximum"\n')
    # Written out, a schema reads back the same whatever the default profile is.
    assert default.to_dict()["hardening"]["profile"] == "none"
    assert lk.Schema.from_dict(default.to_dict()) == default
