"""Tables of the audit domain (Alembic branch ``audit``).

* ``audit_event``: one row per event, by index; the fields the leaf is computed
  from (never a stored leaf hash: verification recomputes it).
* ``audit_node``: the hash of every complete perfect subtree ``(level, idx)``;
  level 0 holds the leaf hashes. Rows are written once and never change.
* ``audit_log_head``: the single row locked by every append: the log size and
  its frontier (the perfect subtrees making up the tree).
* ``audit_checkpoint``: every signed checkpoint published, by (origin, size).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["AuditCheckpointRow", "AuditEventRow", "AuditHeadRow", "AuditNodeRow"]

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


class AuditNodeRow(SQLModel, table=True):
    """The hash of the perfect subtree covering leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "audit_node"
    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_type=sa.LargeBinary)


class AuditHeadRow(SQLModel, table=True):
    """The log head: size and frontier. Appenders lock this one row."""

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
