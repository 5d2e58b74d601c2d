"""The log in the store: recording events, integrating them, and reading proofs.

:func:`record` writes the event inside the caller's transaction, so the event
commits or rolls back with the state change it records. On PostgreSQL it goes
into ``audit_queue`` and takes no shared lock: concurrent callers only insert
rows, and the event gets its leaf index later, when a sequencer
(:mod:`evservice.audit._sequencer`) moves a batch of queued rows into the log
with :func:`integrate_rows`, while it holds the log head. On SQLite the caller's
transaction holds the database's one write lock already, so the event goes
straight into the log there (see :func:`record_many`); the SQL of both paths
is in :mod:`evservice.audit._writes`.

:func:`append_now` is the former path (append under the head lock inside the
caller's transaction); only the sequencer-free baseline of the benchmark uses it.

Integrating reads only the head (size and frontier) and writes the events,
their leaves and the subtree nodes they complete (two per event on average).
Proofs read O(log n) nodes in one query; nothing ever loads the whole log.
"""

from __future__ import annotations

import json
import sqlite3
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
    canonical_event_bytes,
    check_event_fields,
    normalise_data,
    normalised_data_bytes,
)
from evservice.audit._merkle import (
    Frontier,
    NodeKey,
    consistency_ranges,
    inclusion_ranges,
    perfect_nodes,
)
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
    AuditQueueRow,
)
from evservice.audit._writes import (
    append_in_place,
    queue_prepared,
    write_appended,
    write_batch,
)
from evservice.clock import ensure_aware
from evservice.errors import StoreError, ValidationError

__all__ = [
    "QUEUE",
    "UNSEQUENCED",
    "NewEvent",
    "StoreNodes",
    "append_now",
    "consistency_proof",
    "damaged",
    "event_from_row",
    "inclusion_proof",
    "integrate_rows",
    "lock_head",
    "log_size",
    "queue_many",
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
QUEUE = cast(sa.Table, AuditQueueRow.__table__)  # type: ignore[attr-defined]

#: The ``index`` of an :class:`AuditRecord` that is queued but not yet in the log.
UNSEQUENCED = -1


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
    data_bytes = normalised_data_bytes(data)
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
        index=UNSEQUENCED,
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


def append_now(session: Session, events: Iterable[NewEvent]) -> list[AuditRecord]:
    """Append events to the log under the head lock, inside the caller's transaction.

    Today's callers queue instead (:func:`record_many`); this is the baseline of
    the benchmark, and what the log did before the queue.
    """
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
        write_appended(conn, event_rows, node_rows, frontier)
    except SQLAlchemyError as exc:
        raise StoreError(f"appending to the audit log failed: {type(exc).__name__}") from exc
    return records


def record(
    session: Session,
    *,
    type: str,
    subject: str,
    actor: str,
    at: datetime,
    data: Mapping[str, Any],
) -> AuditRecord:
    """Record one event inside the caller's open transaction and return it.

    ``type`` is a dotted lower-case name (``invoice.issued``), ``subject`` the
    document or challenge id, ``actor`` who acted (``system``, ``customer``,
    ``operator:<name>``), ``at`` an aware time, ``data`` hashes and masked
    values only (raw e-mails, phone numbers and codes are refused, naming the
    key). The event commits or rolls back with the caller's transaction; it
    takes no lock beyond the back end's own (see :func:`record_many`), so call
    it anywhere in the transaction. The record's ``id`` is known at once; on
    PostgreSQL its ``index`` is :data:`UNSEQUENCED` until a sequencer
    integrates it (:func:`~evservice.audit.wait_sequenced`), on SQLite it is
    usually the leaf index already.
    """
    return record_many(session, [NewEvent(type, subject, actor, at, data)])[0]


def record_many(session: Session, events: Iterable[NewEvent]) -> list[AuditRecord]:
    """Record several events, in order, inside the caller's open transaction.

    The events commit or roll back with the caller's transaction, and no lock
    is shared between callers beyond what the back end already imposes:

    * PostgreSQL: they are queued (one multi-row INSERT into ``audit_queue``,
      no lock on the log head) and come back with ``index == UNSEQUENCED``; a
      sequencer gives them consecutive leaf indexes after the commit (pass
      their ``id`` to :func:`~evservice.audit.wait_sequenced` for the index).
    * SQLite: every transaction of the store begins ``IMMEDIATE``, so the
      caller already holds the database's one write lock; the events go
      straight into the log in that transaction (:func:`append_in_place`: one
      read of the head, the call's leaves and subtree nodes computed at once,
      three writes) and come back with their indexes. Queueing would write
      each event twice under the same lock (queue, then log) for nothing.
      They are queued instead while the log is empty (the sequencer that
      integrates the first events signs the first checkpoint in the same
      transaction, so a log with events and no checkpoint still means
      checkpoints were deleted) and while events wait in the queue (they go
      behind them, so the log keeps the order of the commits).
    """
    prepared = [_prepare(e, f"events.{i}." if i else "") for i, e in enumerate(events)]
    if not prepared:
        return []
    try:
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            placed = append_in_place(conn, prepared)
            if placed is not None:
                return placed
        queue_prepared(conn, prepared)
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise StoreError(f"recording an audit event failed: {type(exc).__name__}") from exc
    return [rec for _, rec in prepared]


def queue_many(session: Session, events: Iterable[NewEvent]) -> list[AuditRecord]:
    """Queue events on any back end (what :func:`record_many` does on PostgreSQL).

    For tests and the benchmark, which exercise the queue and the sequencer on
    SQLite too.
    """
    prepared = [_prepare(e, f"events.{i}." if i else "") for i, e in enumerate(events)]
    try:
        queue_prepared(session.connection(), prepared)
    except SQLAlchemyError as exc:
        raise StoreError(f"queueing an audit event failed: {type(exc).__name__}") from exc
    return [rec for _, rec in prepared]


def integrate_rows(conn: Connection, rows: Sequence[Any]) -> list[tuple[int, str]]:
    """Give queued ``rows`` (in order) the next leaf indexes and write them into the log.

    The caller holds the head lock (``lock_head`` in the sequencer's transaction)
    and has removed the rows from the queue in the same transaction. Leaves are
    recomputed from the stored fields (the data is already canonical JSON), the
    batch's subtree nodes computed at once, then events, nodes and head are
    written together. Returns ``(index, event_id)`` for each row.
    """
    frontier = lock_head(conn)
    event_rows: list[dict[str, Any]] = []
    node_rows: list[dict[str, Any]] = []
    placed: list[tuple[int, str]] = []
    for row in rows:
        at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
        data_bytes = row.data.encode("utf-8")
        raw = canonical_event_bytes(
            id=row.event_id,
            type=row.type,
            subject=row.subject,
            actor=row.actor,
            at=at,
            data={},
            data_bytes=data_bytes,
            version=int(row.v),
        )
        index = frontier.size
        for level, idx, h in frontier.append(leaf_hash(raw)):
            node_rows.append({"level": level, "idx": idx, "hash": h})
        event_rows.append(
            {
                "idx": index,
                "event_id": row.event_id,
                "v": int(row.v),
                "type": row.type,
                "subject": row.subject,
                "actor": row.actor,
                "at": at,
                "data": row.data,
            }
        )
        placed.append((index, row.event_id))
    if event_rows:
        write_batch(conn, event_rows, node_rows, frontier)
    return placed


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
        return self.nodes_and_size(keys, with_size=False)[1]

    def nodes_and_size(
        self, keys: Sequence[NodeKey], *, with_size: bool = True
    ) -> tuple[int, dict[NodeKey, bytes]]:
        """The nodes of ``keys`` and (with ``with_size``) the log size, in one round trip."""
        # An OR of primary-key lookups, which both back ends answer from the index
        # (SQLite scans the whole table for a row-value IN list). Plain text: building
        # the same condition as SQLAlchemy expressions costs more than the query.
        where = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(len(keys)))
        params: dict[str, int] = {}
        for n, (level, idx) in enumerate(keys):
            params[f"l{n}"] = level
            params[f"i{n}"] = idx
        parts = [f"SELECT level, idx, hash FROM audit_node WHERE {where}"] if keys else []  # noqa: S608
        if with_size:
            parts.append(f"SELECT -1, size, NULL FROM audit_log_head WHERE id = {HEAD_ID}")  # noqa: S608
        rows = self.conn.execute(sa.text(" UNION ALL ".join(parts)), params)
        size = -1
        nodes: dict[NodeKey, bytes] = {}
        for level, idx, h in rows:
            if int(level) < 0:
                size = int(idx)
            else:
                nodes[(int(level), int(idx))] = bytes(h)
        if with_size and size < 0:
            raise StoreError("the audit log head is missing: the store is not migrated")
        return size, nodes


