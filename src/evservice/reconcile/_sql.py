"""The one SQL spelling reconciliation needs beyond SQLAlchemy Core: insert unless present."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

__all__ = ["insert_ignoring"]


def insert_ignoring(session: Session, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` for the session's back end.

    With ``.returning(key)`` it names exactly the rows this transaction inserted,
    which is how a race with another writer is told apart from success.
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
