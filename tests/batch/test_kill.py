"""Kill the batch for real (SIGKILL to its process group, workers included) and run it again.

The rerun must finish the job: numbers 1..N with no gap, one invoice per valid
row and no duplicate reference, every invoice with its documents on disk (as
hashed in its row), documents that verify, and an audit log that re-hashes.
"""

from __future__ import annotations

import contextlib
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


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (fork server, workers, resource tracker), from /proc."""
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, set()).add(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), set()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_workers_stop_when_only_the_main_process_is_killed(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """SIGKILL to the batch's main process alone: its workers exit within seconds (they
    do not run their chunks to the end), and the rerun completes with no gap."""
    today = vn_date(datetime.now(UTC))
    period = last_finished_period(today)
    source = write_demo_csv(tmp_path / "input.csv", customers=CUSTOMERS, period=period)
    env = _environment(tmp_path, db_url)
    command = [
        str(EVSERVICE), "invoices", "batch", str(source), "--period", str(period),
        "--workers", "2", "--chunk-size", "20", "--json",
    ]  # fmt: skip
    poller = sa.create_engine(db_url)
    log = (tmp_path / "killed.log").open("wb")
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while _count(poller) < KILL_AT:
            assert process.poll() is None, (tmp_path / "killed.log").read_text(errors="replace")
            assert time.monotonic() < deadline, f"fewer than {KILL_AT} invoices in time"
            time.sleep(0.05)
        below = _descendants(process.pid)
        assert len(below) >= 3  # the fork server and two workers at least
        os.kill(process.pid, signal.SIGKILL)  # the main process only
        process.wait(timeout=60)
        stop_by = time.monotonic() + 5
        while any(_running(p) for p in below) and time.monotonic() < stop_by:
            time.sleep(0.1)
        assert not [p for p in below if _running(p)], "workers outlived the batch by 5 s"
        killed_at = _count(poller)
        assert killed_at < CUSTOMERS, "the batch finished before the kill"
        time.sleep(1)
        assert _count(poller) == killed_at  # nobody numbers anything after the kill
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()
        log.close()
    try:
        rerun = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert rerun.returncode == 0, rerun.stderr
        counts = json.loads(rerun.stdout)["counts"]
        assert counts["already_issued"] == killed_at
        assert counts["issued"] == CUSTOMERS - killed_at
        assert counts["issued"] + counts["already_issued"] == counts["rows"] == CUSTOMERS
        with poller.connect() as conn:
            rows = conn.execute(
                sa.select(InvoiceRow.number, InvoiceRow.reference, InvoiceRow.pdf_path)
            ).all()
    finally:
        poller.dispose()
    assert sorted(r.number for r in rows) == list(range(1, CUSTOMERS + 1))
    assert len({r.reference for r in rows}) == CUSTOMERS
    assert all(r.pdf_path is not None for r in rows)


_ORPHAN = """
import os, sys, time
from evservice.batch._worker import _watch_parent
main = os.getpid()
child = os.fork()
if child == 0:
    grandchild = os.fork()  # like a pool worker: its parent is not the main process
    if grandchild == 0:
        _watch_parent(main)
        print(os.getpid(), flush=True)
        time.sleep(120)
        os._exit(0)
    time.sleep(120)
    os._exit(0)
time.sleep(120)
"""


def test_a_worker_whose_parent_is_not_the_main_process_stops_with_it() -> None:
    """The watchdog follows the main process, not the kernel's parent (the fork server)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        worker = int(process.stdout.readline())
        assert _running(worker)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        stop_by = time.monotonic() + 3
        while _running(worker) and time.monotonic() < stop_by:
            time.sleep(0.05)
        assert not _running(worker), "the worker outlived the main process by 3 s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()
