"""Fixtures shared by the whole suite: stores on SQLite and PostgreSQL, settings, clock.

PostgreSQL is not optional: the store and concurrency tests run on it in CI
and locally. If the server is down, the tests fail (they are never skipped);
``scripts/test.sh`` starts it first. ``EVSERVICE_TEST_PG_URL`` points elsewhere.
"""

from __future__ import annotations

import os
import shutil
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


def _forget_engines(url: str) -> None:
    """Close the pooled connections of ``url`` once its test is over.

    Every test gets its own store URL, so engines left open would pile up idle
    connections until PostgreSQL refuses new ones.
    """
    from evservice.store import _engine

    with _engine._lock:
        for key in [k for k in _engine._engines if k[1] == url]:
            _engine._engines.pop(key).dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite store, made once and copied for each test (migrating costs ~0.5 s)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    url = f"sqlite:///{path}"
    migrate(get_engine(url))
    _forget_engines(url)
    return path


def _sqlite_copy(template: Path, tmp_path: Path) -> Iterator[str]:
    target = tmp_path / "store.db"
    shutil.copyfile(template, target)
    url = f"sqlite:///{target}"
    yield url
    _forget_engines(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store with the current schema, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield from _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        for url in _pg_schema_url(request.getfixturevalue("pg_database")):
            yield url
            _forget_engines(url)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A SQLite store only (for tests that do not touch concurrency or SQL)."""
    yield from _sqlite_copy(sqlite_template, tmp_path)


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
