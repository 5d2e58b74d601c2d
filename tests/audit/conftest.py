"""Fixtures of the audit tests: a store per back end, a way to fill the log, raw SQL.

Migrating a fresh store for every test would dominate the run time, so each
back end gets one migrated store per test module, and ``ctx`` empties the
audit tables before every test instead (the log head goes back to size 0).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import (
    AuditRecord,
    NewEvent,
    log_public_key_string,
    record_many,
    sequence_pending,
    wait_sequenced,
)
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.store import get_engine, migrate, transaction

Append = Callable[..., list[AuditRecord]]

SUBJECTS = ("inv-a", "inv-b", "otp-c")
TYPES = ("invoice.issued", "invoice.signed", "otp.sent")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def audit_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A migrated store shared by the tests of one module, on each back end."""
    base: Path = tmp_path_factory.mktemp("audit")
    schema: str | None = None
    admin: sa.Engine | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{base / 'store.db'}"
    else:
        pg_url: str = request.getfixturevalue("pg_database")
        schema = f"a_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = (
            sa.make_url(pg_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    migrate(get_engine(url))
    yield Settings(data_dir=base / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    if admin is not None:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def ctx(audit_settings: Settings, clock: ManualClock) -> Context:
    """A context on the module's store with an empty audit log (overrides the suite's ``ctx``)."""
    context = Context(settings=audit_settings, clock=clock)
    with context.engine.begin() as conn:
        for table in ("audit_queue", "audit_event", "audit_node", "audit_checkpoint"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("DELETE FROM audit_log_head")  # a test may have deleted it
        conn.execute(
            sa.text("INSERT INTO audit_log_head (id, size, frontier) VALUES (1, 0, :f)"),
            {"f": b""},
        )
    return context


@pytest.fixture
def append(ctx: Context) -> Append:
    """``append(n)`` records ``n`` events, one transaction each, the clock moving 1 s apart."""

    def _append(n: int, *, subject: str | None = None, per_tx: int = 1) -> list[AuditRecord]:
        out: list[AuditRecord] = []
        for start in range(0, n, per_tx):
            batch = []
            for i in range(start, min(n, start + per_tx)):
                ctx.clock.advance(1)  # type: ignore[attr-defined]
                batch.append(
                    NewEvent(
                        type=TYPES[i % 3],
                        subject=subject or SUBJECTS[i % 3],
                        actor="system",
                        at=ctx.clock.now(),
                        data={"n": i, "document_sha256": f"{i:064x}"},
                    )
                )
            with transaction(ctx.engine) as session:
                out.extend(record_many(session, batch))
        # The tests below look at the log: let a sequencer integrate what was queued.
        sequence_pending(ctx)
        return [wait_sequenced(r.id, ctx) for r in out]

    return _append


@pytest.fixture
def vkey(ctx: Context) -> str:
    return log_public_key_string(ctx.settings)


@pytest.fixture
def raw_sql(ctx: Context) -> Callable[[str], None]:
    """Run SQL directly against the store, as an attacker with database access would."""

    def _run(statement: str, **params: object) -> None:
        with ctx.engine.begin() as conn:
            conn.execute(sa.text(statement), params)

    return _run
