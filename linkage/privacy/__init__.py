"""Re-identification attacks on encodings, and the audit that runs them (computation only).

Run by a linkage unit, a council or a regulator to measure how exposed an encoding is before
data moves. The attacks know the encoding scheme (the schema is public) but never the key;
the plaintext of the encoded people is used only to measure them.

:func:`audit` runs the attacks of :data:`ATTACKS` and returns an :class:`AuditReport`
(``table()``, ``to_dict()``). Each attack is a function of a :class:`Knowledge` (what the
attacker holds) returning a :class:`Guess`: with known plaintext, :func:`value`,
:func:`value_year`, :func:`unbalance`, :func:`bigram_year`; without, :func:`frequency`,
:func:`pattern`, :func:`graph`. Their docstrings give their assumptions and papers.
"""

from .audit import ATTACKS, KNOWN, Attack, AttackResult, AuditReport, audit, run_attack
from .base import Guess, NotApplicable
from .blind import frequency, pattern
from .graph import graph
from .knowledge import Knowledge, Truth, build_knowledge
from .known import bigram_year, unbalance, value, value_year

__all__ = [
    "ATTACKS",
    "KNOWN",
    "Attack",
    "AttackResult",
    "AuditReport",
    "Guess",
    "Knowledge",
    "NotApplicable",
    "Truth",
    "audit",
    "bigram_year",
    "build_knowledge",
    "frequency",
    "graph",
    "pattern",
    "run_attack",
    "unbalance",
    "value",
    "value_year",
]
