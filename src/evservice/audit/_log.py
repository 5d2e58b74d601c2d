"""The append-only log in the store: appending events and reading proofs.

Appending happens inside the caller's transaction, so an event commits or rolls
back together with the state change it records. Appenders serialise on the one
``audit_log_head`` row: ``SELECT ... FOR UPDATE`` on PostgreSQL (SQLite
transactions already begin IMMEDIATE). The lock is held until the caller
commits, so call :func:`record` last in a transaction, after the other rows
that must be locked (series counters, challenges), and keep the order the same
everywhere to avoid deadlocks.

An append reads only the head (size and frontier) and writes the event, its
leaf and the subtree nodes it completes (two on average). Proofs read O(log n)
nodes in one query; nothing ever loads the whole log.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from evservice._context import Context, resolve
from evservice.audit._event import (
    EVENT_SCHEMA_VERSION,
    AuditRecord,
    canonical_data_bytes,
    canonical_event_bytes,
    check_event_fields,
    normalise_data,
)
from evservice.audit._merkle import Frontier, NodeKey
from evservice.audit._merkle import consistency_proof as _consistency_proof
from evservice.audit._merkle import inclusion_proof as _inclusion_proof
from evservice.audit._merkle import root_at as _root_at
from evservice.audit._offline import leaf_hash
from evservice.audit._tables import (
    HEAD_ID,
    AuditCheckpointRow,
    AuditEventRow,
    AuditHeadRow,
    AuditNodeRow,
)
from evservice.clock import ensure_aware
from evservice.errors import StoreError, ValidationError

__all__ = [
    "NewEvent",
    "StoreNodes",
    "consistency_proof",
    "damaged",
    "event_from_row",
    "inclusion_proof",
    "lock_head",
    "log_size",
    "read_head",
    "reading",
    "record",
    "record_many",
    "root_at",
]

EVENTS = cast(sa.Table, AuditEventRow.__table__)  # type: ignore[attr-defined]
NODES = cast(sa.Table, AuditNodeRow.__table__)  # type: ignore[attr-defined]
HEAD = cast(sa.Table, AuditHeadRow.__table__)  # type: ignore[attr-defined]
CHECKPOINTS = cast(sa.Table, AuditCheckpointRow.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewEvent:
    """An event to append (see :func:`record` for the meaning of each field)."""

    type: str
    subject: str
    actor: str
    at: datetime
    data: Mapping[str, Any]


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads, with SQLAlchemy errors turned into StoreError."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"reading the audit log failed: {type(exc).__name__}") from exc


def _prepare(event: NewEvent, prefix: str) -> tuple[dict[str, Any], AuditRecord]:
    """Validate one event and compute its canonical bytes and leaf hash (no store access)."""
    try:
        check_event_fields(event.type, event.subject, event.actor)
        at = ensure_aware(event.at).astimezone(UTC)
    except ValidationError as exc:
        field = "at" if exc.field == "time" else exc.field
        raise ValidationError(f"{prefix}{field}", exc.reason) from exc
    data = normalise_data(event.data, f"{prefix}data")
    event_id = str(uuid.uuid4())
    data_bytes = canonical_data_bytes(data)
    raw = canonical_event_bytes(
        id=event_id,
        type=event.type,
        subject=event.subject,
        actor=event.actor,
        at=at,
        data=data,
        data_bytes=data_bytes,
    )
    row = {
        "event_id": event_id,
        "v": EVENT_SCHEMA_VERSION,
        "type": event.type,
        "subject": event.subject,
        "actor": event.actor,
        "at": at,
        "data": data_bytes.decode("utf-8"),
    }
    rec = AuditRecord(
        index=-1,
        id=event_id,
        type=event.type,
        subject=event.subject,
        actor=event.actor,
        at=at,
        data=data,
        leaf_hash=leaf_hash(raw),
    )
    return row, rec


def lock_head(conn: Connection) -> Frontier:
    """Lock the log head for this transaction and return the size and frontier."""
    row = conn.execute(
        sa.select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == HEAD_ID).with_for_update()
    ).one_or_none()
    if row is None:
        raise StoreError("the audit log head is missing: the store is not migrated")
    return Frontier.from_bytes(int(row.size), bytes(row.frontier))


def record_many(session: Session, events: Iterable[NewEvent]) -> list[AuditRecord]:
    """Append several events, in order, inside the caller's open transaction."""
    prepared = [_prepare(e, f"events.{i}." if i else "") for i, e in enumerate(events)]
    if not prepared:
        return []
    try:
        conn = session.connection()
        frontier = lock_head(conn)
        event_rows: list[dict[str, Any]] = []
        node_rows: list[dict[str, Any]] = []
        records: list[AuditRecord] = []
        for row, rec in prepared:
            index = frontier.size
            for level, idx, h in frontier.append(rec.leaf_hash):
                node_rows.append({"level": level, "idx": idx, "hash": h})
            event_rows.append({"idx": index, **row})
            records.append(
                AuditRecord(
                    index=index,
                    id=rec.id,
                    type=rec.type,
                    subject=rec.subject,
                    actor=rec.actor,
                    at=rec.at,
                    data=rec.data,
                    leaf_hash=rec.leaf_hash,
                )
            )
        _write(conn, event_rows, node_rows, frontier)
    except SQLAlchemyError as exc:
        raise StoreError(f"appending to the audit log failed: {type(exc).__name__}") from exc
    return records


