"""Receivables and transfers made directly (no invoice rendering), for the matching tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from evservice.payments import reference
from evservice.reconcile import BankTransaction, Receivable

SERIES = "C26TAA"


def receivable(
    number: int,
    amount: int = 250_000,
    *,
    customer: str | None = None,
    plan: str | None = None,
    issue: date = date(2026, 11, 1),
    due_days: int = 10,
    replaces: str | None = None,
) -> Receivable:
    return Receivable(
        invoice_id=f"inv-{number:08d}",
        reference=reference.make("1", SERIES, number),
        label=f"1{SERIES}-{number:08d}",
        customer_id=customer or f"PE{number:010d}",
        issue_date=issue,
        due_date=issue + timedelta(days=due_days),
        amount_due=Decimal(amount),
        before_tax=(Decimal(amount) / Decimal("1.08")).quantize(Decimal(1)),
        plan_code=plan,
        replaces=replaces,
    )


def transfer(
    bank_ref: str,
    amount: int,
    memo: str,
    *,
    booked: date = date(2026, 11, 5),
    hint: str | None = None,
) -> BankTransaction:
    return BankTransaction(
        bank_ref=bank_ref,
        amount=Decimal(amount),
        booked_on=booked,
        memo=memo,
        account="0071001234567",
        customer_hint=hint,
        source="test",
    )


def memo_for(number: int) -> str:
    return f"MBVCB.123.HD {reference.make('1', SERIES, number)} chuyen khoan"
