"""The exchange contract, pinned: with a fixed key and fixed records, the exact filters, the key
check value and the fingerprints that linkage 0.1.0 produced (``tests/golden/exchange_v1.json``),
and a file it wrote (format version 1), which this version must still read and link.

Any change to these values must come with a new encoding, schema or format version.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkage as lk
from linkage.errors import InputError, IntegrityError
from linkage.format.encoded import FORMAT_VERSION, FORMAT_VERSIONS, manifest_path
from linkage.format.files import file_sha256
from linkage.provider.encode import hash_tokens
from linkage.provider.keys import key_check_value
from linkage.schema import ENCODING_VERSION, Hardening

GOLDEN = Path(__file__).parent / "golden"
PINNED = json.loads((GOLDEN / "exchange_v1.json").read_text(encoding="utf-8"))
KEY = bytes.fromhex(PINNED["key_hex"])
UNHARDENED = lk.Schema(hardening=Hardening())
RECORDS = pl.DataFrame(PINNED["records"], schema=dict.fromkeys(PINNED["records"], pl.Utf8))


def schema_of(case: dict) -> lk.Schema:
    return UNHARDENED if case["schema"] is None else lk.Schema.from_dict(case["schema"])


def test_key_check_value_is_pinned():
    assert key_check_value(KEY) == PINNED["key_check"]


def test_token_positions_are_pinned():
    h = PINNED["hash_tokens"]
    got = hash_tokens(h["tokens"], KEY, k=h["k"], filter_length=h["filter_length"])
    assert got.tolist() == h["positions"]


@pytest.mark.parametrize("name", sorted(PINNED["cases"]))
def test_fingerprint_and_filters_are_pinned(name):
    case = PINNED["cases"][name]
    schema = schema_of(case)
    assert schema.canonical_json() == case["canonical"]
    assert schema.fingerprint() == case["fingerprint"]
    enc = lk.encode_frame(RECORDS, schema, key=KEY)
    got = dict(zip(enc.record_ids.to_list(), (row.tobytes().hex() for row in enc.clks)))
    assert got == case["filters"]
    assert ENCODING_VERSION == 1  # these values are encoding version 1's


def test_the_published_fingerprints():
    # The default fields unhardened (linkage 0.1's default), and the default hardening profile since.
    assert UNHARDENED.fingerprint() == PINNED["cases"]["default"]["fingerprint"]
    assert UNHARDENED.fingerprint() == "78725b271b1e688ffe9152d24f0b7eef6c2933449265d1933ed5fb2a7b2168fb"
    assert lk.Schema.default().fingerprint() == "1e4f9c44da711dd736e52218e8118f55dc8473584106dd4baab274698bfed9f2"


def test_a_format_1_file_is_still_read_and_links_with_a_new_one(tmp_path):
    old = lk.read_encoded(GOLDEN / "format1.enc.parquet")
    assert old.provider == "golden_v1" and old.key_check == PINNED["key_check"]
    assert old.schema == UNHARDENED
    new = lk.encode_frame(RECORDS, UNHARDENED, key=KEY)
    assert np.array_equal(old.clks, new.clks)
    path = lk.write_encoded(new, tmp_path / "new.enc.parquet", provider="new")
    meta = json.loads(pq.read_schema(path).metadata[b"linkage"])
    assert meta["format_version"] == FORMAT_VERSION == 2 and meta["schema"]["version"] == 2
    with pytest.raises(InputError, match="hold the same encodings"):  # the same records, so the same file
        lk.link(old, lk.read_encoded(path))
    five = lk.encode_frame(RECORDS.filter(pl.col("record_id") != "p6"), UNHARDENED, key=KEY)
    res = lk.link(old, five, threshold=0.99)
    assert sorted(zip(res.links["id_a"], res.links["id_b"])) == [(r, r) for r in sorted(five.record_ids)]


def rewrite_metadata(src: Path, dst: Path, change) -> Path:
    """A copy of an encoded file with its metadata changed, and a manifest that matches it."""
    table = pq.read_table(src)
    meta = json.loads(table.schema.metadata[b"linkage"])
    change(meta)
    pq.write_table(table.replace_schema_metadata({b"linkage": json.dumps(meta).encode()}), dst)
    manifest_path(dst).write_text(json.dumps({"sha256": file_sha256(dst), "bytes": dst.stat().st_size}))
    return dst


@pytest.mark.parametrize(
    "change, found",
    [
        (lambda m: m.update(format_version=9), "format version 9 is not supported (this tool reads versions 1, 2)"),
        (lambda m: m.update(encoding_version=7), "encoding rules version 7 is not supported (this tool reads"),
        (lambda m: m["schema"].update(version=5),
         "schema version 5 is not supported (this tool reads versions 1, 2, 3)"),
    ],
)
def test_a_reader_names_the_version_it_found_and_those_it_reads(tmp_path, change, found):
    path = rewrite_metadata(GOLDEN / "format1.enc.parquet", tmp_path / "x.enc.parquet", change)
    with pytest.raises(IntegrityError) as e:
        lk.read_encoded(path)
    assert found in str(e.value) and str(path) in str(e.value)
    assert FORMAT_VERSIONS == (1, 2)


def test_the_golden_file_is_untouched(tmp_path):
    # The committed file must verify against its manifest, or the tests above prove nothing.
    shutil.copy(GOLDEN / "format1.enc.parquet", tmp_path / "g.enc.parquet")
    assert file_sha256(tmp_path / "g.enc.parquet") == json.loads(
        manifest_path(GOLDEN / "format1.enc.parquet").read_text())["sha256"]
    assert pq.read_schema(GOLDEN / "format1.enc.parquet").field("clk").type == pa.binary(128)


# --- hardened schemas (schema version 3): tests/golden/exchange_v3.json -------------------

PINNED_V3 = json.loads((GOLDEN / "exchange_v3.json").read_text(encoding="utf-8"))


def test_the_keyed_pieces_of_hardening_are_pinned():
    from linkage.provider.harden import blip_mask, diffusion_positions, feature_key, keyed_permutation
    from linkage.provider.keys import derive_key

    key = bytes.fromhex(PINNED_V3["key_hex"])
    assert key == KEY and PINNED_V3["records"] == "exchange_v1.json"
    stages = PINNED_V3["stages"]
    assert feature_key(key, "name").hex() == stages["field_key_name"]
    perm = keyed_permutation(derive_key(key, "linkage balance\x1f2048"), 2048)
    assert perm[:16].tolist() == stages["balance_permutation_2048_first_16"]
    assert diffusion_positions(key, 1024, 1024, 4)[:, :8].tolist() == stages["diffusion_1024_1024_4_first_8_columns"]
    mask = blip_mask(["p1"], derive_key(key, "linkage blip\x1fgolden"), 0.05, 1024)
    assert mask[0].tobytes().hex() == stages["blip_mask_p1_f0.05_seed_golden_1024"]


@pytest.mark.parametrize("name", sorted(PINNED_V3["cases"]))
def test_hardened_fingerprint_and_filters_are_pinned(name, tmp_path):
    case = PINNED_V3["cases"][name]
    schema = lk.Schema.from_dict(case["schema"])
    assert schema.hardening.is_set and schema.output_length == case["output_length"]
    assert schema.canonical_json() == case["canonical"]
    assert schema.fingerprint() == case["fingerprint"]
    enc = lk.encode_frame(RECORDS, schema, key=KEY)
    got = dict(zip(enc.record_ids.to_list(), (row.tobytes().hex() for row in enc.clks)))
    assert got == case["filters"]
    back = lk.read_encoded(lk.write_encoded(enc, tmp_path / "h.enc.parquet"))
    assert back.schema == schema and np.array_equal(back.clks, enc.clks)
    assert ENCODING_VERSION == 1 and json.loads(case["canonical"])["hardening"]["version"] == 1
