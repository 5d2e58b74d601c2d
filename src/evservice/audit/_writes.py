"""How the log's rows reach the store, by back end: the SQL behind recording and integrating.

Kept apart from :mod:`evservice.audit._log` (what the log does) because each
statement here is shaped by what one back end does fast:

* PostgreSQL: the queue insert and a sequencer batch are one statement each,
  whatever their size, with one array parameter per column (``unnest``): no
  per-row round trip, no per-row parameter for the driver to process, and the
  same text every time, so the server prepares it once.
* SQLite: an append in place (:func:`append_in_place`) runs on the DB-API
  cursor of the caller's transaction (SQLAlchemy's execution machinery cost
  more than the four statements), one executemany per table.
* The former path (:func:`write_appended`, used by ``append_now`` only) is kept
  as the benchmark's baseline: a small append as one data-modifying CTE on
  PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from evservice.audit._event import EVENT_SCHEMA_VERSION, AuditRecord
from evservice.audit._merkle import Frontier
from evservice.audit._tables import HEAD_ID, AuditHeadRow
from evservice.errors import StoreError
from evservice.store import UTCDateTime

__all__ = [
    "EVENT_COLUMNS",
    "ONE_STATEMENT_MAX",
    "QUEUE_COLUMNS",
    "append_in_place",
    "queue_prepared",
    "write_appended",
    "write_batch",
]

_HEAD = cast(sa.Table, AuditHeadRow.__table__)  # type: ignore[attr-defined]

#: Up to this many events go to PostgreSQL in a single statement.
ONE_STATEMENT_MAX = 50


EVENT_COLUMNS = ("idx", "event_id", "v", "type", "subject", "actor", "at", "data")


@functools.lru_cache(maxsize=256)
def _one_statement(events: int, nodes: int) -> sa.TextClause:
    """INSERT events, INSERT nodes and UPDATE the head in one PostgreSQL statement.

    Plain SQL with bound parameters, cached per shape: compiling the same thing
    from SQLAlchemy expressions on every append cost more than the round trip
    it saves.
    """
    event_values = ", ".join(
        "(" + ", ".join(f":e{n}_{c}" for c in EVENT_COLUMNS) + ")" for n in range(events)
    )
    node_values = ", ".join(f"(:n{n}_level, :n{n}_idx, :n{n}_hash)" for n in range(nodes))
    return sa.text(
        f"WITH new_events AS (INSERT INTO audit_event ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608
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
        for column in EVENT_COLUMNS:
            params[f"e{n}_{column}"] = row[column]
    for n, row in enumerate(node_rows):
        for column in ("level", "idx", "hash"):
            params[f"n{n}_{column}"] = row[column]
    return params


def write_appended(
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
        sa.update(_HEAD)
        .where(_HEAD.c.id == HEAD_ID)
        .values(size=frontier.size, frontier=frontier.to_bytes())
    )
    if conn.dialect.name == "postgresql" and len(event_rows) <= ONE_STATEMENT_MAX:
        conn.execute(
            _one_statement(len(event_rows), len(node_rows)), _flat(event_rows, node_rows, frontier)
        )
        return
    _insert_many(conn, "audit_event", EVENT_COLUMNS, [_event_tuple(conn, r) for r in event_rows])
    _insert_many(conn, "audit_node", ("level", "idx", "hash"), [
        (r["level"], r["idx"], r["hash"]) for r in node_rows
    ])  # fmt: skip
    conn.execute(head)


def _event_tuple(conn: Connection, row: dict[str, Any]) -> tuple[Any, ...]:
    """An event row as driver parameters; ``at`` as UTCDateTime would bind it."""
    at: Any = row["at"].astimezone(UTC)
    if conn.dialect.name == "sqlite":  # SQLAlchemy's SQLite DateTime text, naive UTC
        at = at.strftime("%Y-%m-%d %H:%M:%S.%f")
    return tuple(at if c == "at" else row[c] for c in EVENT_COLUMNS)


def _insert_many(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """One driver-level executemany: a batch's thousands of rows skip SQLAlchemy's
    per-row parameter processing, which was most of the sequencer's time."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * len(columns))
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
        rows,
    )


QUEUE_COLUMNS = ("event_id", "v", "type", "subject", "actor", "at", "data")


@functools.lru_cache(maxsize=64)
def _queue_statement(events: int) -> sa.TextClause:
    """INSERT ``events`` rows into the queue in one statement (plain SQL, cached per shape)."""
    values = ", ".join(
        "(" + ", ".join(f":q{n}_{c}" for c in QUEUE_COLUMNS) + ")" for n in range(events)
    )
    statement = sa.text(
        f"INSERT INTO audit_queue ({', '.join(QUEUE_COLUMNS)}) VALUES {values}"  # noqa: S608
    )
    return statement.bindparams(
        *(sa.bindparam(f"q{n}_at", type_=UTCDateTime()) for n in range(events))
    )


