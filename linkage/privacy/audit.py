"""The audit: run re-identification attacks on an encoding and measure them against the truth.

Run by a linkage unit, a council or a regulator before data moves: given an encoded file and
the plaintext of the same people, how many people could an attacker at the linkage unit
re-identify? The truth is used only to measure; every attack sees only what
:class:`~linkage.privacy.knowledge.Knowledge` holds. Reports carry counts and shares, never
a value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ..format.encoded import Encoded
from ..progress import progress
from .anchor import anchor, neighbour
from .base import Guess, NotApplicable
from .blind import frequency, pattern
from .graph import graph
from .knowledge import Knowledge, Truth, build_knowledge
from .known import bigram_year, unbalance, value, value_year

__all__ = ["ATTACKS", "KNOWN", "Attack", "AttackResult", "AuditReport", "audit", "run_attack"]

KNOWN = 0.05  # default share of encoded records whose identity the attacker is given


@dataclass(frozen=True)
class Attack:
    """An attack: its function, whether it needs known records, and its assumptions in one line."""

    name: str
    run: Callable[[Knowledge], Guess]
    needs_known: bool
    assumptions: str


ATTACKS: dict[str, Attack] = {a.name: a for a in (
    Attack("value", value, True,
           "knows a share of the filters' identities and the register; learns each first name's, surname's and "
           "birth year's bits from them"),
    Attack("value_year", value_year, True,
           "as value, but learns each (name, year of birth) pair's bits: what salting names by year leaves open"),
    Attack("unbalance", unbalance, True,
           "as value, after removing balancing: each bit's complement is its most anti-correlated bit"),
    Attack("bigram_year", bigram_year, True,
           "as value, but learns each bigram's bits per year of birth and ranks that year's register"),
    Attack("anchor", anchor, True,
           "knows a share of the filters' identities and the register; matches each filter's similarities to the "
           "known people with each register person's (encoded with its own key)"),
    Attack("neighbour", neighbour, True,
           "knows a share of the filters' identities and the register; takes each filter's most similar known "
           "person and proposes the register person most like it"),
    Attack("frequency", frequency, False,
           "knows no identity; knows the schema and the register's token frequencies; aligns bits and bit "
           "pairs with frequent tokens"),
    Attack("pattern", pattern, False,
           "knows no identity; knows the schema and the register's token frequencies; mines bits set together "
           "and aligns them with frequent tokens"),
    Attack("graph", graph, False,
           "knows no identity; encodes the register with the schema and its own key and matches Dice "
           "similarity graphs by node features"),
)}


@dataclass(frozen=True)
class AttackResult:
    """One attack, measured: re-identified records among those attacked, and fields recovered.

    ``reidentified`` counts attacked records whose top-ranked register person (alone, no tie)
    is their true person; ``fields`` gives, per feature (name fields and ``year``), the share
    of attacked records whose true value the attack decoded (from its own decoding, or from
    its top-ranked person). ``reason`` says why an attack that is not ``applicable`` did not
    run.
    """

    name: str
    known: float | None
    attacked: int
    applicable: bool
    reidentified: int | None = None
    fields: dict[str, float] = field(default_factory=dict)
    assumptions: str = ""
    seconds: float = 0.0
    reason: str | None = None
    detail: str = ""

    @property
    def share(self) -> float | None:
        if self.reidentified is None:
            return None
        return self.reidentified / self.attacked if self.attacked else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.name, "known": self.known, "attacked": self.attacked, "applicable": self.applicable,
            "reidentified": self.reidentified, "share": self.share, "fields": dict(self.fields),
            "assumptions": self.assumptions, "seconds": round(self.seconds, 3), "reason": self.reason,
            "detail": self.detail,
        }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


@dataclass(frozen=True)
class AuditReport:
    """The results of every attack run, with what the audit was run on (counts only)."""

    records: int
    known: float
    known_records: int
    attacked: int
    register: int
    filter_bits: int
    seed: int
    results: list[AttackResult]
    targets: list[str]

    def result(self, name: str) -> AttackResult:
        return next(r for r in self.results if r.name == name)

    def table(self) -> str:
        """The results as a text table, each attack's assumptions listed under it."""
        head = ["attack", "known", "re-identified", "share", *[f"{t}" for t in self.targets], "seconds"]
        rows = []
        for r in self.results:
            known = "none" if r.known is None else _pct(r.known)
            if not r.applicable:
                rows.append([r.name, known, "not applicable", "-", *["-" for _ in self.targets], f"{r.seconds:.1f}"])
                continue
            fields = [_pct(r.fields.get(t)) for t in self.targets]
            rows.append([r.name, known, f"{r.reidentified:,} / {r.attacked:,}", _pct(r.share), *fields,
                         f"{r.seconds:.1f}"])
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        line = lambda cells: "  ".join(str(c).ljust(w) if k == 0 else str(c).rjust(w)
                                       for k, (c, w) in enumerate(zip(cells, widths))).rstrip()
        out = [
            f"audit of {self.records:,} encoded records ({self.filter_bits}-bit filters) against a register of "
            f"{self.register:,} people; {self.known_records:,} known to the attacker ({self.known:.1%}, seed "
            f"{self.seed}), {self.attacked:,} attacked",
            line(head),
            line(["-" * w for w in widths]),
            *(line(r) for r in rows),
            "fields: share of attacked records whose value the attack recovered",
            "assumptions:",
        ]
        for r in self.results:
            out.append(f"  {r.name}: {r.assumptions}")
            if not r.applicable:
                out.append(f"    not applicable: {r.reason}")
            elif r.detail:
                out.append(f"    found: {r.detail}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records, "known": self.known, "known_records": self.known_records,
            "attacked": self.attacked, "register": self.register, "filter_bits": self.filter_bits,
            "seed": self.seed, "fields": list(self.targets), "results": [r.to_dict() for r in self.results],
        }


