"""Reconciliation: bank transfers matched and applied per second, against a naive baseline.

A fresh store (SQLite file, or PostgreSQL with ``--postgres``) gets ``--open``
open receivables (default 10^6, as :func:`evservice.reconcile.open_receivables`
stores them); then ``--transactions`` transfers, each paying a different one of
them: 98.5 % with the right payment reference in the memo, 1 % with one
character of it mistyped (and the customer id in the memo, so they are proposed
for review), 0.5 % a second copy of an earlier transfer (a duplicate). Timed:

1. ours -- :func:`evservice.reconcile.reconcile` (chunks of 2,000 per store
   transaction: a few ``IN`` queries, executemany writes, the audit events in
   the same transaction);
2. the baseline -- the obvious loop over the same kind of transfers (for other
   receivables, ``--baseline`` of them): per transfer one query for the
   transaction key, one for the reference, one UPDATE, two INSERTs and one
   :func:`evservice.audit.record`, committed every 2,000 transfers like ours so
   that only the query pattern differs.

Every outcome is checked against what the generator intended (the bench stops
if one landed in the wrong bucket). One process, one thread: on SQLite all the
work is on one core; on PostgreSQL the server runs beside it. Rates are given
per second of wall clock and per second of this process's CPU time: on a shared
machine the second is the one-core figure.

Run:  .venv/bin/python bench/bench_reconcile.py [--open 1000000] [--transactions 100000]
      [--baseline 5000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from evservice import audit
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.payments import reference
from evservice.reconcile import (
    BankTransaction,
    Receivable,
    ReconcileReport,
    open_receivables,
    reconcile,
)
from evservice.store import transaction

SERIES = "C26TAA"
ISSUE = date(2026, 11, 1)
DUE = date(2026, 11, 11)


def receivables(count: int, seed: int = 1) -> Iterator[Receivable]:
    rng = random.Random(seed)
    for n in range(1, count + 1):
        amount = rng.randrange(50, 5000) * 1000
        yield Receivable(
            invoice_id=f"inv-{n:08d}",
            reference=reference.make("1", SERIES, n),
            label=f"1{SERIES}-{n:08d}",
            customer_id=f"PE{n:010d}",
            issue_date=ISSUE,
            due_date=DUE,
            amount_due=Decimal(amount),
            before_tax=Decimal(round(amount / 1.08)),
        )


@dataclass(frozen=True)
class Case:
    tx: BankTransaction
    status: str
    invoice_id: str | None


def _typo(ref: str, rng: random.Random) -> str:
    i = rng.randrange(len(ref))
    other = rng.choice([c for c in "0123456789" if c != ref[i]] if ref[i].isdigit() else "XYZ")
    return ref[:i] + other + ref[i + 1 :]


def transfers(numbers: list[int], amounts: dict[int, int], *, seed: int, tag: str) -> list[Case]:
    """Transfers for ``numbers``: 1 % mistyped, then 0.5 % duplicates appended among them."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for i, n in enumerate(numbers):
        ref = reference.make("1", SERIES, n)
        invoice = f"inv-{n:08d}"
        if i % 100 == 50:  # 1 %: one character wrong, customer id in the memo
            typo = _typo(ref, rng)
            memo = f"MBVCB.{i}.HD {typo} KH PE{n:010d}"
            status = "needs_review"
        else:
            memo = f"MBVCB.{i}.HD {ref} chuyen tien"
            status = "applied"
        tx = BankTransaction(
            bank_ref=f"{tag}{i:09d}",
            amount=Decimal(amounts[n]),
            booked_on=date(2026, 11, 5),
            memo=memo,
            account="0071001234567",
            source="bench",
        )
        cases.append(Case(tx, status, invoice))
    for i in range(0, len(numbers), 200):  # 0.5 %: the same bank transaction again
        at = rng.randrange(i + 1, len(cases) + 1)
        cases.insert(at, Case(cases[i].tx, "duplicate", None))
    return cases


