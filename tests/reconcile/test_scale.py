"""Many invoices against many transfers: every case lands in the bucket it was made for.

10^5 invoices and 10^5 transfers on SQLite (marked ``slow``; about 30-60 s on the
shared CI machine), 10^4 of each on both back ends. The mix: 1 % mistyped
references (customer id in the memo: proposed for review, never applied),
0.5 % duplicates (the same bank transaction again), 2 % partial payments, 1 %
overpayments, 0.5 % transfers naming nothing, the rest exact payments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.payments import reference
from evservice.reconcile import BankTransaction, Receivable, open_receivables, reconcile

SERIES = "C26TAA"


@dataclass(frozen=True)
class Case:
    tx: BankTransaction
    status: str
    reason: str
    invoice_id: str | None


def _typo(ref: str, rng: random.Random) -> str:
    i = rng.randrange(len(ref))
    pool = "0123456789" if ref[i].isdigit() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return ref[:i] + rng.choice([c for c in pool if c != ref[i]]) + ref[i + 1 :]


def _world(n: int, seed: int) -> tuple[list[Receivable], list[Case]]:
    rng = random.Random(seed)
    bills = []
    cases: list[Case] = []
    for i in range(1, n + 1):
        amount = rng.randrange(50, 3000) * 1000
        ref = reference.make("1", SERIES, i)
        invoice = f"inv-{i:08d}"
        bills.append(
            Receivable(
                invoice_id=invoice,
                reference=ref,
                label=f"1{SERIES}-{i:08d}",
                customer_id=f"PE{i:010d}",
                issue_date=date(2026, 11, 1),
                due_date=date(2026, 11, 11),
                amount_due=Decimal(amount),
                before_tax=Decimal(amount),
            )
        )
        kind = i % 200
        memo = f"MBVCB.{i}.HD {reference.format(ref)} thanh toan"
        paid, status, reason, target = amount, "applied", "reference", invoice
        if kind in (1, 2):  # 1 %
            memo = f"IBFT HD {_typo(ref, rng)} KH PE{i:010d}"
            status, reason = "needs_review", "mistyped reference; amount and customer match"
        elif 3 <= kind < 7:  # 2 %
            paid, reason = amount // 2, "reference, partly paid"
        elif kind in (7, 8):  # 1 %
            paid, reason = amount + 10_000, "reference, overpaid"
        elif kind == 9:  # 0.5 %
            memo, status, reason, target = "chuyen tien", "unmatched", "no reference", None
        tx = BankTransaction(
            f"FT{i:09d}", Decimal(paid), date(2026, 11, 5), memo, "0071", source="t"
        )
        cases.append(Case(tx, status, reason, target))
    for i in range(0, n, 200):  # 0.5 %: an earlier transfer again, somewhere later
        at = rng.randrange(i + 1, len(cases) + 1)
        cases.insert(at, Case(cases[i].tx, "duplicate", "seen before", None))
    return bills, cases


def _check(ctx: Context, n: int) -> None:
    bills, cases = _world(n, seed=n)
    assert open_receivables(bills, ctx=ctx) == n
    report = reconcile([c.tx for c in cases], ctx=ctx)
    wrong = [
        (case.tx.bank_ref, case.status, case.reason, outcome.status, outcome.reason)
        for case, outcome in zip(cases, report.outcomes, strict=True)
        if (outcome.status, outcome.reason, outcome.invoice_id)
        != (case.status, case.reason, case.invoice_id)
    ]
    assert wrong == []
    assert report.counts["duplicate"] == n // 200
    assert report.counts["needs_review"] == n // 100
    # What the store says agrees: paid in full, partly, not at all.
    with ctx.engine.connect() as conn:
        by_status = dict(
            conn.execute(
                sa.text("SELECT status, count(*) FROM reconcile_receivable GROUP BY status")
            ).all()
        )
        applications = conn.execute(sa.text("SELECT count(*) FROM reconcile_application")).scalar()
    assert by_status == {
        "paid": n - n // 200 * 7,  # all but the partial, mistyped and nameless ones
        "partly_paid": n // 200 * 4,
        "open": n // 200 * 3,
    }
    # One application per applied transfer, plus one credit per overpayment.
    assert applications == report.counts["applied"] + n // 200 * 2


def test_ten_thousand_on_each_back_end(ctx: Context) -> None:
    _check(ctx, 10_000)


@pytest.mark.slow
def test_a_hundred_thousand(sqlite_ctx: Context) -> None:
    _check(sqlite_ctx, 100_000)
