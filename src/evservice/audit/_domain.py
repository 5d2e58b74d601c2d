"""What domains need to compare their rows with the log: their events, by subject.

A domain (invoices, contracts, ...) knows which fields of its rows its events
carry; the log knows the events. :func:`events_of_subjects` gives a domain the
events about a chunk of its rows (from the log and from the queue), and the
domain returns :class:`~evservice.audit.LogProblem` s of kind ``domain``; the
check is passed to :func:`~evservice.audit.verify_log` as one of its
``domain_checks``, so it runs in the same snapshot as the re-hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from evservice.audit._log import EVENTS, QUEUE, UNSEQUENCED

__all__ = ["SubjectEvent", "events_of_subjects"]


@dataclass(frozen=True)
class SubjectEvent:
    """An event about a subject as stored: ``index`` is UNSEQUENCED while it is queued."""

    index: int
    type: str
    data: Mapping[str, Any]


def events_of_subjects(
    conn: Connection, subjects: Sequence[str], types: Iterable[str]
) -> dict[str, list[SubjectEvent]]:
    """The events of ``types`` about each of ``subjects`` (log first, then queue, in order)."""
    wanted = sorted(set(types))
    found: dict[str, list[SubjectEvent]] = {s: [] for s in subjects}
    if not subjects:
        return found
    for table, index in ((EVENTS, EVENTS.c.idx), (QUEUE, None)):
        order = index if index is not None else table.c.seq
        rows = conn.execute(
            sa.select(table.c.subject, table.c.type, table.c.data, order.label("pos"))
            .where(table.c.subject.in_(list(subjects)), table.c.type.in_(wanted))
            .order_by(order)
        )
        for row in rows:
            try:
                data = json.loads(row.data)
            except ValueError:
                data = {}
            found[row.subject].append(
                SubjectEvent(
                    int(row.pos) if index is not None else UNSEQUENCED,
                    row.type,
                    data if isinstance(data, dict) else {},
                )
            )
    return found
