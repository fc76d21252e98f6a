import json

import numpy as np
import pytest

import linkage as lk
from linkage.errors import InputError, IntegrityError
from linkage.format.encoded import manifest_path


@pytest.fixture
def written(tmp_path, people, key):
    enc = lk.encode_frame(people, key=key)
    path = lk.write_encoded(enc, tmp_path / "a.enc.parquet", provider="council_a")
    return enc, path


def test_round_trip(written):
    enc, path = written
    back = lk.read_encoded(path)
    assert np.array_equal(back.clks, enc.clks)
    assert back.record_ids.to_list() == enc.record_ids.to_list()
    assert back.schema == enc.schema and back.key_check == enc.key_check and back.counts == enc.counts
    assert back.provider == "council_a" and back.field_issues == enc.field_issues


def test_no_overwrite_without_force(written):
    enc, path = written
    with pytest.raises(InputError, match="already exists"):
        lk.write_encoded(enc, path)
    lk.write_encoded(enc, path, force=True)


def test_altered_truncated_or_unmanifested_files_are_refused(written, tmp_path):
    _, path = written
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="SHA-256 differs"):
        lk.read_encoded(path)
    path.write_bytes(bytes(data[:-100]))
    with pytest.raises(IntegrityError, match="size differs"):
        lk.read_encoded(path)
    manifest_path(path).unlink()
    with pytest.raises(IntegrityError, match=r"manifest .* is missing"):
        lk.read_encoded(path)


def test_not_an_encoded_file(tmp_path, people):
    p = tmp_path / "x.enc.parquet"
    people.write_parquet(p)
    with pytest.raises(InputError, match="no linkage metadata"):
        lk.read_encoded(p, verify=False)
    q = tmp_path / "y.enc.parquet"
    q.write_text("hello")
    with pytest.raises(InputError, match="not a Parquet file"):
        lk.read_encoded(q, verify=False)
    with pytest.raises(InputError, match="not found"):
        lk.read_encoded(tmp_path / "missing.enc.parquet")


def test_manifest_holds_digest_and_counts(written):
    enc, path = written
    m = json.loads(manifest_path(path).read_text())
    assert m["counts"] == vars(enc.counts) and len(m["sha256"]) == 64 and m["bytes"] == path.stat().st_size
