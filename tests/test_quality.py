"""Linkage quality with default settings and no labels: FEBRL4 and synthetic families.

The threshold is estimated from the data; the labels are used only to measure.
"""

import pytest
from conftest import TEST_KEY, febrl4_frames

import linkage as lk
from linkage.defaults import SYNTH_RECORDS as DEFAULT_RECORDS


def link_and_measure(a, b, truth):
    res = lk.link(lk.encode_frame(a, key=TEST_KEY), lk.encode_frame(b, key=TEST_KEY))
    ev = lk.evaluate(res.links, truth)
    print(f"threshold {res.threshold:.3f}: true P={ev.precision:.4f} R={ev.recall:.4f} F1={ev.f1:.4f}; "
          f"estimated P={res.fit.precision:.4f} R={res.fit.recall:.4f}")
    return res, ev


def test_febrl4_quality_and_estimates():
    res, ev = link_and_measure(*febrl4_frames())
    assert ev.f1 >= 0.98  # the floor; the target is 0.985
    assert abs(res.fit.precision - ev.precision) <= 0.02
    assert abs(res.fit.recall - ev.recall) <= 0.02


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_families_quality_and_estimates(seed):
    data = lk.synth_families(DEFAULT_RECORDS, seed=seed)
    res, ev = link_and_measure(data.a, data.b, data.truth)
    assert ev.f1 >= 0.97
    assert abs(res.fit.precision - ev.precision) <= 0.02
    assert abs(res.fit.recall - ev.recall) <= 0.02
