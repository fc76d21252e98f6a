"""Synthetic extracts from data providers, built from UK households.

The generator gives realistic test data for record linkage: two provider
extracts, ``a`` and ``b``, that share some people, and the ground truth
(which pairs of records are the same person) from :func:`synth_families`;
or several providers' extracts of one population, with who is who, from
:func:`synth_files`.

Generative model
----------------
1. **Households.**  A population of UK households is drawn.  Household size
   follows roughly the census distribution (1 to 6 people).  Each household
   has a head, sometimes a partner (the two usually share a surname, but
   not always), and children.  All members share a postcode, built from a
   list of real outward codes and a random inward code (a digit and two
   letters from the permitted set).  Heads of households with children
   are born 1965-2000; other heads 1930-2005; partners within a few years
   of the head; children 20-42 years after the younger parent, never after
   2024.  In some households with two or more children the first two are
   twins: same date of birth, surname and postcode, but different first
   names.  These are deliberately hard non-matches.
2. **Provider A** holds ``records`` people drawn at random from a "shared"
   population.
3. **Provider B** holds
   * a copy of each of A's people with probability ``overlap`` (65% by
     default; the true matches),
   * other records, ``0.35 * records`` of them on average or as many as
     make B ``b_records`` long; a share ``relatives`` of them (a third by
     default) are *relatives*: people from the same households as A's
     people who are not themselves in A (a parent, a sibling, a twin, with
     twins favoured).  The population offers about ``0.3 * records`` such
     people (about 0.9 of the other records at the default size); when more
     are asked for, all are taken and unrelated people make up the rest,
   * the rest are unrelated people from a separate set of households.
4. **Corruption.**  Every B record gets 0 to 3 independent errors
   (probabilities 0.40, 0.33, 0.18, 0.09), drawn without replacement from
   the kinds in ``_ERROR_WEIGHTS``: name typos (keyboard-neighbour
   substitution, deletion, insertion, transposition), nicknames, surname
   changes (a new surname, or a double-barrelled one), first and last
   names swapped, day and month swapped in the date of birth, a wrong
   digit in the date, a moved postcode, a postcode typo, a flipped sex,
   and missing values.  Kinds that cannot apply to a record (a nickname for
   a name without one, a day-month swap when the day is over 12) are not
   drawn for it.
5. **Presentation.**  Both providers then render their records with their
   own habits: a dominant date format with some variety, several sex
   codings (``M``/``F``, ``Male``/``Female``, ``1``/``2``; unknown as
   ``U`` or empty), postcodes with or without the space and sometimes in
   lower case, names in varied case, stray whitespace, the odd title in
   the first-name field, and missing values as either null or the empty
   string.  About 0.5% of A's dates of birth are impossible or
   unparseable, so that validation has work to do.

Record ids are random hexadecimal strings (prefixed ``A`` or ``B``) that say
nothing about the match, and both extracts are shuffled.  All randomness
comes from one ``numpy.random.Generator`` seeded with ``seed``, so the output
is a pure function of the arguments; with the default ``overlap``,
``b_records`` and ``relatives`` it is what it was before they existed.

Several files
-------------
:func:`synth_files` draws one population for ``files`` providers.  Each
person is in each file independently with probability ``overlap``, so two
files share about ``overlap`` of their people (with ``overlap`` 0 each person
is in exactly one file).  Only people in at least one file are made: a share
``relatives`` of them come in whole households (so they live with another
person in the files, who may be in the same file or another one), the rest
are one person from each of their own households.  A share ``duplicates`` of
a file's people appear in it twice.  Every record gets the errors of step 4
independently, and providers alternate the habits of A and B (step 5).
Record ids (prefixed ``R``) are unique across the files.

Everything is vectorised with numpy and polars; one million records take a
few seconds.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import polars as pl

from ..defaults import SEED, SYNTH_MIN_RECORDS, SYNTH_RECORDS

__all__ = [
    "SynthData",
    "SynthFiles",
    "SynthProgramme",
    "synth_calibration",
    "synth_families",
    "synth_files",
    "synth_files_paths",
    "synth_paths",
    "synth_programme",
    "synth_programme_paths",
    "write_synth",
    "write_synth_files",
    "write_synth_programme",
]

COLUMNS: tuple[str, ...] = (
    "record_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "postcode",
)


@dataclass(frozen=True)
class SynthData:
    """Two provider extracts and the true matching pairs between them."""

    a: pl.DataFrame
    """Provider A extract (all columns ``pl.Utf8``)."""
    b: pl.DataFrame
    """Provider B extract (all columns ``pl.Utf8``)."""
    truth: pl.DataFrame
    """Columns ``id_a``, ``id_b``: the record ids of the true matches."""


@dataclass(frozen=True)
class SynthFiles:
    """Several providers' extracts of one population, and who each record is."""

    extracts: dict[str, pl.DataFrame]
    """Extracts by provider label (``p1``, ``p2``, ...), all columns ``pl.Utf8``."""
    truth: pl.DataFrame
    """Columns ``provider``, ``record_id``, ``person_id``: one row per record."""


# ---------------------------------------------------------------------------
# Reference lists
# ---------------------------------------------------------------------------

# Names, nicknames and outward codes are package data files (``linkage/research/data``):
# names one a line, roughly in order of frequency (sampled with Zipf-like weights);
# nicknames as (formal name, sex M/F, nicknames separated by "|"), used in both directions.


def _lines(name: str) -> tuple[str, ...]:
    text = files("linkage.research").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line.strip())


def _nicknames() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    rows = csv.reader(_lines("nicknames.csv")[1:])
    return tuple((formal, sex, tuple(nicks.split("|"))) for formal, sex, nicks in rows)


_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

