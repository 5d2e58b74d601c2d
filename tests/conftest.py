"""Fixtures shared by the whole suite: stores on SQLite and PostgreSQL, settings, clock.

PostgreSQL is not optional: the store and concurrency tests run on it in CI
and locally. If the server is down, the tests fail (they are never skipped);
``scripts/test.sh`` starts it first. ``EVSERVICE_TEST_PG_URL`` points elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.store import get_engine, migrate

PG_ADMIN_URL = os.environ.get(
    "EVSERVICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"evs_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        for engine_url, engine in list(_pg_engines.items()):
            engine.dispose()
            _pg_engines.pop(engine_url, None)
        from evservice.store import _engine

        for key, engine in list(_engine._engines.items()):
            if key[1].startswith(url):
                engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


_pg_engines: dict[str, Engine] = {}


def _pg_schema_url(base: str) -> Iterator[str]:
    """A fresh schema inside the session database, made the search_path of the URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = _pg_engines.setdefault(base, sa.create_engine(base, isolation_level="AUTOCOMMIT"))
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _pg_schema_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite store only (for tests that do not touch concurrency or SQL)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def engine(db_url: str) -> Engine:
    """A migrated store on each back end."""
    return migrate(get_engine(db_url))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for a fresh deployment in ``tmp_path`` (on each back end)."""
    return Settings(data_dir=tmp_path / "data", database_url=db_url, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def ctx(settings: Settings, clock: ManualClock) -> Context:
    """A context on each back end with a manual clock."""
    return Context(settings=settings, clock=clock)


@pytest.fixture
def sqlite_ctx(tmp_path: Path, sqlite_url: str, clock: ManualClock) -> Context:
    """A context on SQLite only, for tests whose subject is not the store."""
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, _env_file=None)  # type: ignore[call-arg]
    return Context(settings=settings, clock=clock)
