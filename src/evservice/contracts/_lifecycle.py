"""The contract lifecycle as data: which status may follow which.

::

    draft ──> sent ──> consented ──> countersigned ──> sealed
      ↑ ↺       │  ↺ (another code)      │
      └─────────┤ (amended: the document shown changes; earlier codes are dead)
                ├──> declined (also from consented)
                └──> expired
    every state before sealed ──> voided

Every transition is checked here, stored with the contract and appended to the
audit log in the same transaction.
"""

from __future__ import annotations

from evservice.contracts._model import ContractStatus as S
from evservice.errors import LifecycleError

__all__ = ["ALLOWED", "check_transition"]

ALLOWED: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.DRAFT, S.SENT, S.VOIDED}),
    S.SENT: frozenset({S.DRAFT, S.SENT, S.CONSENTED, S.DECLINED, S.EXPIRED, S.VOIDED}),
    S.CONSENTED: frozenset({S.COUNTERSIGNED, S.DECLINED, S.VOIDED}),
    S.COUNTERSIGNED: frozenset({S.SEALED, S.VOIDED}),
    S.SEALED: frozenset(),
    S.DECLINED: frozenset(),
    S.EXPIRED: frozenset(),
    S.VOIDED: frozenset(),
}


def check_transition(current: S | str, wanted: S | str) -> S:
    """Return ``wanted`` if the lifecycle allows it from ``current``; else LifecycleError."""
    cur, new = S(current), S(wanted)
    if new not in ALLOWED[cur]:
        raise LifecycleError("contract", cur.value, new.value)
    return new