#: Up to this many events go to PostgreSQL in a single statement.
_ONE_STATEMENT_MAX = 50


_EVENT_COLUMNS = ("idx", "event_id", "v", "type", "subject", "actor", "at", "data")


@functools.lru_cache(maxsize=256)
def _one_statement(events: int, nodes: int) -> sa.TextClause:
    """INSERT events, INSERT nodes and UPDATE the head in one PostgreSQL statement.

    Plain SQL with bound parameters, cached per shape: compiling the same thing
    from SQLAlchemy expressions on every append cost more than the round trip
    it saves.
    """
    event_values = ", ".join(
        "(" + ", ".join(f":e{n}_{c}" for c in _EVENT_COLUMNS) + ")" for n in range(events)
    )
    node_values = ", ".join(f"(:n{n}_level, :n{n}_idx, :n{n}_hash)" for n in range(nodes))
    return sa.text(
        f"WITH new_events AS (INSERT INTO audit_event ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
        f"VALUES {event_values}), "
        f"new_nodes AS (INSERT INTO audit_node (level, idx, hash) VALUES {node_values}) "
        "UPDATE audit_log_head SET size = :size, frontier = :frontier WHERE id = :head_id"
    )


def _flat(
    event_rows: list[dict[str, Any]], node_rows: list[dict[str, Any]], frontier: Frontier
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "size": frontier.size,
        "frontier": frontier.to_bytes(),
        "head_id": HEAD_ID,
    }
    for n, row in enumerate(event_rows):
        for column in _EVENT_COLUMNS:
            params[f"e{n}_{column}"] = row[column]
    for n, row in enumerate(node_rows):
        for column in ("level", "idx", "hash"):
            params[f"n{n}_{column}"] = row[column]
    return params


def _write(
    conn: Connection,
    event_rows: list[dict[str, Any]],
    node_rows: list[dict[str, Any]],
    frontier: Frontier,
) -> None:
    """Write the events, their nodes and the new head while the head lock is held.

    On PostgreSQL a small append is one statement (data-modifying CTEs), so the
    lock is held for two round trips instead of four: with many writers the
    lock holder's round trips are what everyone else waits for.
    """
    head = (
        sa.update(HEAD)
        .where(HEAD.c.id == HEAD_ID)
        .values(size=frontier.size, frontier=frontier.to_bytes())
    )
    if conn.dialect.name == "postgresql" and len(event_rows) <= _ONE_STATEMENT_MAX:
        conn.execute(
            _one_statement(len(event_rows), len(node_rows)), _flat(event_rows, node_rows, frontier)
        )
        return
    conn.execute(sa.insert(EVENTS), event_rows)
    conn.execute(sa.insert(NODES), node_rows)
    conn.execute(head)