class _Fetched:
    """Nodes fetched already (a :class:`NodeSource` over a dict)."""

    def __init__(self, nodes: Mapping[NodeKey, bytes]) -> None:
        self.nodes = nodes

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}


def _at_size(
    conn: Connection, ranges: Sequence[tuple[int, int]], size: int, field: str
) -> _Fetched:
    """For a size given by the caller: its nodes and the check that the log has it, at once."""
    keys = sorted({key for a, b in ranges for key in perfect_nodes(a, b)})
    current, nodes = StoreNodes(conn).nodes_and_size(keys)
    _size_arg(size, current, field)
    return _Fetched(nodes)


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
    """The inclusion proof of event ``index`` in the log at ``size`` (default: now).

    With ``size`` given (a checkpoint's, as bundles use), one query reads the
    nodes and checks the size together.
    """
    with reading(_engine(ctx)) as conn:
        if size is not None and 0 <= index < size:
            source = _at_size(conn, inclusion_ranges(index, size), size, "size")
            with damaged():
                return _inclusion_proof(index, size, source)
        size = _size_arg(size, read_head(conn).size, "size")
        with damaged():
            return _inclusion_proof(index, size, StoreNodes(conn))


def consistency_proof(
    old_size: int, new_size: int | None = None, ctx: Context | None = None
) -> list[bytes]:
    """The consistency proof from the log at ``old_size`` to ``new_size`` (default: now)."""
    with reading(_engine(ctx)) as conn:
        if new_size is not None and 0 <= old_size <= new_size:
            ranges = consistency_ranges(old_size, new_size)
            source = _at_size(conn, ranges, new_size, "new_size")
            with damaged():
                return _consistency_proof(old_size, new_size, source)
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