#: One statement for any number of queued events: one array per column.
_PG_QUEUE = (
    "INSERT INTO audit_queue (event_id, v, type, subject, actor, at, data) "
    "SELECT * FROM unnest(%s::varchar[], %s::smallint[], %s::varchar[], %s::varchar[], "
    "%s::varchar[], %s::timestamptz[], %s::text[])"
)


def queue_prepared(
    conn: Connection, prepared: Sequence[tuple[dict[str, Any], AuditRecord]]
) -> None:
    """Insert prepared events into the queue: on PostgreSQL one ``unnest`` INSERT whatever
    their number (the same text each time, so the server prepares it once)."""
    if not prepared:
        return
    if conn.dialect.name == "postgresql":
        columns = tuple([row[c] for row, _ in prepared] for c in QUEUE_COLUMNS)
        conn.exec_driver_sql(_PG_QUEUE, columns)
        return
    for start in range(0, len(prepared), ONE_STATEMENT_MAX):
        part = prepared[start : start + ONE_STATEMENT_MAX]
        params = {f"q{n}_{c}": row[c] for n, (row, _) in enumerate(part) for c in QUEUE_COLUMNS}
        conn.execute(_queue_statement(len(part)), params)


_SQLITE_HEAD = (
    "SELECT size, frontier, EXISTS (SELECT 1 FROM audit_queue) "  # noqa: S608
    f"FROM audit_log_head WHERE id = {HEAD_ID}"
)
_SQLITE_EVENTS = (
    f"INSERT INTO audit_event ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)
_SQLITE_NODES = "INSERT INTO audit_node (level, idx, hash) VALUES (?, ?, ?)"
_SQLITE_SET_HEAD = f"UPDATE audit_log_head SET size = ?, frontier = ? WHERE id = {HEAD_ID}"  # noqa: S608


def append_in_place(
    conn: Connection, prepared: Sequence[tuple[dict[str, Any], AuditRecord]]
) -> list[AuditRecord] | None:
    """Append prepared events at the head of a SQLite log, in the caller's transaction.

    The caller's transaction holds SQLite's write lock (the store begins every
    transaction ``IMMEDIATE``), so the head it reads stays its own until it
    commits; should a transaction begin deferred instead, SQLite refuses the
    write (``SQLITE_BUSY_SNAPSHOT``) rather than let two appends share a head.
    Leaves are those :func:`_prepare` computed; the nodes they complete come
    from the frontier at once; events and nodes go in one driver-level
    executemany each, then the head. Returns None, writing nothing, when the
    log is empty or the queue is not (see :func:`record_many`).
    """
    # The DB-API cursor of the transaction's own connection: SQLAlchemy's execution
    # machinery cost more than the four statements themselves.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    row = cursor.execute(_SQLITE_HEAD).fetchone()
    if row is None:
        raise StoreError("the audit log head is missing: the store is not migrated")
    if int(row[0]) == 0 or row[2]:
        return None
    frontier = Frontier.from_bytes(int(row[0]), bytes(row[1]))
    event_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    records: list[AuditRecord] = []
    for values, rec in prepared:
        index = frontier.size
        node_rows.extend(frontier.append(rec.leaf_hash))
        event_rows.append(
            (
                index,
                rec.id,
                EVENT_SCHEMA_VERSION,
                rec.type,
                rec.subject,
                rec.actor,
                rec.at.strftime("%Y-%m-%d %H:%M:%S.%f"),  # UTCDateTime's SQLite text
                values["data"],
            )
        )
        records.append(
            AuditRecord(
                index, rec.id, rec.type, rec.subject, rec.actor, rec.at, rec.data, rec.leaf_hash
            )
        )
    cursor.executemany(_SQLITE_EVENTS, event_rows)
    cursor.executemany(_SQLITE_NODES, node_rows)
    cursor.execute(_SQLITE_SET_HEAD, (frontier.size, frontier.to_bytes()))
    cursor.close()
    return records


#: A whole batch in one PostgreSQL statement, whatever its size: one array per column.
_PG_BATCH = (
    "WITH new_events AS (INSERT INTO audit_event "
    "(idx, event_id, v, type, subject, actor, at, data) "
    "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::smallint[], %s::varchar[], "
    "%s::varchar[], %s::varchar[], %s::timestamptz[], %s::text[])), "
    "new_nodes AS (INSERT INTO audit_node (level, idx, hash) "
    "SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])) "
    "UPDATE audit_log_head SET size = %s, frontier = %s WHERE id = %s"
)


def write_batch(
    conn: Connection,
    event_rows: list[dict[str, Any]],
    node_rows: list[dict[str, Any]],
    frontier: Frontier,
) -> None:
    """Write a sequencer batch: on PostgreSQL one statement (``unnest`` of column arrays:
    no per-row round trip or parameter), on SQLite one executemany per table."""
    if conn.dialect.name != "postgresql":
        write_appended(conn, event_rows, node_rows, frontier)
        return
    params = (
        *([r[c] for r in event_rows] for c in EVENT_COLUMNS),
        *([r[c] for r in node_rows] for c in ("level", "idx", "hash")),
        frontier.size,
        frontier.to_bytes(),
        HEAD_ID,
    )
    conn.exec_driver_sql(_PG_BATCH, params)