def _recovered(kn: Knowledge, truth: Truth, guess: Guess) -> dict[str, float]:
    """Share of attacked records whose true feature value the attack recovered, per target feature."""
    out = {}
    n = len(kn.attacked)
    if not n:
        return dict.fromkeys(kn.targets, 0.0)
    true = truth.values[kn.attacked]
    for t in kn.targets:
        got = guess.fields.get(t)
        if got is None:
            reg = kn.register[t]
            got = pl.concat([reg, pl.Series([None], dtype=reg.dtype)]).gather(
                np.where(guess.top >= 0, guess.top, reg.len()))
        hit = (got.cast(pl.Utf8) == true[t].cast(pl.Utf8)).fill_null(False)
        out[t] = float(hit.sum()) / n
    return out


def run_attack(attack: Attack | str, kn: Knowledge, truth: Truth) -> AttackResult:
    """Run one attack on the attacker's knowledge and measure it against the truth."""
    attack = ATTACKS[attack] if isinstance(attack, str) else attack
    known = float(len(kn.known) / kn.n) if attack.needs_known else None
    start = time.perf_counter()
    try:
        if attack.needs_known and not len(kn.known):
            raise NotApplicable("needs known records (--known above 0)")
        guess = attack.run(kn)
    except NotApplicable as e:
        return AttackResult(attack.name, known, len(kn.attacked), False, assumptions=attack.assumptions,
                            seconds=time.perf_counter() - start, reason=str(e))
    seconds = time.perf_counter() - start
    true_rows = truth.rows[kn.attacked]
    hit = (guess.top == true_rows) & guess.unique & (true_rows >= 0)
    return AttackResult(attack.name, known, len(kn.attacked), True, int(hit.sum()), _recovered(kn, truth, guess),
                        attack.assumptions, seconds, detail=guess.detail)


def audit(encoded: Encoded, plain: pl.DataFrame, *, known: float = KNOWN, attacks: Sequence[str] | None = None,
          register: pl.DataFrame | None = None, seed: int = 0, quiet: bool = True, plain_name: str = "plain",
          register_name: str = "register") -> AuditReport:
    """Measure how many of ``encoded``'s people each attack re-identifies.

    ``plain`` is the plaintext the file was encoded from (its extract, as read), joined on
    ``record_id``: the ground truth, used only to measure. ``register`` is the attacker's
    plaintext population (default: ``plain`` itself, the worst case). A share ``known`` of
    the encoded records (drawn with ``seed``) is given to the attacker with its identity;
    results are measured on the other records. ``attacks`` names the attacks to run (default:
    all of :data:`ATTACKS`, in that order).
    """
    names = list(ATTACKS) if attacks is None else list(attacks)
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attack(s): {', '.join(unknown)}; choose from {', '.join(ATTACKS)}")
    kn, truth = build_knowledge(encoded, plain, known=known, register=register, seed=seed, quiet=quiet,
                                plain_name=plain_name, register_name=register_name)
    results = []
    with progress(total=len(names), desc="attacks", unit="attack", quiet=quiet) as bar:
        for name in names:
            results.append(run_attack(name, kn, truth))
            bar.update(1)
    return AuditReport(records=kn.n, known=known, known_records=len(kn.known), attacked=len(kn.attacked),
                       register=kn.register.height, filter_bits=kn.filter_bits, seed=seed, results=results,
                       targets=list(kn.targets))
