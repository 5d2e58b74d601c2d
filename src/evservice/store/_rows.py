"""Row helpers shared by the domains."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

__all__ = ["insert_if_absent"]


def insert_if_absent(session: Session, table: sa.Table, values: dict[str, Any]) -> None:
    """Insert ``values`` unless a row with the same key exists, without racing other writers.

    PostgreSQL and SQLite use ``INSERT ... ON CONFLICT DO NOTHING``; another back
    end tries the insert in a savepoint and ignores the conflict.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())
    else:
        try:
            with session.begin_nested():
                session.execute(sa.insert(table).values(values))
        except IntegrityError:
            pass  # created meanwhile by another transaction: fine
