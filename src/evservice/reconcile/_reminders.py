"""Payment reminders before and after the due date, through the durable outbox.

Stages are ``before-<d>`` (from ``d`` days before the due date) and
``after-<d>`` (from ``d`` days after it); a bill gets the latest stage that has
begun, once: the row ``(invoice, stage)`` in ``reconcile_reminder`` is inserted
in the same transaction as the messages are queued, so a rerun (or a run that
races another) queues nothing twice, and a missed day does not send every
skipped stage at once. Never reminded: bills paid in full, replaced bills, and
bills a transfer waiting for review was proposed for (the customer has paid,
with a mistyped reference). The receivable is locked and read again in the
transaction that queues, so a payment applied meanwhile wins.

Texts are ``templates/reminder_*.j2`` in the style of the delivery templates
(Vietnamese and English; the SMS folded to ASCII and held to one SMS).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal

import jinja2
import sqlalchemy as sa

from evservice import delivery
from evservice._context import Context, resolve
from evservice.audit import record
from evservice.clock import vn_date
from evservice.config import Settings
from evservice.errors import NotFoundError, ValidationError
from evservice.invoices import IssuedInvoice
from evservice.invoices import get as get_invoice
from evservice.money import format_vnd
from evservice.payments import reference as payment_reference
from evservice.reconcile._match import TRANSACTIONS
from evservice.reconcile._receivables import RECEIVABLES
from evservice.reconcile._sql import insert_ignoring
from evservice.reconcile._tables import ReconcileReminder
from evservice.store import is_postgres, transaction

__all__ = ["ReminderPolicy", "ReminderReport", "reminder_messages", "send_reminders"]

REMINDERS: sa.Table = ReconcileReminder.__table__  # type: ignore[attr-defined]
_OPEN = ("open", "partly_paid")


@dataclass(frozen=True)
class ReminderPolicy:
    """When to remind (days before / after the due date), in which language, by which channels."""

    days_before: tuple[int, ...] = (3,)
    days_after: tuple[int, ...] = (1, 7)
    locale: Literal["vi", "en"] = "vi"
    channels: tuple[str, ...] = ("email", "sms")

    def __post_init__(self) -> None:
        for name in ("days_before", "days_after"):
            days = getattr(self, name)
            if any(
                isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 365 for d in days
            ):
                raise ValidationError(name, "must be whole numbers of days from 0 to 365")
        if not self.days_before and not self.days_after:
            raise ValidationError("days_before", "give at least one stage")
        if self.locale not in ("vi", "en"):
            raise ValidationError("locale", "must be 'vi' or 'en'")
        if not set(self.channels) <= {"email", "sms"} or not self.channels:
            raise ValidationError("channels", "must be 'email' and/or 'sms'")

    @classmethod
    def from_settings(cls, settings: Settings) -> ReminderPolicy:
        return cls(tuple(settings.reminder_days_before), tuple(settings.reminder_days_after))

    def stages(self) -> list[tuple[int, str]]:
        """(offset from the due date, stage name), earliest first."""
        stages = [(-d, f"before-{d}") for d in set(self.days_before)]
        stages += [(d, f"after-{d}") for d in set(self.days_after)]
        return sorted(stages)

    def stage_on(self, due: date, today: date) -> tuple[str, int] | None:
        """The latest stage begun by ``today`` for a bill due on ``due``, and its days."""
        current = None
        for offset, name in self.stages():
            if due + timedelta(days=offset) <= today:
                current = (name, abs(offset))
        return current


@dataclass
class ReminderReport:
    """How many messages were queued, and why others were not."""

    queued: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        queued = ", ".join(f"{k} {v}" for k, v in sorted(self.queued.items())) or "none"
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "none"
        return f"queued: {queued}; not sent: {skipped}"


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("evservice.reconcile", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_SUBJECTS = {
    ("before", "vi"): "Nhắc thanh toán hóa đơn {label}",
    ("before", "en"): "Payment reminder: invoice {label}",
    ("after", "vi"): "Hóa đơn {label} đã quá hạn thanh toán",
    ("after", "en"): "Invoice {label} is overdue",
}


def reminder_messages(
    *,
    email: str | None,
    phone: str | None,
    customer_name: str,
    seller_name: str,
    invoice_label: str,
    reference: str,
    amount: Decimal,
    due_date: date,
    stage: str,
    days: int,
    locale: str = "vi",
    channels: tuple[str, ...] = ("email", "sms"),
) -> list[delivery.Message]:
    """The reminder e-mail and/or SMS of one bill at one stage (only where a contact exists)."""
    if locale not in ("vi", "en"):
        raise ValidationError("locale", "must be 'vi' or 'en'")
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.to_integral_value():
        raise ValidationError("amount", "must be a positive whole number of dong")
    overdue = stage.startswith("after-")
    text_amount = format_vnd(amount) if locale == "vi" else format_vnd(amount).replace(".", ",")
    values: dict[str, Any] = {
        "customer_name": customer_name,
        "seller_name": seller_name,
        "invoice_label": invoice_label,
        "reference": payment_reference.format(reference),
        "amount": text_amount,
        "due_date": due_date.strftime("%d/%m/%Y") if locale == "vi" else due_date.isoformat(),
        "days": days,
        "overdue": overdue,
    }
    subject = _SUBJECTS[("after" if overdue else "before", locale)].format(label=invoice_label)
    tags = {"template": "reminder", "invoice": invoice_label, "stage": stage}
    messages: list[delivery.Message] = []
    if email and "email" in channels:
        messages.append(
            delivery.Message(
                to=email,
                kind="email",
                subject=subject,
                text=_env().get_template(f"reminder_email.{locale}.txt.j2").render(**values),
                html=_env()
                .get_template(f"reminder_email.{locale}.html.j2")
                .render(subject=subject, **values),
                tags=tags,
            )
        )
    if phone and "sms" in channels:
        text = _env().get_template(f"reminder_sms.{locale}.txt.j2").render(**values)
        messages.append(
            delivery.Message(
                to=phone, kind="sms", text=delivery.sms_text(text, field="invoice_label"), tags=tags
            )
        )
    return messages


def _candidates(ctx: Context, policy: ReminderPolicy, today: date) -> list[Any]:
    stages = policy.stages()
    latest_due = today - timedelta(days=stages[0][0])  # the first stage has begun
    earliest_due = today - timedelta(days=max(stages[-1][0], 0) + 90)
    with transaction(ctx.engine) as session:
        rows = session.execute(
            sa.select(RECEIVABLES.c.invoice_id, RECEIVABLES.c.due_date, RECEIVABLES.c.customer_id)
            .where(
                RECEIVABLES.c.status.in_(_OPEN),
                RECEIVABLES.c.due_date <= latest_due,
                RECEIVABLES.c.due_date >= earliest_due,
            )
            .order_by(RECEIVABLES.c.due_date, RECEIVABLES.c.invoice_id)
        ).all()
        proposed = set(
            session.execute(
                sa.select(TRANSACTIONS.c.invoice_id).where(
                    TRANSACTIONS.c.status == "needs_review", TRANSACTIONS.c.invoice_id.is_not(None)
                )
            ).scalars()
        )
        sent = {
            (i, s) for i, s in session.execute(sa.select(REMINDERS.c.invoice_id, REMINDERS.c.stage))
        }
    out = []
    for row in rows:
        stage = policy.stage_on(row.due_date, today)
        if stage is None or (row.invoice_id, stage[0]) in sent:
            continue
        out.append((row, stage, row.invoice_id in proposed))
    return out


def send_reminders(
    *,
    ctx: Context | None = None,
    policy: ReminderPolicy | None = None,
    today: date | None = None,
) -> ReminderReport:
    """Queue the reminders due ``today`` (Vietnam date of ``ctx.clock`` by default)."""
    ctx = resolve(ctx)
    policy = policy or ReminderPolicy.from_settings(ctx.settings)
    today = today or vn_date(ctx.clock.now())
    report = ReminderReport()
    for row, (stage, days), proposed in _candidates(ctx, policy, today):
        if proposed:
            report.skipped["payment waiting for review"] += 1
            continue
        try:
            issued = get_invoice(row.invoice_id, ctx=ctx)
        except NotFoundError:
            report.skipped["no invoice to take contacts from"] += 1
            continue
        _remind_one(ctx, policy, issued, stage, days, report)
    return report


def _remind_one(
    ctx: Context,
    policy: ReminderPolicy,
    issued: IssuedInvoice,
    stage: str,
    days: int,
    report: ReminderReport,
) -> None:
    invoice = issued.invoice
    buyer = invoice.draft.buyer
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        query = sa.select(RECEIVABLES).where(RECEIVABLES.c.invoice_id == issued.row_id)
        if is_postgres(ctx.engine):
            query = query.with_for_update()
        bill = session.execute(query).one()
        if bill.status not in _OPEN:
            report.skipped["paid meanwhile"] += 1
            return
        try:
            messages = reminder_messages(
                email=buyer.email,
                phone=buyer.phone,
                customer_name=buyer.person_name or buyer.name or bill.customer_id,
                seller_name=invoice.draft.seller.name,
                invoice_label=bill.label,
                reference=bill.reference,
                amount=Decimal(bill.amount_due - bill.paid),
                due_date=bill.due_date,
                stage=stage,
                days=days,
                locale=policy.locale,
                channels=policy.channels,
            )
        except ValidationError:
            report.skipped["undeliverable contact"] += 1
            return
        if not messages:
            report.skipped["no contact"] += 1
            return
        claimed = session.execute(
            insert_ignoring(session, REMINDERS).returning(REMINDERS.c.invoice_id),
            [
                {
                    "invoice_id": bill.invoice_id,
                    "stage": stage,
                    "message_ids": ",".join(m.id for m in messages),
                    "queued_at": now,
                }
            ],
        ).all()
        if not claimed:
            report.skipped["sent by another run"] += 1
            return
        for message in messages:
            delivery.enqueue(session, message, ctx=ctx)
            report.queued[message.kind] += 1
        record(
            session,
            type="payment.reminded",
            subject=bill.invoice_id,
            actor="system",
            at=now,
            data={
                "stage": stage,
                "outstanding": int(bill.amount_due - bill.paid),
                "to": [m.masked_to for m in messages],
            },
        )