def record(
    session: Session,
    *,
    type: str,
    subject: str,
    actor: str,
    at: datetime,
    data: Mapping[str, Any],
) -> AuditRecord:
    """Append one event inside the caller's open transaction and return it with its index.

    ``type`` is a dotted lower-case name (``invoice.issued``), ``subject`` the
    document or challenge id, ``actor`` who acted (``system``, ``customer``,
    ``operator:<name>``), ``at`` an aware time, ``data`` hashes and masked
    values only (raw e-mails, phone numbers and codes are refused, naming the
    key). The event commits or rolls back with the caller's transaction.
    """
    return record_many(session, [NewEvent(type, subject, actor, at, data)])[0]


def event_from_row(row: Any) -> AuditRecord:
    """Rebuild an event from its stored fields; the leaf hash is *recomputed* from them."""
    data = json.loads(row.data)
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    raw = canonical_event_bytes(
        id=row.event_id,
        type=row.type,
        subject=row.subject,
        actor=row.actor,
        at=at,
        data=data,
        version=int(row.v),
    )
    return AuditRecord(
        index=int(row.idx),
        id=row.event_id,
        type=row.type,
        subject=row.subject,
        actor=row.actor,
        at=at,
        data=data,
        leaf_hash=leaf_hash(raw),
    )


class StoreNodes:
    """Stored subtree hashes, fetched by key in one query (a :class:`NodeSource`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        if not keys:
            return {}
        # An OR of primary-key lookups, which both back ends answer from the index
        # (SQLite scans the whole table for a row-value IN list). Plain text: building
        # the same condition as SQLAlchemy expressions costs more than the query.
        where = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(len(keys)))
        params: dict[str, int] = {}
        for n, (level, idx) in enumerate(keys):
            params[f"l{n}"] = level
            params[f"i{n}"] = idx
        rows = self.conn.execute(
            sa.text(f"SELECT level, idx, hash FROM audit_node WHERE {where}"),  # noqa: S608
            params,
        )
        return {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}


def read_head(conn: Connection) -> Frontier:
    """The log's size and frontier as last committed (no lock)."""
    row = conn.execute(
        sa.select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == HEAD_ID)
    ).one_or_none()
    if row is None:
        raise StoreError("the audit log head is missing: the store is not migrated")
    return Frontier.from_bytes(int(row.size), bytes(row.frontier))


def _engine(ctx: Context | None) -> Engine:
    return resolve(ctx).engine


def _size_arg(size: int | None, current: int, field: str) -> int:
    if size is None:
        return current
    if not 0 <= size <= current:
        raise ValidationError(field, f"must be between 0 and the log size {current}")
    return size


def log_size(ctx: Context | None = None) -> int:
    """The number of events in the log."""
    with reading(_engine(ctx)) as conn:
        return read_head(conn).size


def root_at(size: int | None = None, ctx: Context | None = None) -> bytes:
    """The RFC 6962 root of the log at ``size`` (default: now)."""
    with reading(_engine(ctx)) as conn:
        head = read_head(conn)
        size = _size_arg(size, head.size, "size")
        if size == head.size:
            return head.root()
        with damaged():
            return _root_at(size, StoreNodes(conn))


def inclusion_proof(index: int, size: int | None = None, ctx: Context | None = None) -> list[bytes]:
    """The inclusion proof of event ``index`` in the log at ``size`` (default: now)."""
    with reading(_engine(ctx)) as conn:
        size = _size_arg(size, read_head(conn).size, "size")
        with damaged():
            return _inclusion_proof(index, size, StoreNodes(conn))


def consistency_proof(
    old_size: int, new_size: int | None = None, ctx: Context | None = None
) -> list[bytes]:
    """The consistency proof from the log at ``old_size`` to ``new_size`` (default: now)."""
    with reading(_engine(ctx)) as conn:
        new_size = _size_arg(new_size, read_head(conn).size, "new_size")
        if not 0 <= old_size <= new_size:
            raise ValidationError("old_size", f"must be between 0 and {new_size}")
        with damaged():
            return _consistency_proof(old_size, new_size, StoreNodes(conn))


@contextmanager
def damaged() -> Iterator[None]:
    """A stored node missing under a proof means the store lost data: say so."""
    try:
        yield
    except LookupError as exc:
        raise StoreError(f"the audit log is damaged: {exc.args[0]}") from exc
