"""What sealing personal data costs the monthly batch, and how fast keys rotate.

1. ``run_batch`` (the batch bench's code path: demo input from
   ``write_demo_csv``, worker processes, signed XML and PDF, audit) over
   ``--invoices`` rows with ``privacy_encrypt`` on and off, alternating
   ``--rounds`` times in one run, each in a fresh SQLite store (or PostgreSQL
   with ``--postgres``). With ``--deliver`` each invoice's e-mail and SMS are
   queued too (sealed under one key per recipient) and sent to the file outbox.
   Figure: invoices/s with encryption on against off (target: at most 10 %
   slower), best round of each.
2. ``privacy.rotate`` over the store of the last encrypted run: rows read and
   values sealed again per second, against a baseline pass in the same run that
   reads the same rows in the same batches and writes the same values back
   unchanged (the store's share of the work).
3. ``privacy.migrate`` over the store of the last plaintext run: values sealed
   per second.

Run:  .venv/bin/python bench/bench_privacy.py [--invoices 600] [--workers 1] [--rounds 2]
      [--deliver] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from evservice import contracts, delivery, invoices, privacy
from evservice._context import Context
from evservice.batch import BatchOptions, BatchPeriod, run_batch, write_demo_csv
from evservice.clock import ManualClock
from evservice.config import Settings

COMMAND = ".venv/bin/python bench/bench_privacy.py"
PERIOD = BatchPeriod(2026, 10)
ISSUE_DATE = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
TABLES: tuple[privacy.SealedTable, ...] = (
    *invoices.SEALED_TABLES,
    *contracts.SEALED_TABLES,
    *delivery.SEALED_TABLES,
)


def _settings(data_dir: Path, url: str | None, *, encrypt: bool) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url or f"sqlite:///{data_dir / 'store.db'}",
        privacy_encrypt=encrypt,
        seller_name="Tổng công ty Điện lực TP Hà Nội - Công ty Điện lực Hoàn Kiếm",
        seller_tax_code="0100101114",
        seller_address="Số 69 Đinh Tiên Hoàng, phường Hoàn Kiếm, Hà Nội",
        payee_bank_bin="970436",
        payee_account="0011001234567",
        payee_name="TONG CONG TY DIEN LUC TP HA NOI",
        _env_file=None,  # type: ignore[call-arg]
    )


@contextlib.contextmanager
def _database(postgres: str | None, label: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database for one run (dropped after), or None for SQLite."""
    if postgres is None:
        yield None
        return
    name = f"bench_privacy_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        from evservice.store import _engine

        for key, engine in list(_engine._engines.items()):
            if name in key[1]:
                engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _batch(csv: Path, ctx: Context, workers: int, deliver: bool) -> float:
    options = BatchOptions(workers=workers, issue_date=ISSUE_DATE, series="C26TAA", deliver=deliver)
    summary = run_batch(csv, PERIOD, ctx=ctx, options=options)
    return summary.issued / summary.elapsed_seconds


def _rows(ctx: Context, tables: Sequence[privacy.SealedTable]) -> int:
    with ctx.engine.connect() as conn:
        return sum(
            conn.execute(sa.select(sa.func.count()).select_from(t.table)).scalar_one()
            for t in tables
        )


