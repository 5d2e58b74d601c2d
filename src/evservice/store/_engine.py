"""Engine factory (one engine per URL per process) and the write transaction.

SQLite: the file is created 0600 in a folder created 0700 (its WAL and
shared-memory files take the file's mode), WAL journal, a busy timeout,
foreign keys on, and every transaction begins with ``BEGIN IMMEDIATE`` so
that concurrent writers (processes in the batch) queue for the write lock
instead of failing half-way. PostgreSQL: row
locks (``SELECT ... FOR UPDATE``) serialise what must be serial, such as the
next number of a series.

Both: ``hide_parameters=True``, so SQLAlchemy's own logging (``sqlalchemy.engine``
at INFO or DEBUG, when an application turns that logger on) and its error
messages show the SQL but never the bound values: phone numbers, e-mail
addresses, names and sealed secrets are parameters of our statements. At DEBUG
SQLAlchemy also logs every result row; a filter on its engine logger drops
those records (:class:`_NoRowValues`) for the same reason.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from evservice._files import private_dir, private_file
from evservice.errors import StoreError

__all__ = ["get_engine", "is_postgres", "is_sqlite", "transaction"]


class _NoRowValues(logging.Filter):
    """Drop SQLAlchemy's DEBUG records of result rows (``Row (...)``): they are the store's data."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


_ROW_FILTER = _NoRowValues()
logging.getLogger("sqlalchemy.engine.Engine").addFilter(_ROW_FILTER)

_lock = threading.Lock()
_engines: dict[tuple[int, str], Engine] = {}

SQLITE_BUSY_TIMEOUT_MS = 60_000


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide when a transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the configured store), created once per process.

    The cache is keyed by process id as well, so a forked worker never reuses
    its parent's connections.
    """
    if url is None:
        from evservice.config import get_settings

        settings = get_settings()
        private_dir(settings.data_dir)
        url = settings.db_url
    key = (os.getpid(), url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            try:
                if url.startswith("sqlite"):
                    _private_sqlite_file(url)
                    engine = sa.create_engine(
                        url,
                        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                        hide_parameters=True,
                    )
                    _prepare_sqlite(engine)
                else:
                    engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
            except (SQLAlchemyError, ImportError) as exc:
                raise StoreError(f"cannot open the store at {_safe_url(url)}: {exc}") from exc
            _engines[key] = engine
        return engine


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 (its folder 0700) before SQLite creates it 0644.

    SQLite makes the ``-wal`` and ``-shm`` files with the mode of the database
    file, so they are 0600 too. In-memory and URI databases are left alone.
    """
    try:
        database = sa.make_url(url).database
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store at {_safe_url(url)}: {exc}") from exc
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    private_dir(path.parent)
    private_file(path)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable URL>"


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.

    SQLAlchemy errors come out as :class:`StoreError` (cause chained); our own
    errors pass through unchanged.
    """
    engine = engine or get_engine()
    session = Session(engine, expire_on_commit=False)
    try:
        with session.begin():
            yield session
    except SQLAlchemyError as exc:
        raise StoreError(
            f"store operation failed: {type(exc).__name__}: {exc.args[0] if exc.args else ''}"
        ) from exc
    finally:
        session.close()
