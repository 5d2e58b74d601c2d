"""Erasure on request: destroy a person's data keys (crypto-shredding).

What was sealed under the person's own keys (scope ``subject:<blind index>``:
contracts, outbox messages) can no longer be opened and reads as
:data:`~evservice.privacy.ERASED`; what the law keeps (issued invoices, under
the ``retention`` key) stays readable. One ``privacy.forgotten`` audit event per
request names the blind indexes and the counts, never the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from evservice import audit
from evservice._context import Context
from evservice.privacy._keyring import KEYS, keyring
from evservice.privacy._reseal import SealedTable
from evservice.store import transaction

__all__ = ["Forgotten", "forget"]


@dataclass(frozen=True)
class Forgotten:
    """What :func:`forget` did: keys destroyed, and rows found by the blind index per table."""

    subjects: tuple[str, ...]
    keys_destroyed: int
    rows: dict[str, int]

    def summary(self) -> str:
        rows = ", ".join(f"{n} in {t}" for t, n in sorted(self.rows.items())) or "none indexed"
        return (
            f"{self.keys_destroyed} data keys destroyed for {len(self.subjects)} identifiers; "
            f"rows now erased: {rows}"
        )


def forget(
    ctx: Context,
    identities: Sequence[str],
    tables: Sequence[SealedTable] = (),
    *,
    actor: str = "operator",
) -> Forgotten:
    """Destroy the data keys of the people named by ``identities`` (phones, e-mails, codes).

    ``tables`` are searched through their blind-index columns to count the rows
    erased. Idempotent: forgetting again destroys nothing more.
    """
    kr = keyring(ctx)
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        conn = session.connection()
        indexes = [kr.index(identity, conn) for identity in identities]
        scopes = [f"subject:{index}" for index in indexes]
        destroyed = conn.execute(
            sa.update(KEYS)
            .where(KEYS.c.scope.in_(scopes), KEYS.c.destroyed_at.is_(None))
            .values(wrapped=None, destroyed_at=now)
        ).rowcount
        rows = _count(conn, tables, indexes)
        _record(session, indexes, destroyed, rows, now, actor)
    kr.forget_cached()
    return Forgotten(tuple(indexes), int(destroyed or 0), rows)


def _count(
    conn: sa.Connection, tables: Sequence[SealedTable], indexes: list[str]
) -> dict[str, int]:
    rows: dict[str, int] = {}
    for spec in tables:
        for column in spec.indexes:
            found = conn.execute(
                sa.select(sa.func.count()).where(spec.table.c[column].in_(indexes))
            ).scalar_one()
            rows[spec.name] = rows.get(spec.name, 0) + int(found)
    return rows


def _record(
    session: Session,
    indexes: list[str],
    destroyed: int,
    rows: dict[str, int],
    now: datetime,
    actor: str,
) -> None:
    audit.record(
        session,
        type="privacy.forgotten",
        subject=indexes[0] if len(indexes) == 1 else "several",
        actor=actor,
        at=now,
        data={"subjects": indexes, "keys_destroyed": int(destroyed or 0), "rows": rows},
    )
