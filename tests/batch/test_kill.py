"""Kill the batch for real (SIGKILL to its process group, workers included) and run it again.

The rerun must finish the job: numbers 1..N with no gap, one invoice per valid
row and no duplicate reference, every invoice with its documents on disk (as
hashed in its row), documents that verify, and an audit log that re-hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import evservice
from evservice import audit
from evservice._context import Context
from evservice.batch import (
    Rejection,
    batch_reference,
    last_finished_period,
    read_batch_csv,
    write_demo_csv,
)
from evservice.batch._tables import BatchHistory
from evservice.clock import vn_date
from evservice.config import Settings
from evservice.invoices._tables import InvoiceRow

from .test_run import SELLER_SETTINGS

EVSERVICE = Path(sys.executable).with_name("evservice")
CUSTOMERS = 120
BAD_ROWS = 3
KILL_AT = 20  # invoices numbered before the kill
DEADLINE_SECONDS = 240


def _environment(tmp_path: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSERVICE_")}
    env |= {f"EVSERVICE_{k.upper()}": v for k, v in SELLER_SETTINGS.items()}
    env |= {"EVSERVICE_DATA_DIR": str(tmp_path / "data"), "EVSERVICE_DATABASE_URL": db_url}
    return env


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(InvoiceRow)).scalar_one())


def _kill_mid_run(command: list[str], env: dict[str, str], cwd: Path, engine: sa.Engine) -> int:
    """Start the batch, SIGKILL its whole process group once KILL_AT invoices exist."""
    log = (cwd / "killed.log").open("wb")
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while _count(engine) < KILL_AT:
            if process.poll() is not None:
                log.close()
                output = (cwd / "killed.log").read_text(errors="replace")
                pytest.fail(f"the batch ended before it could be killed:\n{output}")
            if time.monotonic() > deadline:
                pytest.fail(f"fewer than {KILL_AT} invoices after {DEADLINE_SECONDS} s")
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        log.close()
    return _count(engine)


def test_a_killed_batch_finishes_on_rerun(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    """``engine`` (the fixture) migrates the store; the batch's processes use it by URL."""
    today = vn_date(datetime.now(UTC))
    period = last_finished_period(today)
    source = write_demo_csv(
        tmp_path / "input.csv", customers=CUSTOMERS, period=period, bad_rows=BAD_ROWS
    )
    env = _environment(tmp_path, db_url)
    command = [
        str(EVSERVICE), "invoices", "batch", str(source), "--period", str(period),
        "--workers", "2", "--chunk-size", "5", "--json",
    ]  # fmt: skip
    # A plain engine: polling must never take SQLite's write lock from the batch.
    poller = sa.create_engine(db_url)
    try:
        killed_at = _kill_mid_run(command, env, tmp_path, poller)
        assert KILL_AT <= killed_at < CUSTOMERS, "the kill did not land mid-run"

        rerun = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert rerun.returncode == 1, rerun.stderr  # the bad rows are rejected
        summary = json.loads(rerun.stdout)
        counts = summary["counts"]
        assert counts["rejected"] == BAD_ROWS
        assert counts["already_issued"] == killed_at
        assert counts["issued"] == CUSTOMERS - killed_at
        assert summary["numbers"] == {"first": killed_at + 1, "last": CUSTOMERS}

        with poller.connect() as conn:
            rows = conn.execute(
                sa.select(InvoiceRow).order_by(InvoiceRow.number)  # type: ignore[arg-type]
            ).all()
            history = conn.execute(
                sa.select(sa.func.count()).select_from(BatchHistory)
            ).scalar_one()
    finally:
        poller.dispose()

    assert [row.number for row in rows] == list(range(1, CUSTOMERS + 1))
    valid = [r for r in read_batch_csv(source, period) if not isinstance(r, Rejection)]
    expected = {batch_reference(period, r.customer_id, r.item_key) for r in valid}
    references = [row.reference for row in rows]
    assert len(set(references)) == len(references) == len(expected)
    assert set(references) == expected
    assert history == CUSTOMERS

    data_dir = tmp_path / "data"
    for row in rows:
        assert row.xml_path is not None, f"invoice {row.number} has no XML"
        assert row.pdf_path is not None, f"invoice {row.number} has no PDF"
        xml = (data_dir / row.xml_path).read_bytes()
        pdf = (data_dir / row.pdf_path).read_bytes()
        assert hashlib.sha256(xml).hexdigest() == row.xml_sha256
        assert hashlib.sha256(pdf).hexdigest() == row.pdf_sha256
    # Nothing else under the invoice folders: a kill leaves temporaries only in staging.
    documents = {
        str(p.relative_to(data_dir))
        for p in (data_dir / "invoices").rglob("*")
        if p.is_file() and ".staging" not in p.parts
    }
    assert documents == {r.xml_path for r in rows} | {r.pdf_path for r in rows}

    settings = Settings(data_dir=data_dir, database_url=db_url, _env_file=None)  # type: ignore[call-arg]
    ctx = Context(settings=settings)
    for row in (rows[0], rows[killed_at - 1], rows[killed_at], rows[-1]):
        for path in (row.pdf_path, row.xml_path):
            report = evservice.verify(data_dir / path, ctx=ctx)
            assert report.ok, report.summary()
    assert audit.verify_log(ctx).ok