_QWERTY_NEIGHBOURS: dict[str, str] = {
    "q": "wa", "w": "qeas", "e": "wrsd", "r": "etdf", "t": "ryfg", "y": "tugh",
    "u": "yihj", "i": "uojk", "o": "ipkl", "p": "ol", "a": "qwsz",
    "s": "awedxz", "d": "serfcx", "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb",
    "j": "huikmn", "k": "jiolm", "l": "kop", "z": "asx", "x": "zsdc",
    "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}

# Titles that creep into the first-name field, by sex code (see _M, _F, _U).
_TITLES: dict[int, tuple[str, ...]] = {
    0: ("Mr", "Mr.", "Dr"),
    1: ("Mrs", "Ms", "Miss", "Mrs.", "Dr"),
    2: ("Mx", "Dr"),
}

_BAD_DATES_FIXED: tuple[str, ...] = ("unknown", "00/00/0000", "N/K", "?")

# Sex codes used internally.
_M, _F, _U = 0, 1, 2

# Renderings of sex, per coding scheme: (male, female, unknown).
_SEX_CODINGS: tuple[tuple[str, str, str], ...] = (
    ("M", "F", "U"),
    ("Male", "Female", "U"),
    ("1", "2", ""),
)

# Household size distribution (1..6 people), close to the UK census.
_HOUSEHOLD_SIZE_P = np.array([0.29, 0.35, 0.15, 0.13, 0.05, 0.03])

_P_SINGLE_PARENT = 0.2  # households of 2+ with only one adult
_P_PARTNER_OWN_SURNAME = 0.15  # partner keeps a different surname
_P_SAME_SEX_COUPLE = 0.05
_P_TWINS = 0.08  # households with 2+ children whose first two are twins
_P_SEX_UNKNOWN = 0.004

# Defaults of the public functions (the command line shows and uses the same).
OVERLAP = 0.65  # share of A's people copied into B
RELATIVES = 1 / 3  # share of B's non-matches (or of the people in several files) who are relatives
FILES = 3  # providers in synth_files
FILES_OVERLAP = 0.3  # synth_files: chance that a person in one file is in another
DUPLICATES = 0.0  # synth_files: share of a file's people who appear in it twice
CALIBRATION_RECORDS = 40_000  # synth_calibration: pairs
CALIBRATION_MAX_ERRORS = 6  # synth_calibration: errors per pair, from 0 to this

_OTHER_FRACTION = 0.35  # B's non-matches, as a share of len(A), unless b_records is given
_TWIN_PRIORITY = 6.0  # twins of A's people are this much likelier relatives

# Number of errors per B record: 0, 1, 2, 3.
_ERROR_COUNT_P = np.array([0.40, 0.33, 0.18, 0.09])

# Relative weights of error kinds, drawn without replacement.  Realised
# per-record rates come out at about 1.2 times these weights, e.g. 14% of B
# records have a first-name typo, 12% a surname typo, 2% swapped names.
_ERROR_WEIGHTS: dict[str, float] = {
    "first_typo": 0.11,
    "last_typo": 0.09,
    "nickname": 0.15,
    "surname_change": 0.06,
    "name_swap": 0.016,
    "dob_day_month_swap": 0.05,
    "dob_digit": 0.07,
    "postcode_moved": 0.10,
    "postcode_typo": 0.05,
    "sex_flip": 0.01,
    "first_missing": 0.03,
    "last_missing": 0.02,
    "dob_missing": 0.04,
    "sex_missing": 0.04,
    "postcode_missing": 0.05,
}
_ERROR_KINDS: tuple[str, ...] = tuple(_ERROR_WEIGHTS)

# Typo operations: keyboard-neighbour substitution, deletion, insertion,
# transposition of adjacent characters.
_TYPO_OP_P = np.array([0.35, 0.25, 0.20, 0.20])

_FIELDS: tuple[str, ...] = ("first", "last", "dob", "sex", "postcode")


@dataclass(frozen=True)
class _Style:
    """How a provider writes its records down."""

    date_format_p: tuple[float, float, float, float, float]
    """Probabilities of ISO, DD/MM/YYYY, YYYYMMDD, DD-MM-YYYY, DD.MM.YYYY."""
    sex_coding_p: tuple[float, float, float]
    """Probabilities of the codings in ``_SEX_CODINGS``."""
    postcode_no_space: float
    postcode_lower: float
    name_case_p: tuple[float, float, float]
    """Probabilities of names as given, in upper case, in lower case."""
    title: float
    whitespace: float
    """Per-field probability of stray surrounding whitespace."""
    missing: tuple[float, float, float, float, float]
    """Baseline per-field missing rates (first, last, dob, sex, postcode)."""
    empty_share: float
    """Share of missing values written as ``""`` rather than null."""
    bad_dob: float
    """Share of dates of birth replaced by impossible or unparseable text."""


_STYLE_A = _Style(
    date_format_p=(0.88, 0.06, 0.03, 0.02, 0.01),
    sex_coding_p=(0.90, 0.07, 0.03),
    postcode_no_space=0.05,
    postcode_lower=0.03,
    name_case_p=(0.90, 0.08, 0.02),
    title=0.005,
    whitespace=0.005,
    missing=(0.003, 0.002, 0.004, 0.01, 0.01),
    empty_share=0.3,
    bad_dob=0.005,
)

_STYLE_B = _Style(
    date_format_p=(0.10, 0.75, 0.04, 0.06, 0.05),
    sex_coding_p=(0.30, 0.10, 0.60),
    postcode_no_space=0.20,
    postcode_lower=0.10,
    name_case_p=(0.75, 0.15, 0.10),
    title=0.02,
    whitespace=0.02,
    missing=(0.0, 0.0, 0.0, 0.0, 0.0),  # B's missing values come from its errors
    empty_share=0.4,
    bad_dob=0.0,
)


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocab:
    first: pl.Series  # every first name, nickname included
    male: np.ndarray  # indices into ``first`` of male names
    male_p: np.ndarray
    female: np.ndarray
    female_p: np.ndarray
    alternatives: np.ndarray  # (2, len(first), k): nickname/formal swaps, -1 pad
    n_alternatives: np.ndarray  # (2, len(first))
    surnames: pl.Series
    surname_p: np.ndarray
    outward: pl.Series
    letters: pl.Series
    sex_text: pl.Series  # flattened _SEX_CODINGS


def _zipf(n: int, offset: float) -> np.ndarray:
    w = 1.0 / (np.arange(n) + offset)
    return w / w.sum()


@cache
def _vocab() -> _Vocab:
    male = list(dict.fromkeys(_lines("male_names.txt")))
    female = list(dict.fromkeys(_lines("female_names.txt")))
    nicknames = _nicknames()
    names = list(dict.fromkeys(male + female))
    for _, _, nicks in nicknames:
        names.extend(n for n in nicks if n not in names)
    index = {n: i for i, n in enumerate(names)}

    alt: list[list[set[str]]] = [[set() for _ in names] for _ in range(2)]
    for formal, sex, nicks in nicknames:
        s = _M if sex == "M" else _F
        alt[s][index[formal]].update(nicks)
        for nick in nicks:
            alt[s][index[nick]].add(formal)
    width = max(len(a) for side in alt for a in side)
    alternatives = np.full((2, len(names), width), -1, dtype=np.int32)
    n_alt = np.zeros((2, len(names)), dtype=np.int32)
    for s in range(2):
        for i, options in enumerate(alt[s]):
            ordered = sorted(index[o] for o in options)
            alternatives[s, i, : len(ordered)] = ordered
            n_alt[s, i] = len(ordered)

    surnames = list(dict.fromkeys(_lines("surnames.txt")))
    return _Vocab(
        first=pl.Series("first", names, dtype=pl.Utf8),
        male=np.array([index[n] for n in male], dtype=np.int32),
        male_p=_zipf(len(male), 8.0),
        female=np.array([index[n] for n in female], dtype=np.int32),
        female_p=_zipf(len(female), 8.0),
        alternatives=alternatives,
        n_alternatives=n_alt,
        surnames=pl.Series("last", surnames, dtype=pl.Utf8),
        surname_p=_zipf(len(surnames), 20.0),
        outward=pl.Series("outward", _lines("outward_codes.txt"), dtype=pl.Utf8),
        letters=pl.Series("letters", list(_INWARD_LETTERS), dtype=pl.Utf8),
        sex_text=pl.Series("sex", [t for c in _SEX_CODINGS for t in c], dtype=pl.Utf8),
    )


# ---------------------------------------------------------------------------
# Population of households
# ---------------------------------------------------------------------------

# A population is a dict of equal-length numpy arrays, one entry per person:
# hh, first, last, sex, y, m, d, pc_out, pc_digit, pc_l1, pc_l2, twin.
_People = dict[str, np.ndarray]


def _take(people: _People, idx: np.ndarray) -> _People:
    return {k: v[idx] for k, v in people.items()}


def _concat(*parts: _People) -> _People:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _is_leap(y: np.ndarray) -> np.ndarray:
    return ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    base = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    mm = np.clip(m, 1, 12) - 1
    return base[mm] + ((mm == 1) & _is_leap(y))


def _valid_date(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    return (
        (y >= 1900) & (y <= 2024) & (m >= 1) & (m <= 12)
        & (d >= 1) & (d <= _days_in_month(y, m))
    )


def _random_dates(year: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random (month, day) within each given year."""
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    length = np.where(_is_leap(year), 366, 365)
    dates = start + (rng.random(len(year)) * length).astype(np.int64)
    months = dates.astype("datetime64[M]")
    m = (months - start.astype("datetime64[M]")).astype(np.int64) + 1
    d = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return m, d


def _uniform_int(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integers uniform on [lo, hi], elementwise."""
    return lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)


def _first_names(sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = _vocab()
    n = len(sex)
    male = v.male[rng.choice(len(v.male), n, p=v.male_p)]
    female = v.female[rng.choice(len(v.female), n, p=v.female_p)]
    either = np.where(rng.random(n) < 0.5, male, female)
    return np.where(sex == _M, male, np.where(sex == _F, female, either))


def _random_postcodes(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (
        rng.integers(0, _vocab().outward.len(), n),
        rng.integers(0, 10, n),
        rng.integers(0, len(_INWARD_LETTERS), n),
        rng.integers(0, len(_INWARD_LETTERS), n),
    )


def _household_sizes(n_people: int, rng: np.random.Generator) -> np.ndarray:
    mean = float(np.dot(np.arange(1, 7), _HOUSEHOLD_SIZE_P))
    sizes = rng.choice(6, int(n_people / mean * 1.02) + 8, p=_HOUSEHOLD_SIZE_P) + 1
    while sizes.sum() < n_people:
        more = rng.choice(6, max(8, len(sizes) // 10), p=_HOUSEHOLD_SIZE_P) + 1
        sizes = np.concatenate([sizes, more])
    keep = int(np.searchsorted(np.cumsum(sizes), n_people)) + 1
    return sizes[:keep]


def _population(n_people: int, rng: np.random.Generator, hh_offset: int = 0) -> _People:
    """At least ``n_people`` people in complete households."""
    v = _vocab()
    sizes = _household_sizes(n_people, rng)
    n_hh = len(sizes)

    # Household-level attributes.
    n_adults = np.where(sizes == 1, 1, np.where(rng.random(n_hh) < _P_SINGLE_PARENT, 1, 2))
    n_children = sizes - n_adults
    twins = (n_children >= 2) & (rng.random(n_hh) < _P_TWINS)
    hh_surname = rng.choice(len(v.surnames), n_hh, p=v.surname_p)
    pc = _random_postcodes(n_hh, rng)
    head_sex = np.where(rng.random(n_hh) < 0.5, _M, _F)
    partner_sex = np.where(rng.random(n_hh) < _P_SAME_SEX_COUPLE, head_sex, 1 - head_sex)
    head_year = np.where(
        n_children > 0,
        _uniform_int(np.full(n_hh, 1965), np.full(n_hh, 2000), rng),
        _uniform_int(np.full(n_hh, 1930), np.full(n_hh, 2005), rng),
    )
    gap = np.rint(rng.normal(0, 3, n_hh)).astype(np.int64)
    partner_year = np.clip(head_year + gap, 1930, 2006)
    parent_year = np.where(n_adults == 2, np.maximum(head_year, partner_year), head_year)
    child_hi = np.minimum(42, 2024 - parent_year)
    child_lo = np.minimum(20, child_hi)

    # Expand to people.
    n = int(sizes.sum())
    hh = np.repeat(np.arange(n_hh), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    is_head = pos == 0
    is_partner = (pos == 1) & (n_adults[hh] == 2)
    is_child = ~is_head & ~is_partner

    sex = np.where(is_partner, partner_sex[hh], rng.integers(0, 2, n))
    sex = np.where(is_head, head_sex[hh], sex)
    sex = np.where(rng.random(n) < _P_SEX_UNKNOWN, _U, sex)

    last = hh_surname[hh]
    own = is_partner & (rng.random(n) < _P_PARTNER_OWN_SURNAME)
    last = np.where(own, rng.choice(len(v.surnames), n, p=v.surname_p), last)

    year = parent_year[hh] + _uniform_int(child_lo[hh], child_hi[hh], rng)
    year = np.where(is_partner, partner_year[hh], year)
    year = np.where(is_head, head_year[hh], year)
    m, d = _random_dates(year, rng)
    first = _first_names(sex, rng)

    # Twins: the second child copies the first child's date of birth.
    child_rank = pos - n_adults[hh]
    second = np.flatnonzero(is_child & (child_rank == 1) & twins[hh])
    year[second], m[second], d[second] = year[second - 1], m[second - 1], d[second - 1]
    for _ in range(20):  # give twins different first names
        same = second[first[second] == first[second - 1]]
        if len(same) == 0:
            break
        first[same] = _first_names(sex[same], rng)
    twin = np.zeros(n, dtype=bool)
    twin[second] = True
    twin[second - 1] = True

    return {
        "hh": hh + hh_offset,
        "first": first.astype(np.int32),
        "last": last.astype(np.int32),
        "sex": sex.astype(np.int8),
        "y": year.astype(np.int32),
        "m": m.astype(np.int32),
        "d": d.astype(np.int32),
        "pc_out": pc[0][hh].astype(np.int32),
        "pc_digit": pc[1][hh].astype(np.int32),
        "pc_l1": pc[2][hh].astype(np.int32),
        "pc_l2": pc[3][hh].astype(np.int32),
        "twin": twin,
    }


def _weighted_sample(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices drawn without replacement with the given weights."""
    if k >= len(weights):
        return np.arange(len(weights))
    keys = np.log(rng.random(len(weights))) / weights  # Efraimidis-Spirakis
    return np.argpartition(-keys, k - 1)[:k] if k > 0 else np.arange(0)


# ---------------------------------------------------------------------------
# Corruption (provider B)
# ---------------------------------------------------------------------------


def _choose_errors(p: _People, rng: np.random.Generator, n_errors: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """For each record, which error kinds it suffers (distinct; 0..3 drawn, or ``n_errors`` each)."""
    v = _vocab()
    n = len(p["sex"])
    if n_errors is None:
        n_errors = rng.choice(len(_ERROR_COUNT_P), n, p=_ERROR_COUNT_P)
    most = max(3, int(n_errors.max(initial=0)))
    rows = np.flatnonzero(n_errors > 0)
    weights = np.array([_ERROR_WEIGHTS[k] for k in _ERROR_KINDS])

    # Kinds that cannot apply to a record are excluded for it.
    alt_sex = np.minimum(p["sex"][rows], _F)
    applicable = np.ones((len(rows), len(_ERROR_KINDS)), dtype=bool)
    col = {k: i for i, k in enumerate(_ERROR_KINDS)}
    applicable[:, col["nickname"]] = v.n_alternatives[alt_sex, p["first"][rows]] > 0
    applicable[:, col["surname_change"]] = p["y"][rows] <= 2006
    dd, mm = p["d"][rows], p["m"][rows]
    applicable[:, col["dob_day_month_swap"]] = (dd <= 12) & (dd != mm)
    applicable[:, col["sex_flip"]] = p["sex"][rows] != _U

    # Gumbel top-k: sampling kinds without replacement in proportion to weight.
    noise = rng.gumbel(size=applicable.shape).astype(np.float32)
    keys = np.log(weights).astype(np.float32) + noise
    keys[~applicable] = -np.inf
    order = np.argsort(-keys, axis=1)[:, :most]
    chosen = np.zeros((n, len(_ERROR_KINDS)), dtype=bool)
    for j in range(most):
        take = (n_errors[rows] > j) & np.isfinite(keys[np.arange(len(rows)), order[:, j]])
        chosen[rows[take], order[take, j]] = True
    return {k: chosen[:, i] for i, k in enumerate(_ERROR_KINDS)}


def _corrupt_dates(p: _People, errors: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    y, m, d = p["y"], p["m"], p["d"]

    rows = np.flatnonzero(errors["dob_day_month_swap"])
    m[rows], d[rows] = d[rows], m[rows]

    # One wrong digit in YYYYMMDD, keeping the date valid where possible.
    rows = np.flatnonzero(errors["dob_digit"])
    positions = np.array([2, 3, 4, 5, 6, 7])  # decade, year, month x2, day x2
    position_p = np.array([0.10, 0.30, 0.05, 0.15, 0.15, 0.25])
    for _ in range(8):
        if len(rows) == 0:
            break
        digits = y[rows] * 10000 + m[rows] * 100 + d[rows]
        place = 10 ** (7 - rng.choice(positions, len(rows), p=position_p))
        old = (digits // place) % 10
        new = (old + rng.integers(1, 10, len(rows))) % 10
        digits = digits + (new - old) * place
        ny, nm, nd = digits // 10000, (digits // 100) % 100, digits % 100
        ok = _valid_date(ny, nm, nd)
        y[rows[ok]], m[rows[ok]], d[rows[ok]] = ny[ok], nm[ok], nd[ok]
        rows = rows[~ok]


def _corrupt_postcodes(p: _People, errors: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    n_letters = len(_INWARD_LETTERS)

    rows = np.flatnonzero(errors["postcode_moved"])
    out, digit, l1, l2 = _random_postcodes(len(rows), rng)
    nearby = rng.random(len(rows)) < 0.4  # moved within the same district
    p["pc_out"][rows] = np.where(nearby, p["pc_out"][rows], out)
    p["pc_digit"][rows], p["pc_l1"][rows], p["pc_l2"][rows] = digit, l1, l2

    rows = np.flatnonzero(errors["postcode_typo"])
    op = rng.choice(3, len(rows), p=[0.35, 0.40, 0.25])
    shift = rng.integers(1, n_letters, len(rows))
    r = rows[op == 0]  # wrong digit
    p["pc_digit"][r] = (p["pc_digit"][r] + rng.integers(1, 10, len(r))) % 10
    r, s = rows[op == 1], shift[op == 1]  # wrong letter
    first = rng.random(len(r)) < 0.5
    p["pc_l1"][r[first]] = (p["pc_l1"][r[first]] + s[first]) % n_letters
    p["pc_l2"][r[~first]] = (p["pc_l2"][r[~first]] + s[~first]) % n_letters
    r, s = rows[op == 2], shift[op == 2]  # letters transposed (or wrong if equal)
    same = p["pc_l1"][r] == p["pc_l2"][r]
    p["pc_l2"][r[same]] = (p["pc_l2"][r[same]] + s[same]) % n_letters
    r = r[~same]
    p["pc_l1"][r], p["pc_l2"][r] = p["pc_l2"][r], p["pc_l1"][r]


def _corrupt(
    people: _People, rng: np.random.Generator, n_errors: np.ndarray | None = None
) -> tuple[_People, dict[str, np.ndarray]]:
    """Apply index-level errors; return the people and the error masks.

    Errors that work on text (typos, double-barrelled surnames, swapped
    names, missing values) are left to :func:`_render`, flagged in the masks.
    """
    v = _vocab()
    p = {k: a.copy() for k, a in people.items()}
    errors = _choose_errors(p, rng, n_errors)

    rows = np.flatnonzero(errors["nickname"])
    alt_sex = np.minimum(p["sex"][rows], _F)
    count = v.n_alternatives[alt_sex, p["first"][rows]]
    pick = (rng.random(len(rows)) * count).astype(np.int64)
    p["first"][rows] = v.alternatives[alt_sex, p["first"][rows], pick]

    rows = np.flatnonzero(errors["surname_change"])
    new = rng.choice(len(v.surnames), len(rows), p=v.surname_p)
    new = np.where(new == p["last"][rows], (new + 1) % len(v.surnames), new)
    barrelled = rng.random(len(rows)) < 0.3
    errors["double_barrel"] = np.zeros(len(p["sex"]), dtype=bool)
    errors["double_barrel"][rows[barrelled]] = True
    p["other_last"] = p["last"].copy()
    p["other_last"][rows[barrelled]] = new[barrelled]
    p["last"][rows[~barrelled]] = new[~barrelled]

    _corrupt_dates(p, errors, rng)
    _corrupt_postcodes(p, errors, rng)

    rows = np.flatnonzero(errors["sex_flip"])
    p["sex"][rows] = 1 - p["sex"][rows]
    return p, errors


# ---------------------------------------------------------------------------
# Rendering to text
# ---------------------------------------------------------------------------


@cache
def _neighbour_table() -> dict[str, str]:
    """Map "<letter><k>" (k in 0..7) to a keyboard neighbour of the letter."""
    return {
        f"{c}{k}": near[k % len(near)]
        for c, near in _QWERTY_NEIGHBOURS.items()
        for k in range(8)
    }


def _typos(s: pl.Series, rows: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Put one typo into each of the given rows of a string column."""
    if len(rows) == 0:
        return s
    n = len(rows)
    alphabet = pl.Series(list("abcdefghijklmnopqrstuvwxyz"))
    frame = pl.DataFrame(
        {
            "s": s.gather(rows),
            "op": rng.choice(len(_TYPO_OP_P), n, p=_TYPO_OP_P),
            "u": rng.random(n),
            "k": rng.integers(0, 8, n),
            "rand": alphabet.gather(rng.integers(0, 26, n)),
        }
    )
    x = pl.col("s")
    length = x.str.len_chars()
    # A deletion would leave too little of a very short name: substitute instead.
    op = pl.when((pl.col("op") == 1) & (length < 3)).then(0).otherwise(pl.col("op"))
    # substitute 0, delete 1: any position; insert 2: 0..len; transpose 3: 0..len-2
    span = pl.when(op == 2).then(length + 1).when(op == 3).then(length - 1).otherwise(length)
    pos = (pl.col("u") * span).floor().cast(pl.Int64).clip(0, None)
    char = x.str.slice(pl.min_horizontal(pos, length - 1), 1)
    near = pl.concat_str([char.str.to_lowercase(), pl.col("k").cast(pl.Utf8)]).replace_strict(
        _neighbour_table(), default=pl.col("rand"), return_dtype=pl.Utf8
    )
    near = pl.when(char != char.str.to_lowercase()).then(near.str.to_uppercase()).otherwise(near)
    head, tail = x.str.slice(0, pos), x.str.slice(pos + 1)
    swapped = [x.str.slice(pos + 1, 1), x.str.slice(pos, 1), x.str.slice(pos + 2)]
    out = (
        pl.when(length < 2).then(x)
        .when(op == 0).then(pl.concat_str([head, near, tail]))
        .when(op == 1).then(pl.concat_str([head, tail]))
        .when(op == 2).then(pl.concat_str([head, near, x.str.slice(pos)]))
        .otherwise(pl.concat_str([head, *swapped]))
    )
    new = frame.select(out.alias("s")).to_series()
    return s.clone().scatter(rows, new)


def _pick(p: tuple[float, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(len(p), n, p=np.asarray(p) / np.sum(p))


def _record_ids(n: int, prefix: str, rng: np.random.Generator) -> pl.Series:
    """Unique random ids: the prefix and 12 hexadecimal digits."""
    ids = rng.integers(0, 2**48, n, dtype=np.int64)
    while True:
        _, first = np.unique(ids, return_index=True)
        if len(first) == n:
            break
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        ids[dup] = rng.integers(0, 2**48, int(dup.sum()), dtype=np.int64)
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = hex_digits[(ids[:, None] >> np.arange(44, -1, -4)) & 0xF]
    text = np.concatenate([np.full((n, 1), ord(prefix), dtype=np.uint8), chars], axis=1)
    return pl.Series("record_id", np.ascontiguousarray(text).view("S13").ravel()).cast(pl.Utf8)


def _edit(s: pl.Series, mask: np.ndarray, fn: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """Apply an expression to the masked rows of a column only."""
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return s
    new = s.gather(rows).to_frame("x").select(fn(pl.col("x"))).to_series()
    return s.clone().scatter(rows, new)


def _pad(s: pl.Series, mask: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Stray whitespace around the masked values."""
    pads = ((" ", ""), ("", " "), ("  ", " "))
    kind = rng.integers(0, len(pads), len(s))
    for k, (before, after) in enumerate(pads):
        s = _edit(
            s,
            mask & (kind == k),
            lambda x, b=before, a=after: pl.concat_str([pl.lit(b), x, pl.lit(a)]),
        )
    return s


def _blank(s: pl.Series, mask: np.ndarray, empty: np.ndarray) -> pl.Series:
    """Missing values: the empty string where ``empty``, null otherwise."""
    s = s.clone()
    for rows, value in ((np.flatnonzero(mask & empty), ""), (np.flatnonzero(mask & ~empty), None)):
        if len(rows):
            s.scatter(rows, value)
    return s


def _dates(p: _People, fmt: np.ndarray) -> pl.Series:
    """Dates of birth as text in the given formats (indices into ISO, DD/MM/YYYY,
    YYYYMMDD, DD-MM-YYYY, DD.MM.YYYY)."""
    separators = pl.Series(["-", "/", "", "-", "."], dtype=pl.Utf8)
    frame = pl.DataFrame(
        {
            "y": p["y"],
            "m": p["m"],
            "d": p["d"],
            "sep": separators.gather(fmt),
            "ymd": (fmt == 0) | (fmt == 2),  # year first
        }
    )
    yy = pl.col("y").cast(pl.Utf8).str.zfill(4)
    mm = pl.col("m").cast(pl.Utf8).str.zfill(2)
    dd = pl.col("d").cast(pl.Utf8).str.zfill(2)
    ymd, sep = pl.col("ymd"), pl.col("sep")
    text = pl.concat_str(
        [pl.when(ymd).then(yy).otherwise(dd), sep, mm, sep, pl.when(ymd).then(dd).otherwise(yy)]
    )
    return frame.select(text.alias("date_of_birth")).to_series()


def _bad_dates(p: _People, rows: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Impossible or unparseable dates of birth for the given rows."""
    year = p["y"][rows].astype(str).astype(object)
    day = np.char.zfill(p["d"][rows].astype(str), 2).astype(object)
    options = np.stack(
        [
            "31/02/" + year,
            "30/02/" + year,
            year + "-13-" + day,
            year + "-00-" + day,
            *(np.full(len(rows), bad, dtype=object) for bad in _BAD_DATES_FIXED),
        ]
    )
    pick = rng.integers(0, len(options), len(rows))
    return pl.Series(options[pick, np.arange(len(rows))], dtype=pl.Utf8)


def _render(
    p: _People,
    ids: pl.Series,
    style: _Style,
    rng: np.random.Generator,
    errors: dict[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Write people down as a provider would: text columns, all ``pl.Utf8``."""
    v = _vocab()
    n = len(ids)
    errors = errors or {}
    none = np.zeros(n, dtype=bool)
    sex = p["sex"].astype(np.int64)

    # Names: double-barrelled surnames, typos, swaps, titles, case.
    first = v.first.gather(p["first"])
    last = v.surnames.gather(p["last"])
    rows = np.flatnonzero(errors.get("double_barrel", none))
    if len(rows):
        joined = pl.DataFrame(
            {
                "own": last.gather(rows),
                "other": v.surnames.gather(p["other_last"][rows]),
                "own_first": rng.random(len(rows)) < 0.7,
            }
        ).select(
            pl.when("own_first")
            .then(pl.concat_str(["own", "other"], separator="-"))
            .otherwise(pl.concat_str(["other", "own"], separator="-"))
        ).to_series()
        last = last.clone().scatter(rows, joined)
    first = _typos(first, np.flatnonzero(errors.get("first_typo", none)), rng)
    last = _typos(last, np.flatnonzero(errors.get("last_typo", none)), rng)
    rows = np.flatnonzero(errors.get("name_swap", none))
    if len(rows):
        first, last = (
            first.clone().scatter(rows, last.gather(rows)),
            last.clone().scatter(rows, first.gather(rows)),
        )

    has_title = (rng.random(n) < style.title) & (p["y"] <= 2006)  # adults only
    which = rng.integers(0, 60, n)  # divisible by every number of options
    for code, options in _TITLES.items():
        for k, title in enumerate(options):
            pick = has_title & (sex == code) & (which % len(options) == k)
            first = _edit(
                first, pick, lambda x, t=title: pl.concat_str([pl.lit(t), x], separator=" ")
            )

    case = _pick(style.name_case_p, n, rng)
    for code, method in ((1, "to_uppercase"), (2, "to_lowercase")):
        first = _edit(first, case == code, lambda x, m=method: getattr(x.str, m)())
        last = _edit(last, case == code, lambda x, m=method: getattr(x.str, m)())

    # Dates of birth.
    dob = _dates(p, _pick(style.date_format_p, n, rng))
    rows = np.flatnonzero(rng.random(n) < style.bad_dob)
    if len(rows):
        dob = dob.clone().scatter(rows, _bad_dates(p, rows, rng))

    # Sex, in one of the provider's codings.
    sex_text = v.sex_text.gather(_pick(style.sex_coding_p, n, rng) * len(_SEX_CODINGS[0]) + sex)

    # Postcodes.
    spaced = (rng.random(n) >= style.postcode_no_space).astype(np.int64)
    spaces = pl.Series(["", " "], dtype=pl.Utf8).gather(spaced)
    postcode = pl.DataFrame(
        {
            "out": v.outward.gather(p["pc_out"]),
            "space": spaces,
            "digit": p["pc_digit"],
            "l1": v.letters.gather(p["pc_l1"]),
            "l2": v.letters.gather(p["pc_l2"]),
        }
    ).select(pl.concat_str(["out", "space", pl.col("digit").cast(pl.Utf8), "l1", "l2"])).to_series()
    postcode = _edit(postcode, rng.random(n) < style.postcode_lower, lambda x: x.str.to_lowercase())

    # Stray whitespace, then missing values.
    first = _pad(first, rng.random(n) < style.whitespace, rng)
    last = _pad(last, rng.random(n) < style.whitespace, rng)
    postcode = _pad(postcode, rng.random(n) < style.whitespace, rng)
    columns = dict(zip(_FIELDS, (first, last, dob, sex_text, postcode)))
    empty = rng.random(n) < style.empty_share
    for rate, field in zip(style.missing, _FIELDS):
        missing = (rng.random(n) < rate) | errors.get(f"{field}_missing", none)
        columns[field] = _blank(columns[field], missing, empty)

    return pl.DataFrame(
        [ids.alias("record_id")]
        + [columns[f].alias(name) for f, name in zip(_FIELDS, COLUMNS[1:])]
    )


# ---------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------


def _check_share(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be a share between 0 and 1, got {value}")


def _check_records(records: int) -> None:
    if records < SYNTH_MIN_RECORDS:
        raise ValueError(f"records must be at least {SYNTH_MIN_RECORDS}, got {records}")


def synth_families(
    records: int = SYNTH_RECORDS,
    *,
    seed: int = SEED,
    overlap: float = OVERLAP,
    b_records: int | None = None,
    relatives: float = RELATIVES,
) -> SynthData:
    """Generate provider extracts ``a`` and ``b`` and the true matches.

    ``a`` has exactly ``records`` rows.  Each of A's people is in B with
    probability ``overlap``.  ``b`` has exactly ``b_records`` rows if given,
    otherwise the matches and about ``0.35 * records`` others; a share
    ``relatives`` of those others live with one of A's people (as many as
    the population has, if fewer).  See the module docstring for the model.
    The result depends only on the arguments; the defaults give the data
    this function gave before it had ``overlap``, ``b_records`` and ``relatives``.
    """
    _check_records(records)
    _check_share("overlap", overlap)
    _check_share("relatives", relatives)
    if b_records is not None and b_records < 1:
        raise ValueError(f"b_records must be at least 1, got {b_records}")
    rng = np.random.default_rng(seed)
    n_match = int(rng.binomial(records, overlap))
    n_other = int(rng.binomial(records, _OTHER_FRACTION))  # drawn even if unused: the same draws follow
    if b_records is not None:
        if b_records < n_match:
            raise ValueError(
                f"b_records ({b_records}) is smaller than the {n_match} matches drawn for records={records} "
                f"and overlap={overlap}; raise b_records or lower overlap"
            )
        n_other = b_records - n_match
    n_relatives = int(round(n_other * relatives))

    # Provider A: people drawn from a shared population of households.
    shared = _population(int(records * 1.4) + 10, rng)
    n_shared = len(shared["hh"])
    a_rows = rng.choice(n_shared, records, replace=False)
    in_a = np.zeros(n_shared, dtype=bool)
    in_a[a_rows] = True

    # Relatives: people not in A who live with someone who is.
    hh_in_a = np.zeros(int(shared["hh"].max()) + 1, dtype=bool)
    hh_in_a[shared["hh"][in_a]] = True
    candidates = np.flatnonzero(~in_a & hh_in_a[shared["hh"]])
    weight = np.where(shared["twin"][candidates], _TWIN_PRIORITY, 1.0)
    relatives_rows = candidates[_weighted_sample(weight, min(n_relatives, len(candidates)), rng)]

    # Unrelated people from households of their own.
    n_unrelated = n_other - len(relatives_rows)
    others = _population(n_unrelated + 1, rng, hh_offset=int(shared["hh"].max()) + 1)
    unrelated = rng.choice(len(others["hh"]), n_unrelated, replace=False)

    people_a = _take(shared, a_rows)
    matched = rng.choice(records, n_match, replace=False)
    people_b = _concat(_take(people_a, matched), _take(shared, relatives_rows), _take(others, unrelated))

    ids_a = _record_ids(records, "A", rng)
    ids_b = _record_ids(len(people_b["hh"]), "B", rng)
    truth = pl.DataFrame({"id_a": ids_a.gather(matched), "id_b": ids_b.head(n_match)}).sort("id_a")

    people_b, errors = _corrupt(people_b, rng)
    a = _render(people_a, ids_a, _STYLE_A, rng)
    b = _render(people_b, ids_b, _STYLE_B, rng, errors)

    a = a[rng.permutation(a.height)]
    b = b[rng.permutation(b.height)]
    return SynthData(a=a, b=b, truth=truth)


def _household_starts(hh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and size of each household of a population (rows grouped by household)."""
    sizes = np.bincount(hh - hh[0]) if len(hh) else np.zeros(0, dtype=np.int64)
    return np.cumsum(sizes) - sizes, sizes


def _households_of_two_or_more(n_people: int, rng: np.random.Generator, hh_offset: int) -> _People:
    """``n_people`` people from households of two or more, whole but for the last one."""
    size = int(n_people / 0.8) + 10  # about 88% of people live with someone
    while True:
        pop = _population(size, rng, hh_offset)
        _, sizes = _household_starts(pop["hh"])
        rows = np.flatnonzero(sizes[pop["hh"] - hh_offset] >= 2)
        if len(rows) >= n_people:
            return _take(pop, rows[:n_people])
        size *= 2


def _people_alone(n_people: int, rng: np.random.Generator, hh_offset: int) -> _People:
    """``n_people`` people, each from a different household."""
    mean = float(np.dot(np.arange(1, 7), _HOUSEHOLD_SIZE_P))
    size = int(n_people * mean * 1.1) + 20
    while True:
        pop = _population(size, rng, hh_offset)
        starts, sizes = _household_starts(pop["hh"])
        if len(sizes) >= n_people:
            break
        size *= 2
    starts, sizes = starts[:n_people], sizes[:n_people]
    return _take(pop, starts + (rng.random(n_people) * sizes).astype(np.int64))


def _person_ids(n: int) -> pl.Series:
    return pl.select(
        pl.concat_str([pl.lit("P"), pl.int_range(n, dtype=pl.Int64).cast(pl.Utf8).str.zfill(8)])
    ).to_series().alias("person_id")


def synth_files(
    records: int = SYNTH_RECORDS,
    *,
    files: int = FILES,
    seed: int = SEED,
    overlap: float = FILES_OVERLAP,
    duplicates: float = DUPLICATES,
    relatives: float = RELATIVES,
) -> SynthFiles:
    """Generate ``files`` providers' extracts of one population, and who each record is.

    Each extract has about ``records`` rows.  A person is in each file with
    probability ``overlap``, so two files share about ``overlap`` of their
    people (none at 0); a share ``duplicates`` of a file's people appear in it
    twice, with independent errors; a share ``relatives`` of the people live
    with another person in the files.  See "Several files" in the module
    docstring.  The result depends only on the arguments.
    """
    _check_records(records)
    if files < 2:
        raise ValueError(f"files must be at least 2, got {files}")
    _check_share("overlap", overlap)
    _check_share("duplicates", duplicates)
    _check_share("relatives", relatives)
    rng = np.random.default_rng(seed)

    # People in at least one file, out of a population of (people per file) / overlap; in the
    # limit of a population too large to count (overlap 0 or next to it), everyone is in just one.
    per_file = records / (1 + duplicates)
    population = per_file / overlap if overlap > 0 else math.inf
    if population < 2**53:
        in_any = 1.0 if overlap == 1 else -math.expm1(files * math.log1p(-overlap))
        n_people = int(rng.binomial(round(population), in_any))
    else:
        n_people = round(per_file * files)
    n_people = max(n_people, 1)
    n_housed = round(n_people * relatives)
    parts = []
    if n_housed:
        parts.append(_households_of_two_or_more(n_housed, rng, 0))
    if n_people > n_housed:
        offset = int(parts[0]["hh"].max()) + 1 if parts else 0
        parts.append(_people_alone(n_people - n_housed, rng, offset))
    people = _take(_concat(*parts), rng.permutation(n_people))  # person ids say nothing of the household

    # Files: the first one a person is in (given at least one), then each later one independently.
    weights = (1 - overlap) ** np.arange(files)
    first = rng.choice(files, n_people, p=weights / weights.sum())
    member = rng.random((n_people, files)) < overlap
    member[np.arange(files) < first[:, None]] = False
    member[np.arange(n_people), first] = True
    copies = member * (1 + (rng.random(member.shape) < duplicates))

    # Records, grouped by file: each person once per copy, each corrupted independently.
    file_of, person_of = np.nonzero(copies.T)
    repeat = copies.T[file_of, person_of]
    file_of, person_of = np.repeat(file_of, repeat), np.repeat(person_of, repeat)
    recs, errors = _corrupt(_take(people, person_of), rng)
    ids = _record_ids(len(person_of), "R", rng)
    person_ids = _person_ids(n_people)

    extracts: dict[str, pl.DataFrame] = {}
    truths = []
    bounds = np.searchsorted(file_of, np.arange(files + 1))
    for f in range(files):  # one vectorised pass per file
        rows = np.arange(bounds[f], bounds[f + 1])
        label = f"p{f + 1}"
        style = _STYLE_A if f % 2 == 0 else _STYLE_B
        frame = _render(_take(recs, rows), ids.gather(rows), style, rng, {k: e[rows] for k, e in errors.items()})
        extracts[label] = frame[rng.permutation(frame.height)]
        truths.append(
            pl.DataFrame({"record_id": ids.gather(rows), "person_id": person_ids.gather(person_of[rows])})
            .sort("record_id")
            .select(pl.lit(label, dtype=pl.Utf8).alias("provider"), "record_id", "person_id")
        )
    return SynthFiles(extracts=extracts, truth=pl.concat(truths))


def synth_calibration(records: int = CALIBRATION_RECORDS, *, seed: int = SEED,
                      max_errors: int = CALIBRATION_MAX_ERRORS) -> SynthData:
    """Pairs of records of the same people, to learn how match scores fall with errors.

    A holds ``records`` people as provider A renders them, without errors; B holds a copy of
    each with exactly ``e`` errors, ``e`` drawn evenly from 0 to ``max_errors`` (distinct
    kinds, as many as apply). ``truth`` has ``id_a, id_b, errors``. Used by
    :mod:`linkage.research.calibrate`; deterministic for a seed.
    """
    _check_records(records)
    if not 0 <= max_errors <= len(_ERROR_KINDS):
        raise ValueError(f"max_errors must be from 0 to {len(_ERROR_KINDS)}, got {max_errors}")
    rng = np.random.default_rng(seed)
    people = _population(records, rng)
    people = _take(people, rng.choice(len(people["hh"]), records, replace=False))
    n_errors = rng.integers(0, max_errors + 1, records)
    ids_a, ids_b = _record_ids(records, "A", rng), _record_ids(records, "B", rng)
    corrupted, errors = _corrupt(people, rng, n_errors)
    applied = np.sum([errors[k] for k in _ERROR_KINDS], axis=0)
    a = _render(people, ids_a, _STYLE_A, rng)
    b = _render(corrupted, ids_b, _STYLE_B, rng, errors)
    truth = pl.DataFrame({"id_a": ids_a, "id_b": ids_b, "errors": applied.astype(np.int64)})
    return SynthData(a=a[rng.permutation(records)], b=b[rng.permutation(records)], truth=truth)


def synth_paths(outdir: str | Path) -> dict[str, Path]:
    """Where :func:`write_synth` writes: ``a.csv``, ``b.csv`` and ``truth.csv`` in ``outdir``."""
    return {name: Path(outdir) / f"{name}.csv" for name in ("a", "b", "truth")}


def write_synth(data: SynthData, outdir: str | Path) -> dict[str, Path]:
    """Write the two extracts and the truth as CSV; the caller checks for existing files first."""
    paths = synth_paths(outdir)
    for name, path in paths.items():
        getattr(data, name).write_csv(path)
    return paths


def synth_files_paths(outdir: str | Path, files: int) -> dict[str, Path]:
    """Where :func:`write_synth_files` writes: ``p1.csv`` .. ``pK.csv`` and ``truth.csv`` in ``outdir``."""
    return {name: Path(outdir) / f"{name}.csv" for name in (*(f"p{f}" for f in range(1, files + 1)), "truth")}


def write_synth_files(data: SynthFiles, outdir: str | Path) -> dict[str, Path]:
    """Write each extract and the truth as CSV; the caller checks for existing files first."""
    paths = synth_files_paths(outdir, len(data.extracts))
    for name, frame in (*data.extracts.items(), ("truth", data.truth)):
        frame.write_csv(paths[name])
    return paths


# ---------------------------------------------------------------------------
# A programme: councils' cohort files and national files
# ---------------------------------------------------------------------------

PROGRAMME_COHORT = 14_000  # people supported by the councils
_NATIONAL_ERROR_COUNT_P = np.array([0.80, 0.15, 0.05])  # errors per record in national files
COUNCILS = 3


@dataclass(frozen=True)
class SynthProgramme:
    """Councils' cohort files and national files of one population, their attributes, and the truth."""

    extracts: dict[str, pl.DataFrame]
    """Identifiers by provider: ``council_1`` .. ``council_K``, ``dwp``, ``moj``, ``dfe``."""
    attributes: dict[str, pl.DataFrame]
    """Each provider's attributes by ``record_id``: support, benefit spells, offences, school absence."""
    truth: pl.DataFrame
    """Columns ``provider``, ``record_id``, ``person_id``: one row per record."""


def _dates_between(lo: str, hi: str, n: int, rng: np.random.Generator) -> pl.Series:
    start, end = np.datetime64(lo), np.datetime64(hi)
    days = rng.integers(0, int((end - start).astype(int)) + 1, n)
    return pl.Series((start + days).astype("datetime64[D]")).cast(pl.Utf8)


def synth_programme(cohort: int = PROGRAMME_COHORT, *, seed: int = SEED, councils: int = COUNCILS,
                    moved: float = 0.05, duplicates: float = 0.015, aliases: float = 0.3) -> SynthProgramme:
    """A programme like Supporting Families: ``councils`` councils support a cohort of about
    ``cohort`` people in whole families; national files hold them among many others.

    - each family is in one council's file, and a share ``moved`` of families in two;
    - ``dwp`` (benefits): most adults of the cohort and about twice as many other adults; a
      share ``duplicates`` of its people have a second claim (a second record);
    - ``moj`` (offending): some of the cohort's adults and teenagers, and others; a share
      ``aliases`` of its records give another first name or surname;
    - ``dfe`` (schools): nearly all the cohort's children of school age, and others.

    Every record gets the errors of step 4 independently: as many as in other files for the
    councils' and offending records, fewer (80% none) for benefits and schools, whose records
    are checked against national registers. Attributes: each council's support
    start, benefit spells, offences, and each pupil's absence rate before and after support
    (lower after, on average, for the cohort). Pure function of the arguments.
    """
    _check_records(cohort)
    if councils < 1:
        raise ValueError(f"councils must be at least 1, got {councils}")
    for name, share in (("moved", moved), ("duplicates", duplicates), ("aliases", aliases)):
        _check_share(name, share)
    rng = np.random.default_rng(seed)
    # The cohort: whole families; the others: people alone or in families, of the same population.
    fam = _households_of_two_or_more(cohort, rng, 0)
    offset = int(fam["hh"].max()) + 1
    n_others = 3 * cohort
    others = _concat(_households_of_two_or_more(n_others // 3, rng, offset),
                     _people_alone(n_others - n_others // 3, rng, offset + 10 * cohort + 10))
    people = _concat(fam, others)
    n, n_cohort = len(people["hh"]), len(fam["hh"])
    in_cohort = np.arange(n) < n_cohort
    adult, child = people["y"] <= 2006, (people["y"] >= 2007) & (people["y"] <= 2020)
    teen_or_adult = people["y"] <= 2010

    # Councils: each family in one, some in a second.
    hh_ids, hh_of = np.unique(fam["hh"], return_inverse=True)
    home = rng.integers(0, councils, len(hh_ids))
    second = np.where(rng.random(len(hh_ids)) < moved, (home + 1 + rng.integers(0, max(councils - 1, 1),
                                                                                 len(hh_ids))) % councils, -1)
    members: list[tuple[str, np.ndarray]] = []
    for c in range(councils):
        rows = np.flatnonzero((home[hh_of] == c) | (second[hh_of] == c))
        members.append((f"council_{c + 1}", rows))
    # National files.
    dwp = in_cohort & adult & (rng.random(n) < 0.85) | ~in_cohort & adult & (rng.random(n) < 0.75)
    moj = in_cohort & teen_or_adult & (rng.random(n) < 0.10) | ~in_cohort & teen_or_adult & (rng.random(n) < 0.03)
    dfe = in_cohort & child & (rng.random(n) < 0.95) | ~in_cohort & child & (rng.random(n) < 0.8)
    dwp_rows = np.flatnonzero(dwp)
    dwp_rows = np.sort(np.concatenate([dwp_rows, dwp_rows[rng.random(len(dwp_rows)) < duplicates]]))
    members += [("dwp", dwp_rows), ("moj", np.flatnonzero(moj)), ("dfe", np.flatnonzero(dfe))]

    person_ids = _person_ids(n)
    extracts, attributes, truths = {}, {}, []
    v = _vocab()
    for k, (label, rows) in enumerate(members):
        taken = _take(people, rows)
        if label == "moj":  # aliases: another first name or another surname
            alias = np.flatnonzero(rng.random(len(rows)) < aliases)
            first = rng.random(len(alias)) < 0.5
            taken["first"][alias[first]] = _first_names(taken["sex"][alias[first]], rng)
            taken["last"][alias[~first]] = rng.choice(len(v.surnames), int((~first).sum()), p=v.surname_p)
        # National files are checked against national registers: fewer errors than councils' files.
        light = rng.choice(len(_NATIONAL_ERROR_COUNT_P), len(rows), p=_NATIONAL_ERROR_COUNT_P) \
            if label in ("dwp", "dfe") else None
        recs, errors = _corrupt(taken, rng, light)
        ids = _record_ids(len(rows), "R", rng)
        style = _STYLE_A if k % 2 == 0 else _STYLE_B
        frame = _render(recs, ids, style, rng, errors)
        order = rng.permutation(frame.height)
        extracts[label] = frame[order]
        truths.append(pl.DataFrame({"provider": label, "record_id": ids, "person_id": person_ids.gather(rows)}))
        attributes[label] = _attributes(label, ids, in_cohort[rows], rng)[order]
    truth = pl.concat(truths).select(pl.col("provider").cast(pl.Utf8), "record_id", "person_id")
    return SynthProgramme(extracts=extracts, attributes=attributes, truth=truth)


def _attributes(label: str, ids: pl.Series, cohort: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """A provider's attributes of its records (one row each; benefits: the latest spell)."""
    n = len(ids)
    if label.startswith("council"):
        return pl.DataFrame({"record_id": ids, "support_start": _dates_between("2022-04-01", "2023-03-31", n, rng)})
    if label == "dwp":
        kinds = pl.Series(["UC", "PIP", "ESA", "JSA"]).gather(rng.choice(4, n, p=[0.6, 0.2, 0.15, 0.05]))
        return pl.DataFrame({"record_id": ids, "benefit": kinds,
                             "spell_start": _dates_between("2018-01-01", "2024-06-30", n, rng),
                             "in_work_2024": rng.random(n) < np.where(cohort, 0.45, 0.6)})
    if label == "moj":
        kinds = pl.Series(["violence", "theft", "drugs", "public order", "other"]).gather(rng.integers(0, 5, n))
        early = _dates_between("2020-01-01", "2022-03-31", n, rng).to_numpy()
        late = _dates_between("2023-04-01", "2025-03-31", n, rng).to_numpy()
        when = np.where(rng.random(n) < np.where(cohort, 0.6, 0.5), early, late)  # fewer after support
        return pl.DataFrame({"record_id": ids, "offence": kinds, "offence_date": pl.Series(when, dtype=pl.Utf8)})
    before = np.clip(rng.normal(np.where(cohort, 14.0, 6.0), 5.0), 0, 100)
    after = np.clip(before + rng.normal(np.where(cohort, -3.0, 0.0), 3.0), 0, 100)
    return pl.DataFrame({"record_id": ids, "absence_before": np.round(before, 1), "absence_after": np.round(after, 1)})


def synth_programme_paths(outdir: str | Path, providers: list[str]) -> dict[str, Path]:
    """Where :func:`write_synth_programme` writes: ``<provider>.csv`` (identifiers),
    ``<provider>.attributes.csv`` and ``truth.csv``."""
    out = {p: Path(outdir) / f"{p}.csv" for p in providers}
    out |= {f"{p}.attributes": Path(outdir) / f"{p}.attributes.csv" for p in providers}
    return out | {"truth": Path(outdir) / "truth.csv"}


PROGRAMME_PROVIDERS = (*(f"council_{c + 1}" for c in range(COUNCILS)), "dwp", "moj", "dfe")


def write_synth_programme(data: SynthProgramme, outdir: str | Path) -> dict[str, Path]:
    """Write each provider's identifiers and attributes, and the truth, as CSV (``outdir`` made if need be)."""
    Path(outdir).mkdir(parents=True, exist_ok=True)
    paths = synth_programme_paths(outdir, list(data.extracts))
    for p, frame in data.extracts.items():
        frame.write_csv(paths[p])
        data.attributes[p].write_csv(paths[f"{p}.attributes"])
    data.truth.write_csv(paths["truth"])
    return paths
