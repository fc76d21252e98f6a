"""Shared data for the benchmarks: seeded synthetic families, generated once per session."""

import pytest
from machine import machine

import linkage as lk


@pytest.fixture(scope="session")
def families_1m():
    return lk.synth_families(1_000_000, seed=1)


@pytest.fixture(scope="session")
def key():
    return lk.generate_key()


def pytest_report_header(config):
    from linkage.compiled import available

    return f"linkage benchmarks on {machine()}; numba kernels {'available' if available() else 'NOT available'}"
