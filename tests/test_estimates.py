"""The threshold estimate on real encodings: nothing to find, low overlap, relatives, its match-score model."""

import json

import numpy as np
import pytest
from conftest import TEST_KEY

import linkage as lk
from linkage.errors import InputError
from linkage.linker.threshold import MatchModel, default_match_model
from linkage.research.calibrate import calibrate
from linkage.research.synth import synth_families

OTHER_KEY = bytes(range(100, 132))


def encode(df, key=TEST_KEY):
    return lk.encode_frame(df, key=key)


@pytest.mark.parametrize("key", [TEST_KEY, OTHER_KEY])
def test_files_that_share_nobody_link_nothing_whatever_the_key(key):
    a = synth_families(4000, seed=11).a
    b = synth_families(4000, seed=12).b
    res = lk.link(encode(a, key), encode(b, key))
    assert res.threshold is None and not res.fit.evidence
    assert res.band_counts() == {} and res.links.height == 0
    assert res.summary()["threshold_source"] == "no evidence of matches"


def test_two_files_sharing_nobody_but_relatives_link_nothing():
    d = synth_families(4000, seed=13, overlap=0.0, relatives=0.8)
    assert d.truth.height == 0
    res = lk.link(encode(d.a), encode(d.b))
    assert res.threshold is None and res.band_counts() == {}


def test_a_file_with_itself_is_refused():
    a = encode(synth_families(500, seed=14).a)
    with pytest.raises(InputError, match=r"same encodings.*de-duplicate"):
        lk.link(a, a)
    shuffled = lk.encode_frame(synth_families(500, seed=14).a.reverse(), key=TEST_KEY)
    with pytest.raises(InputError, match="same encodings"):
        lk.link(a, shuffled)


@pytest.mark.parametrize(("overlap", "relatives", "seed"), [(0.03, 0.8, 21), (0.3, 1 / 3, 22)])
def test_estimates_hold_the_truth_at_low_overlap_and_among_relatives(overlap, relatives, seed):
    d = synth_families(6000, seed=seed, overlap=overlap, relatives=relatives)
    res = lk.link(encode(d.a), encode(d.b))
    ev = lk.evaluate(res.links, d.truth)
    f = res.fit
    assert f.model == "reference"
    (plo, phi), (rlo, rhi) = f.precision_interval, f.recall_interval
    assert plo - 0.01 <= ev.precision <= phi + 0.01 and rlo - 0.01 <= ev.recall <= rhi + 0.01
    assert abs(f.precision - ev.precision) <= 0.08 and abs(f.recall - ev.recall) <= 0.08
    if phi - plo > 0.05 or rhi - rlo > 0.05:  # not tight enough: it says so
        assert any("check a clerical sample" in w for w in f.warnings)
    assert ev.f1 >= 0.8


def test_the_packaged_model_is_the_one_calibration_makes():
    packaged = default_match_model(lk.Schema.default().fingerprint())
    assert packaged is not None
    made = calibrate()
    assert np.allclose(packaged.by_errors, made.by_errors, atol=1e-6)
    assert default_match_model("0" * 64) is None


def test_match_model_round_trip_and_refusals(tmp_path):
    m = MatchModel(np.ones((3, 201)), fingerprint="f", source="s", pairs=9)
    back = MatchModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert np.allclose(back.by_errors, m.by_errors) and back.fingerprint == "f" and back.pairs == 9
    for bad in (np.ones(5), -np.ones((2, 201)), np.zeros((1, 201))):
        with pytest.raises(ValueError):
            MatchModel(bad)
    with pytest.raises(ValueError):
        MatchModel.from_dict({"bins": 100, "by_errors": []})


def test_a_model_learnt_where_overlap_is_large_is_reused_where_it_is_small(tmp_path):
    from linkage.linker.link import read_match_model

    big = synth_families(3000, seed=31)
    res = lk.link(encode(big.a), encode(big.b))
    path = tmp_path / "big.summary.json"
    path.write_text(json.dumps(res.summary()))
    model = read_match_model(path)
    assert model.by_errors.shape == (1, 201) and model.pairs > 1000
    small = synth_families(4000, seed=32, overlap=0.05)
    again = lk.link(encode(small.a), encode(small.b), match_model=model)
    ev = lk.evaluate(again.links, small.truth)
    assert again.fit.model == "reference" and ev.f1 > 0.8
    assert abs(again.fit.precision - ev.precision) <= 0.1
    with pytest.raises(InputError, match="not a match model"):
        (tmp_path / "x.json").write_text("{}")
        read_match_model(tmp_path / "x.json")
