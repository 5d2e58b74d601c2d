"""Receivables from issued invoices, reminders through the outbox, and replacements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import sequence_pending
from evservice.delivery import list_outbox
from evservice.errors import ValidationError
from evservice.invoices import IssuedInvoice, record_invoice
from evservice.payments import reference
from evservice.reconcile import (
    BankTransaction,
    ReminderPolicy,
    reconcile,
    reminder_messages,
    send_reminders,
    track_invoices,
)

SELLER = {"name": "Công ty Điện lực Hải Dương", "tax_code": "0100100079", "address": "Hải Dương"}
POLICY = ReminderPolicy(days_before=(3,), days_after=(1, 7))


def bill(ctx: Context, n: int, *, email: bool = True, phone: bool = True) -> IssuedInvoice:
    buyer: dict[str, Any] = {"person_name": f"Khách {n}", "customer_code": f"PA{n:08d}"}
    if email:
        buyer["email"] = f"khach{n}@example.vn"
    if phone:
        buyer["phone"] = f"09120000{n:02d}"
    return record_invoice(
        {
            "series": "C26TAA",
            "issue_date": "2026-11-01",
            "reference": f"bill-{n}",
            "seller": SELLER,
            "buyer": buyer,
            "lines": [
                {
                    "name": "Điện",
                    "unit": "kWh",
                    "quantity": "100",
                    "unit_price": "2000",
                    "vat_rate": "8%",
                }
            ],
        },
        ctx=ctx,
    )


def pay(ctx: Context, issued: IssuedInvoice, amount: int, bank_ref: str) -> None:
    ref = reference.make("1", "C26TAA", issued.number)
    tx = BankTransaction(bank_ref, Decimal(amount), date(2026, 11, 5), f"HD {ref}")
    assert reconcile([tx], ctx=ctx).counts["applied"] == 1


def reminders(ctx: Context) -> list[tuple[str, str, str]]:
    return sorted(
        (e.tags["invoice"], e.tags["stage"], e.kind)
        for e in list_outbox(ctx, limit=1000)
        if e.tags.get("template") == "reminder"
    )


def test_stages_by_day_once_each_and_never_to_payers(ctx: Context) -> None:
    bills = [bill(ctx, n) for n in (1, 2, 3)]
    assert track_invoices(bills, due_days=10, ctx=ctx) == 3
    assert track_invoices(bills, due_days=10, ctx=ctx) == 0  # already open
    pay(ctx, bills[0], 216_000, "FT1")  # paid in full: never reminded
    pay(ctx, bills[1], 100_000, "FT2")  # partly paid: reminded of the rest
    label2, label3 = bills[1].label, bills[2].label
    # Due 2026-11-11. Nothing before the first stage:
    assert send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 7)).queued == {}
    report = send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 8))
    assert report.queued == {"email": 2, "sms": 2}
    assert reminders(ctx) == [
        (label2, "before-3", "email"),
        (label2, "before-3", "sms"),
        (label3, "before-3", "email"),
        (label3, "before-3", "sms"),
    ]
    # The same day again, and the due day itself: nothing new.
    assert send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 8)).queued == {}
    assert send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 11)).queued == {}
    # Bill 3 gets paid; a day after the due date only bill 2 is overdue.
    pay(ctx, bills[2], 216_000, "FT3")
    send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 12))
    # A missed week: only the latest stage (after-7), not after-1 and after-7 together.
    send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 30))
    assert [r[1:] for r in reminders(ctx) if r[0] == label2] == [
        ("after-1", "email"),
        ("after-1", "sms"),
        ("after-7", "email"),
        ("after-7", "sms"),
        ("before-3", "email"),
        ("before-3", "sms"),
    ]
    assert not [r for r in reminders(ctx) if r[0] == label3 and r[1] != "before-3"]
    sequence_pending(ctx)  # the events are queued until the sequencer integrates them
    with ctx.engine.connect() as conn:
        events = conn.execute(
            sa.text("SELECT data FROM audit_event WHERE type = 'payment.reminded'")
        ).scalars()
        assert all("khach" not in data and "912000" not in data for data in events)


def test_a_customer_whose_transfer_waits_for_review_is_not_reminded(ctx: Context) -> None:
    issued = bill(ctx, 1)
    track_invoices([issued], ctx=ctx)
    tx = BankTransaction("FT9", Decimal(216_000), date(2026, 11, 5), "tien dien PA00000001")
    assert reconcile([tx], ctx=ctx).counts["needs_review"] == 1
    report = send_reminders(ctx=ctx, policy=POLICY, today=date(2026, 11, 12))
    assert report.queued == {}
    assert report.skipped == {"payment waiting for review": 1}


def test_only_the_channels_a_customer_has(sqlite_ctx: Context) -> None:
    ctx = sqlite_ctx
    track_invoices([bill(ctx, 1, phone=False), bill(ctx, 2, email=False, phone=False)], ctx=ctx)
    report = send_reminders(ctx=ctx, policy=ReminderPolicy(locale="en"), today=date(2026, 11, 9))
    assert report.queued == {"email": 1}
    assert report.skipped == {"no contact": 1}


@pytest.mark.parametrize("locale", ["vi", "en"])
@pytest.mark.parametrize("stage", ["before-3", "after-30"])
def test_texts(locale: str, stage: str) -> None:
    ref = reference.make("1", "C26TAA", 123)
    email, sms = reminder_messages(
        email="khach@example.vn",
        phone="0912345678",
        customer_name="Nguyễn Văn An",
        seller_name="EVN Hà Nội",
        invoice_label="1C26TAA-00000123",
        reference=ref,
        amount=Decimal(1_234_567),
        due_date=date(2026, 11, 11),
        stage=stage,
        days=int(stage.split("-")[1]),
        locale=locale,
    )
    assert "1C26TAA-00000123-75" in email.text
    assert "1C26TAA-00000123-75" in sms.text
    assert ("1.234.567" if locale == "vi" else "1,234,567") in sms.text
    assert sms.text.isascii()
    assert len(sms.text) <= 160
    assert ("30" in email.subject + email.text) is (stage == "after-30")


def test_policy_checks() -> None:
    with pytest.raises(ValidationError):
        ReminderPolicy(days_before=(-1,))
    with pytest.raises(ValidationError):
        ReminderPolicy(days_before=(), days_after=())
    with pytest.raises(ValidationError):
        ReminderPolicy(channels=("fax",))
    assert ReminderPolicy().stage_on(date(2026, 11, 11), date(2026, 11, 18)) == ("after-7", 7)


def test_a_replacement_invoice_takes_over_the_payments(ctx: Context) -> None:
    from evservice.invoices import replace

    original = bill(ctx, 1)
    track_invoices([original], ctx=ctx)
    pay(ctx, original, 100_000, "FT1")
    new = replace(
        original.row_id,
        {
            "series": "C26TAA",
            "issue_date": "2026-11-01",
            "reference": "bill-1-r",
            "seller": SELLER,
            "buyer": {"person_name": "Khách 1", "customer_code": "PA00000001"},
            "lines": [
                {
                    "name": "Điện",
                    "unit": "kWh",
                    "quantity": "90",
                    "unit_price": "2000",
                    "vat_rate": "8%",
                }
            ],
        },
        reason="Sai chỉ số",
        ctx=ctx,
    )
    track_invoices([new], ctx=ctx)
    with ctx.engine.connect() as conn:
        rows = dict(
            conn.execute(sa.text("SELECT invoice_id, status FROM reconcile_receivable")).all()
        )
    assert rows == {original.row_id: "replaced", new.row_id: "partly_paid"}
    # 194,400 due on the replacement; the customer pays the rest quoting the old bill.
    pay(ctx, original, 94_400, "FT2")
    with ctx.engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM reconcile_receivable WHERE invoice_id = :i"),
            {"i": new.row_id},
        ).scalar_one()
    assert status == "paid"
