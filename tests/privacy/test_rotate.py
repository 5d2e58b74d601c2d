"""Rotation, migration of a plaintext store and ``keys verify``, on both back ends.

The resumability is tested with a real SIGKILL of ``evservice keys rotate``
in a subprocess, between two of its batches.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from evservice import audit, contracts, delivery, invoices, privacy
from evservice._context import Context
from evservice.cli._keys import SEALED_TABLES
from evservice.config import Settings
from evservice.errors import StoreError

from .conftest import EMAIL, NAME, PHONE_E164, populate

ROOT = Path(__file__).resolve().parents[2]


def _keys(ctx: Context) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.text("select * from privacy_key order by scope, generation")))


def _everything_reads(ctx: Context, made: dict[str, Any]) -> None:
    for invoice_id in made["invoices"]:
        assert invoices.get(invoice_id, ctx=ctx).invoice.draft.buyer.person_name == NAME
    contract = contracts.get(made["contract"], ctx=ctx)
    assert contract.draft.customer.email == EMAIL
    assert contracts.signers(made["contract"], ctx=ctx)[0]["name"] == NAME
    keys = privacy.keyring(ctx)
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.text("select id, to_address, text from delivery_outbox")).all()
    for row in rows:
        to = keys.open(row.to_address, privacy.FieldPlace("delivery_outbox", "to_address", row.id))
        assert to in (EMAIL, PHONE_E164)
        text = keys.open(row.text, privacy.FieldPlace("delivery_outbox", "text", row.id))
        assert NAME in (text or "")


def test_everything_is_sealed_when_written(ctx: Context, populated: dict[str, Any]) -> None:
    report = privacy.verify(ctx, SEALED_TABLES)
    assert report.ok, report.summary()
    by_column = {(c.table, c.column): c for c in report.columns}
    assert by_column["invoice", "draft_json"].live == 6
    assert by_column["contract", "draft_json"].live == 1
    assert by_column["contract_signer", "name"].live == 2
    assert by_column["delivery_outbox", "to_address"].live == 20
    with ctx.engine.connect() as conn:
        dump = "\n".join(
            str(tuple(row))
            for table in ("invoice", "contract", "contract_signer", "delivery_outbox")
            for row in conn.execute(sa.text(f"select * from {table}"))
        )
    for secret in (NAME, EMAIL, PHONE_E164, "0912345678", "Hàng Bạc"):
        assert secret not in dump


def test_rotate_then_retire(ctx: Context, populated: dict[str, Any]) -> None:
    before = {k.id for k in _keys(ctx) if k.scope != privacy.INDEX_SCOPE}
    seen: list[tuple[str, int, int]] = []
    result = privacy.rotate(ctx, SEALED_TABLES, batch_size=4, progress=lambda *a: seen.append(a))
    assert not result.resumed
    assert result.resealed == 6 * 2 + 1 + 2 + 20 * 2  # no tax code (a person), no html
    assert {table for table, _, _ in seen} == {t.name for t in SEALED_TABLES}
    report = privacy.verify(ctx, SEALED_TABLES)
    assert report.ok, report.summary()
    _everything_reads(ctx, populated)
    keys = _keys(ctx)
    assert all(k.superseded_at is not None for k in keys if k.id in before)
    assert all(k.wrapped is not None for k in keys)  # old keys still open old values
    retired = privacy.retire(ctx, SEALED_TABLES)
    assert retired == len(before)
    assert all(k.wrapped is None for k in _keys(ctx) if k.id in before)
    _everything_reads(ctx, populated)
    index = [k for k in _keys(ctx) if k.scope == privacy.INDEX_SCOPE]
    assert len(index) == 1  # the blind index key is not rotated
    assert index[0].wrapped is not None


def test_rotation_logs_and_audit_hold_no_personal_data(
    ctx: Context, populated: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    privacy.rotate(ctx, SEALED_TABLES, retire_old=True, batch_size=3)
    privacy.forget(ctx, [PHONE_E164, EMAIL], SEALED_TABLES)
    audit.sequence_pending(ctx)
    with ctx.engine.connect() as conn:
        events = "\n".join(conn.execute(sa.text("select data from audit_event")).scalars())
    key_material = [bytes(k.wrapped).hex() for k in _keys(ctx) if k.wrapped is not None]
    kek = (ctx.settings.keys_dir / "privacy-kek.key").read_text().strip()
    logs = caplog.text
    for secret in (NAME, EMAIL, PHONE_E164, "0912345678", "912 345 678", kek, *key_material):
        assert secret not in logs
        assert secret not in events
    assert {"privacy.forgotten", "privacy.rotated"} <= {r.type for r in audit_records(ctx)}


def audit_records(ctx: Context) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.text("select type, data from audit_event")))


def test_migrate_seals_a_plaintext_store_in_place(
    tmp_path: Path, db_url: str, ctx: Context
) -> None:
    plain = Context(
        settings=Settings(
            data_dir=ctx.settings.data_dir,
            database_url=db_url,
            privacy_encrypt=False,
            _env_file=None,  # type: ignore[call-arg]
        ),
        clock=ctx.clock,
    )
    made = populate(plain)
    report = privacy.verify(plain, SEALED_TABLES)
    by_column = {(c.table, c.column): c for c in report.columns}
    assert by_column["invoice", "draft_json"].plaintext == 6
    assert by_column["delivery_outbox", "to_address"].plaintext == 20
    assert not report.ok
    with plain.engine.begin() as conn:  # a store from before the blind index
        conn.execute(sa.text("update delivery_outbox set to_index = null"))
        conn.execute(sa.text("update contract set customer_index = null"))
    result = privacy.migrate(ctx, SEALED_TABLES, batch_size=7)
    assert result.resealed == 6 * 2 + 1 + 2 + 20 * 2
    report = privacy.verify(ctx, SEALED_TABLES)
    assert report.ok, report.summary()
    assert report.plaintext == 0
    _everything_reads(ctx, made)
    assert privacy.migrate(ctx, SEALED_TABLES).resealed == 0  # idempotent
    keys = privacy.keyring(ctx)
    with ctx.engine.connect() as conn:
        indexed = conn.execute(
            sa.text("select count(*) from delivery_outbox where to_index = :i"),
            {"i": keys.index(EMAIL)},
        ).scalar_one()
    assert indexed == 10


def _spawn_rotation(ctx: Context) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "EVSERVICE_DATA_DIR": str(ctx.settings.data_dir),
        "EVSERVICE_DATABASE_URL": ctx.settings.db_url,
        "PYTHONPATH": str(ROOT / "src"),
    }
    return subprocess.Popen(
        [sys.executable, "-u", "-c", "from evservice.cli import main; main()", "keys", "rotate",
         "--batch-size", "2"],
        cwd=ctx.settings.data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )  # fmt: skip


def test_a_rotation_killed_mid_way_resumes(ctx: Context) -> None:
    made = populate(ctx, invoices_count=4, messages=120)
    process = _spawn_rotation(ctx)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(4)]  # four batches committed
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert all("values sealed again" in line for line in lines), lines
    with ctx.engine.connect() as conn:
        job = conn.execute(sa.text("select * from privacy_job where name = 'rotate'")).one()
    assert job.finished_at is None  # killed before the end
    assert job.rows_done > 0
    half = privacy.verify(ctx, SEALED_TABLES)
    assert half.superseded > 0  # what it had not reached yet
    _everything_reads(ctx, made)  # half rotated, everything still opens
    result = privacy.rotate(ctx, SEALED_TABLES, batch_size=50)
    assert result.resumed
    assert job.rows_done + result.resealed == 4 * 2 + 1 + 2 + 120 * 2  # nothing twice
    report = privacy.verify(ctx, SEALED_TABLES)
    assert report.ok, report.summary()
    _everything_reads(ctx, made)
    # One new generation per scope, not one per attempt.
    generations = {(k.scope, k.generation) for k in _keys(ctx)}
    assert max(g for _, g in generations) == 2


def test_outbox_still_dispatches_after_rotation(ctx: Context, populated: dict[str, Any]) -> None:
    privacy.rotate(ctx, SEALED_TABLES, retire_old=True)
    report = delivery.dispatch(ctx)
    assert report.sent == 20


def test_a_sealed_draft_copied_to_another_invoice_does_not_open(
    ctx: Context, populated: dict[str, Any]
) -> None:
    first, second = populated["invoices"][:2]
    with ctx.engine.begin() as conn:
        sealed = conn.execute(
            sa.text("select draft_json from invoice where id = :i"), {"i": first}
        ).scalar_one()
        conn.execute(
            sa.text("update invoice set draft_json = :d where id = :i"), {"d": sealed, "i": second}
        )
    assert invoices.get(first, ctx=ctx).invoice.draft.buyer.person_name == NAME
    with pytest.raises(StoreError, match="copied from another row or column") as caught:
        invoices.get(second, ctx=ctx)
    assert NAME not in str(caught.value)