def naive(ctx: Context, cases: list[Case], *, write: bool = True) -> None:
    """One query per read and per write per transfer (committed every 2,000).

    Without ``write`` only the two reads per transfer (the preview's work).
    """
    t = sa.table
    c = sa.column
    txs = t("reconcile_transaction", c("key"))
    rec = t(
        "reconcile_receivable",
        c("invoice_id"),
        c("reference"),
        c("amount_due"),
        c("paid"),
        c("status"),
        c("label"),
    )
    now = ctx.clock.now()
    for start in range(0, len(cases), 2000):
        with transaction(ctx.engine) as session:
            for case in cases[start : start + 2000]:
                tx = case.tx
                if session.execute(sa.select(txs.c.key).where(txs.c.key == tx.key)).first():
                    continue
                found = next((f for f in reference.find(tx.memo) if f.valid), None)
                row = (
                    session.execute(sa.select(rec).where(rec.c.reference == found.text)).first()
                    if found
                    else None
                )
                status = "applied" if row is not None else "needs_review"
                if not write:
                    continue
                session.execute(
                    sa.text(
                        "INSERT INTO reconcile_transaction (key, source, bank_ref, booked_on, "
                        "amount, memo, reference, status, reason, invoice_id, received_at) VALUES "
                        "(:k, 'bench', :b, :d, :a, :m, :r, :s, '', :i, :t)"
                    ),
                    {
                        "k": tx.key,
                        "b": tx.bank_ref,
                        "d": tx.booked_on,
                        "a": int(tx.amount),
                        "m": tx.memo,
                        "r": found.text if found else None,
                        "s": status,
                        "i": row.invoice_id if row else None,
                        "t": now,
                    },
                )
                if row is None:
                    continue
                paid = row.paid + int(tx.amount)
                session.execute(
                    sa.update(rec)
                    .where(rec.c.invoice_id == row.invoice_id)
                    .values(paid=paid, status="paid" if paid >= row.amount_due else "partly_paid")
                )
                session.execute(
                    sa.text(
                        "INSERT INTO reconcile_application (transaction_key, invoice_id, kind, "
                        "amount, applied_at) VALUES (:k, :i, 'payment', :a, :t)"
                    ),
                    {"k": tx.key, "i": row.invoice_id, "a": int(tx.amount), "t": now},
                )
                audit.record(
                    session,
                    type="payment.applied",
                    subject=row.invoice_id,
                    actor="system",
                    at=now,
                    data={"transaction": tx.key, "amount": int(tx.amount), "label": row.label},
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=5_000)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.transactions + args.baseline > args.open:
        sys.exit("--transactions + --baseline must not exceed --open")
    folder = Path(tempfile.mkdtemp(prefix="bench-reconcile-", dir=args.data_dir))
    url = f"sqlite:///{folder / 'store.db'}"
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = (
            sa.make_url(args.postgres)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    settings = Settings(data_dir=folder, database_url=url, _env_file=None)  # type: ignore[call-arg]
    ctx = Context(settings=settings, clock=ManualClock(datetime(2026, 11, 6, 2, 0, tzinfo=UTC)))
    print(f"load average at start: {os.getloadavg()}")
    print(f"store: {'PostgreSQL' if args.postgres else 'SQLite'} in {folder}")

    started = time.perf_counter()
    amounts: dict[int, int] = {}

    def remembered() -> Iterator[Receivable]:
        for r in receivables(args.open):
            amounts[int(r.invoice_id[4:])] = int(r.amount_due)
            yield r

    open_receivables(remembered(), ctx=ctx)
    print(f"{args.open:,} open receivables stored in {time.perf_counter() - started:.1f} s")

    rng = random.Random(7)
    chosen = rng.sample(range(1, args.open + 1), args.transactions + args.baseline)
    ours_numbers, base_numbers = chosen[: args.transactions], chosen[args.transactions :]
    ours = transfers(ours_numbers, amounts, seed=11, tag="O")
    base = transfers(base_numbers, amounts, seed=13, tag="B")

    txs = [c.tx for c in ours]
    rows: list[tuple[str, int, float, float]] = []

    def timed(label: str, count: int, run: Callable[[], object]) -> object:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        rows.append((label, count, time.perf_counter() - wall, time.process_time() - cpu))
        return result

    preview = timed(
        "ours, match only (dry_run)", len(ours), lambda: reconcile(txs, ctx=ctx, dry_run=True)
    )
    timed("baseline, match only", len(base), lambda: naive(ctx, base, write=False))
    report = timed("ours, match + apply + audit", len(ours), lambda: reconcile(txs, ctx=ctx))
    timed("baseline, match + apply + audit", len(base), lambda: naive(ctx, base))
    for result in (preview, report):
        assert isinstance(result, ReconcileReport)
        wrong = sum(
            1
            for case, outcome in zip(ours, result.outcomes, strict=True)
            if outcome.status != case.status
            or (case.invoice_id is not None and outcome.invoice_id != case.invoice_id)
        )
        if wrong:
            sys.exit(f"{wrong} transfers landed in the wrong bucket")
    print(f"buckets (ours): {dict(report.counts)}, every case as intended")
    print(f"{'':34} {'transfers':>10} {'wall s':>8} {'/s wall':>10} {'cpu s':>8} {'/s cpu':>10}")
    for label, count, wall_s, cpu_s in rows:
        print(
            f"{label:34} {count:>10,} {wall_s:8.2f} {count / wall_s:10,.0f} "
            f"{cpu_s:8.2f} {count / cpu_s:10,.0f}"
        )
    for i, what in ((0, "match only"), (2, "match + apply + audit")):
        wall = (rows[i][1] / rows[i][2]) / (rows[i + 1][1] / rows[i + 1][2])
        cpu = (rows[i][1] / rows[i][3]) / (rows[i + 1][1] / rows[i + 1][3])
        print(f"ratio ours / baseline, {what}: {wall:.1f}x wall, {cpu:.1f}x cpu")
    print(f"load average at end: {os.getloadavg()}")
    print(
        "reproduce: .venv/bin/python bench/bench_reconcile.py "
        f"--open {args.open} --transactions {args.transactions} --baseline {args.baseline}"
        + (f" --postgres {args.postgres}" if args.postgres else "")
    )
    if args.postgres:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
