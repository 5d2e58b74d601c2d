"""Tables of the audit domain (Alembic branch ``audit``).

* ``audit_event``: one row per event, by index; the fields the leaf is computed
  from (never a stored leaf hash: verification recomputes it).
* ``audit_node``: the hash of every complete perfect subtree ``(level, idx)``;
  level 0 holds the leaf hashes. Rows are written once and never change.
* ``audit_queue``: events committed by their callers but not yet in the log
  (no index yet). Callers insert here without any shared lock; the sequencer
  moves rows from here into ``audit_event`` (delete + insert, one transaction).
* ``audit_log_head``: the single row the sequencer advances: the log size and
  its frontier (the perfect subtrees making up the tree).
* ``audit_checkpoint``: every signed checkpoint published, by (origin, size).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = [
    "AuditCheckpointRow",
    "AuditEventRow",
    "AuditHeadRow",
    "AuditNodeRow",
    "AuditQueueRow",
]

#: The id of the one row of ``audit_log_head``.
HEAD_ID = 1


class AuditEventRow(SQLModel, table=True):
    """One event of the log. ``idx`` is its leaf index (0-based, gapless)."""

    __tablename__ = "audit_event"
    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    event_id: str = Field(max_length=36, unique=True)
    v: int = Field(sa_type=sa.SmallInteger)
    type: str = Field(max_length=64)
    subject: str = Field(max_length=128, index=True)
    actor: str = Field(max_length=128)
    at: datetime = Field(sa_type=UTCDateTime)
    data: str = Field(sa_type=sa.Text)


class AuditQueueRow(SQLModel, table=True):
    """An event committed with its change but not yet sequenced (no leaf index yet).

    ``seq`` only orders the queue (first come, first integrated); it may have
    gaps and is not the leaf index. The fields are those of ``audit_event``,
    ``data`` already in canonical JSON.
    """

    __tablename__ = "audit_queue"
    seq: int = Field(
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        )
    )
    event_id: str = Field(max_length=36, unique=True)
    v: int = Field(sa_type=sa.SmallInteger)
    type: str = Field(max_length=64)
    subject: str = Field(max_length=128, index=True)
    actor: str = Field(max_length=128)
    at: datetime = Field(sa_type=UTCDateTime)
    data: str = Field(sa_type=sa.Text)


class AuditNodeRow(SQLModel, table=True):
    """The hash of the perfect subtree covering leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "audit_node"
    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_type=sa.LargeBinary)


class AuditHeadRow(SQLModel, table=True):
    """The log head: size and frontier. Only the sequencer (and checkpoints) lock it."""

    __tablename__ = "audit_log_head"
    id: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_type=sa.BigInteger)
    frontier: bytes = Field(sa_type=sa.LargeBinary)


class AuditCheckpointRow(SQLModel, table=True):
    """A published signed checkpoint (C2SP signed note) of the log at ``size``."""

    __tablename__ = "audit_checkpoint"
    origin: str = Field(primary_key=True, max_length=255)
    size: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_type=sa.LargeBinary)
    note: str = Field(sa_type=sa.Text)
    published_at: datetime = Field(sa_type=UTCDateTime)
