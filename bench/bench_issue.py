"""What issuing costs: numbered rows per second, alone and with many writers, and documents.

Figures, each with a baseline measured in the same run on the same machine:

* ``record_invoice`` per second, one writer (the issuing transaction: idempotency
  check, locked series counter, lookup code, invoice row), on SQLite and on
  PostgreSQL. Baseline: the same number of transactions that each insert one
  plain row of the same width into a scratch table: the ratio is the price of
  gapless numbering;
* ``record_invoice`` per second with N writer processes (forkserver) sharing one
  series. Baseline: the one-writer figure of the same store (the ratio is the
  scaling under the series lock; one series is the worst case, as a batch that
  spreads customers over several series locks several rows);
* ``issue`` per second, one process (numbering, XML, PDF, two atomic file
  writes with fsync). Baseline: ``record_invoice`` alone on SQLite.

Every run checks that the numbers it produced are exactly 1..n.

Run:  .venv/bin/python bench/bench_issue.py [--rows 1000] [--writers 8] [--documents 100]
          [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import issue, record_invoice
from evservice.invoices._tables import InvoiceRow
from evservice.store import get_engine, migrate, transaction

COMMAND = "  ".join(["Run:", ".venv/bin/python", *sys.argv])
NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
DAY = date(2026, 10, 31)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def draft(reference: str) -> dict[str, Any]:
    return {
        "series": "C26TAA",
        "issue_date": DAY.isoformat(),
        "reference": reference,
        "seller": {"name": "Điện lực Hải Dương", "tax_code": "0100100079", "address": "HD"},
        "buyer": {"person_name": "Nguyễn Văn A", "customer_code": reference},
        "lines": [
            {"name": f"Bậc {i}", "unit": "kWh", "quantity": q, "unit_price": p, "vat_rate": "8%"}
            for i, (q, p) in enumerate(
                [("50", "1984"), ("50", "2050"), ("100", "2380"), ("37", "2998")], start=1
            )
        ],
    }


def context(url: str, data_dir: Path) -> Context:
    settings = Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]
    return Context(settings=settings, clock=ManualClock(NOW))


@contextmanager
def store(kind: str, pg_url: str) -> Iterator[tuple[str, Path]]:
    """A fresh store: a SQLite file, or a scratch schema in PostgreSQL."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-issue-"))
    if kind == "sqlite":
        try:
            yield f"sqlite:///{tmp / 'store.db'}", tmp
        finally:
            shutil.rmtree(tmp)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False), tmp
    finally:
        get_engine(url.render_as_string(hide_password=False)).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
        shutil.rmtree(tmp)


def check_gapless(url: str, expected: int) -> None:
    with get_engine(url).connect() as conn:
        numbers = sorted(conn.execute(sa.select(InvoiceRow.number)).scalars())  # type: ignore[arg-type]
    if numbers != list(range(1, expected + 1)):
        raise SystemExit(f"numbers are not 1..{expected}: the benchmark found a bug")


def plain_rows_per_second(url: str, rows: int) -> float:
    """Baseline: one transaction per plain row of about the invoice row's width."""
    engine = get_engine(url)
    meta = sa.MetaData()
    scratch = sa.Table(
        "bench_scratch",
        meta,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(100)),
        sa.Column("body", sa.Text),
    )
    meta.create_all(engine)
    body = str(draft("x")) * 2
    start = time.perf_counter()
    for i in range(rows):
        with transaction(engine) as session:
            session.execute(
                scratch.insert().values(id=str(uuid.uuid4()), reference=f"r{i}", body=body)
            )
    return rows / (time.perf_counter() - start)


def record_per_second(url: str, data_dir: Path, rows: int) -> float:
    ctx = context(url, data_dir)
    ctx.engine.connect().close()
    start = time.perf_counter()
    for i in range(rows):
        record_invoice(draft(f"one-{i}"), ctx=ctx)
    return rows / (time.perf_counter() - start)


def _writer(url: str, data_dir: str, first: int, count: int, ready: Any, go: Any) -> None:
    ctx = context(url, Path(data_dir))
    ctx.engine.connect().close()
    ready.put(os.getpid())
    go.wait()
    for i in range(first, first + count):
        record_invoice(draft(f"many-{i}"), ctx=ctx)


def record_many_writers(url: str, data_dir: Path, rows: int, writers: int) -> float:
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(["evservice.invoices", "evservice.store._models", "psycopg"])
    ready, go = mp.Queue(), mp.Event()
    share = rows // writers
    procs = [
        mp.Process(target=_writer, args=(url, str(data_dir), w * share, share, ready, go))
        for w in range(writers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer failed")
    return share * writers / elapsed


def issue_per_second(url: str, data_dir: Path, count: int) -> float:
    ctx = context(url, data_dir)
    issue(draft("warm-up"), ctx=ctx)  # fonts and templates loaded once per process
    start = time.perf_counter()
    for i in range(count):
        issue(draft(f"doc-{i}"), ctx=ctx)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--pg-url", default=os.environ.get("EVSERVICE_TEST_PG_URL", PG_URL))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    kinds = ["sqlite"] if args.no_pg else ["sqlite", "postgres"]
    single: dict[str, float] = {}
    for kind in kinds:
        with store(kind, args.pg_url) as (url, tmp):
            migrate(get_engine(url))
            base = plain_rows_per_second(url, args.rows)
            rate = record_per_second(url, tmp, args.rows)
            check_gapless(url, args.rows)
            single[kind] = rate
            print(
                f"{kind:<8} record_invoice, 1 writer: {rate:8.0f}/s   baseline plain-row "
                f"transactions {base:8.0f}/s   ratio {rate / base:.2f}"
            )
        with store(kind, args.pg_url) as (url, tmp):
            migrate(get_engine(url))
            rate = record_many_writers(url, tmp, args.rows, args.writers)
            check_gapless(url, args.rows // args.writers * args.writers)
            print(
                f"{kind:<8} record_invoice, {args.writers} writers, one series: {rate:8.0f}/s   "
                f"baseline 1 writer {single[kind]:8.0f}/s   ratio {rate / single[kind]:.2f}"
            )
    with store("sqlite", args.pg_url) as (url, tmp):
        migrate(get_engine(url))
        rate = issue_per_second(url, tmp, args.documents)
        check_gapless(url, args.documents + 1)
        print(
            f"sqlite   issue with XML + PDF files, 1 process: {rate:8.1f}/s   baseline "
            f"record_invoice {single['sqlite']:8.0f}/s   ratio {rate / single['sqlite']:.3f}"
        )
    print(COMMAND)


if __name__ == "__main__":
    main()