def _baseline_pass(ctx: Context, tables: Sequence[privacy.SealedTable], batch: int) -> float:
    """Read every sealed row in batches and write its values back unchanged: seconds."""
    started = time.perf_counter()
    for spec in tables:
        order = spec.order()
        columns = [order, *(spec.table.c[c] for c in spec.columns)]
        last = None
        while True:
            with ctx.engine.begin() as conn:
                query = sa.select(*columns).order_by(order).limit(batch)
                if last is not None:
                    query = query.where(order > last)
                rows = conn.execute(query).all()
                if not rows:
                    break
                for row in rows:
                    values = {c: getattr(row, c) for c in spec.columns}
                    conn.execute(
                        sa.update(spec.table)
                        .where(order == getattr(row, order.name))
                        .values(values)
                    )
                last = getattr(rows[-1], order.name)
    return time.perf_counter() - started


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=600)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500, help="rows per rotation batch")
    parser.add_argument("--deliver", action="store_true")
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-privacy-"))
    csv = base / "input.csv"
    write_demo_csv(csv, customers=args.invoices, period=PERIOD, seed=13)
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"load average at start: {_load()}; {store}; data in {base}")
    # A first run pays for what a process does once (imports, fonts, page cache): not counted.
    warm = base / "warm-up"
    warm.mkdir()
    write_demo_csv(warm / "input.csv", customers=50, period=PERIOD, seed=14)
    with _database(args.postgres, "warm") as url:
        warm_ctx = Context(settings=_settings(warm, url, encrypt=True), clock=ManualClock(NOW))
        _batch(warm / "input.csv", warm_ctx, args.workers, args.deliver)
    rates: dict[bool, list[float]] = {True: [], False: []}
    rotation: list[str] = []
    for round_ in range(args.rounds):
        for encrypt in (True, False) if round_ % 2 == 0 else (False, True):
            label = f"{'on' if encrypt else 'off'}{round_}"
            data_dir = base / label
            data_dir.mkdir()
            with _database(args.postgres, label) as url:
                ctx = Context(
                    settings=_settings(data_dir, url, encrypt=encrypt), clock=ManualClock(NOW)
                )
                rate = _batch(csv, ctx, args.workers, args.deliver)
                rates[encrypt].append(rate)
                state = "on " if encrypt else "off"
                print(f"  round {round_ + 1}, encryption {state}: {rate:.1f} invoices/s")
                if round_ == args.rounds - 1:
                    rotation.append(_rotation_figures(ctx, encrypt, args.batch_size))
    on, off = max(rates[True]), max(rates[False])
    print()
    print(
        f"run_batch, {args.invoices} invoices, {args.workers} worker(s), "
        f"deliver={'yes' if args.deliver else 'no'}: encryption on {on:.1f} invoices/s, "
        f"off {off:.1f} invoices/s (best of {args.rounds}): on/off = {on / off:.3f} "
        f"({(1 - on / off) * 100:+.1f} % slower)"
    )
    for line in rotation:
        print(line)
    print(f"load average at end: {_load()}")
    print(
        f"reproduce: {COMMAND} --invoices {args.invoices} --workers {args.workers} "
        f"--rounds {args.rounds}{' --deliver' if args.deliver else ''}"
        f"{' --postgres ' + args.postgres if args.postgres else ''}"
    )


def _rotation_figures(ctx: Context, encrypted: bool, batch: int) -> str:
    rows = _rows(ctx, TABLES)
    if not encrypted:
        started = time.perf_counter()
        result = privacy.migrate(ctx, TABLES, batch_size=batch)
        seconds = time.perf_counter() - started
        return (
            f"keys migrate (plaintext store): {rows} rows, {result.resealed} values sealed in "
            f"{seconds:.2f} s: {rows / seconds:.0f} rows/s, "
            f"{result.resealed / seconds:.0f} values/s"
        )
    baseline = _baseline_pass(ctx, TABLES, batch)
    started = time.perf_counter()
    result = privacy.rotate(ctx, TABLES, retire_old=False, batch_size=batch)
    seconds = time.perf_counter() - started
    return (
        f"keys rotate: {rows} rows, {result.resealed} values sealed again in {seconds:.2f} s: "
        f"{rows / seconds:.0f} rows/s, {result.resealed / seconds:.0f} values/s; "
        f"baseline pass (same reads and writes, no crypto) {rows / baseline:.0f} rows/s: "
        f"rotate/baseline = {(rows / seconds) / (rows / baseline):.2f}"
    )


if __name__ == "__main__":
    main()
