"""Receivables: one per invoice, opened when the invoice is issued, closed when it is paid.

:func:`track_invoices` opens them from issued invoices (the due date is the issue
date plus ``due_days``, as the batch prints it); :func:`open_receivables` takes
plain :class:`Receivable` values (what the benchmark and integrators with their
own billing use). A replacement invoice takes over its original: the original is
marked ``replaced`` and what was paid on it moves to the replacement (an
application ``moved`` and an audit event). Credit a customer holds in
``reconcile_credit`` (overpayments on bills without a plan) is spent on the
customer's next receivable when it opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from evservice._context import Context, resolve
from evservice.audit import NewEvent, record_many
from evservice.errors import ValidationError
from evservice.invoices import CorrectionKind, Invoice, IssuedInvoice
from evservice.payments import reference as payment_reference
from evservice.reconcile._sql import insert_ignoring
from evservice.reconcile._tables import (
    ReconcileApplication,
    ReconcileCredit,
    ReconcileReceivable,
)
from evservice.store import transaction

__all__ = [
    "APPLICATIONS",
    "CREDITS",
    "RECEIVABLES",
    "Receivable",
    "open_receivables",
    "receivable_of",
    "status_of",
    "track_invoices",
]

RECEIVABLES: sa.Table = ReconcileReceivable.__table__  # type: ignore[attr-defined]
APPLICATIONS: sa.Table = ReconcileApplication.__table__  # type: ignore[attr-defined]
CREDITS: sa.Table = ReconcileCredit.__table__  # type: ignore[attr-defined]

_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Receivable:
    """What one invoice asks to be paid (whole dong), and by when.

    ``replaces`` is the invoice id of the original when this is a replacement.
    """

    invoice_id: str
    reference: str
    label: str
    customer_id: str
    issue_date: date
    due_date: date
    amount_due: Decimal
    before_tax: Decimal
    plan_code: str | None = None
    replaces: str | None = None

    def __post_init__(self) -> None:
        if not self.invoice_id or len(self.invoice_id) > 36:
            raise ValidationError("invoice_id", "must be 1-36 characters")
        payment_reference.validate(self.reference)
        if not self.customer_id or len(self.customer_id) > 50:
            raise ValidationError("customer_id", "must be 1-50 characters")
        for name in ("amount_due", "before_tax"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value != value.to_integral_value() or value < 0:
                raise ValidationError(name, "must be a whole, non-negative number of dong")
        if self.due_date < self.issue_date:
            raise ValidationError("due_date", "is before the issue date")


def status_of(amount_due: int, paid: int) -> str:
    """``paid``, ``partly_paid`` or ``open`` for a receivable that is not replaced."""
    if paid >= amount_due:
        return "paid"
    return "partly_paid" if paid > 0 else "open"


def _plan_code(draft_reference: str | None) -> str | None:
    # The batch's references end in ":plan:<code>" for subscriptions (batch_reference).
    if draft_reference and ":plan:" in draft_reference:
        code = draft_reference.rsplit(":plan:", 1)[1]
        return code if 0 < len(code) <= 50 else None
    return None


def receivable_of(
    invoice: Invoice | IssuedInvoice, *, due_days: int = 10, replaces: str | None = None
) -> Receivable:
    """The receivable of an issued invoice (customer = ``MKHang``, else MST, else the label)."""
    corrects = None
    if isinstance(invoice, IssuedInvoice):
        corrects = invoice.corrects_id
        invoice = invoice.invoice
    draft = invoice.draft
    related = draft.related
    if replaces is None and related is not None and related.kind is CorrectionKind.REPLACEMENT:
        replaces = corrects
    totals = invoice.totals
    buyer = draft.buyer
    return Receivable(
        invoice_id=str(invoice.id),
        reference=payment_reference.make(draft.template, draft.series, invoice.number),
        label=invoice.label,
        customer_id=buyer.customer_code or buyer.tax_code or invoice.label,
        issue_date=draft.issue_date,
        due_date=draft.issue_date + timedelta(days=due_days),
        amount_due=max(totals.payable, Decimal(0)),
        before_tax=max(totals.before_tax, Decimal(0)),
        plan_code=_plan_code(draft.reference),
        replaces=replaces,
    )


def track_invoices(
    invoices: Iterable[Invoice | IssuedInvoice],
    *,
    due_days: int = 10,
    ctx: Context | None = None,
) -> int:
    """Open the receivables of ``invoices`` (those already open are left as they are).

    Adjustment invoices are not tracked (they amend the original's content, and a
    decreasing one asks for nothing). Returns how many were opened.
    """
    if not 0 <= due_days <= 365:
        raise ValidationError("due_days", "must be between 0 and 365")
    items: list[Receivable] = []
    for item in invoices:
        invoice = item.invoice if isinstance(item, IssuedInvoice) else item
        related = invoice.draft.related
        if related is not None and related.kind is CorrectionKind.ADJUSTMENT:
            continue
        items.append(receivable_of(item, due_days=due_days))
    return open_receivables(items, ctx=ctx)


def open_receivables(
    receivables: Iterable[Receivable], *, ctx: Context | None = None, actor: str = "system"
) -> int:
    """Store ``receivables`` that are not stored yet, a few thousand per transaction.

    Returns how many were opened. Replacements take over their originals; held
    customer credit is spent on them.
    """
    ctx = resolve(ctx)
    batch: list[Receivable] = []
    opened = 0
    for item in receivables:
        if not isinstance(item, Receivable):
            raise ValidationError("receivables", "must be Receivable values")
        batch.append(item)
        if len(batch) >= _CHUNK:
            opened += _open_chunk(ctx, batch, actor)
            batch = []
    if batch:
        opened += _open_chunk(ctx, batch, actor)
    return opened


def _open_chunk(ctx: Context, items: Sequence[Receivable], actor: str) -> int:
    now = ctx.clock.now()
    ids = list(dict.fromkeys(r.invoice_id for r in items))
    with transaction(ctx.engine) as session:
        known = set(
            session.execute(
                sa.select(RECEIVABLES.c.invoice_id).where(RECEIVABLES.c.invoice_id.in_(ids))
            ).scalars()
        )
        unique = {r.invoice_id: r for r in items}
        fresh = [r for r in unique.values() if r.invoice_id not in known]
        if not fresh:
            return 0
        rows = [_row(r, now) for r in fresh]
        # Another process may open some of them meanwhile: those it inserted are its own.
        statement = insert_ignoring(session, RECEIVABLES).returning(RECEIVABLES.c.invoice_id)
        inserted = set(session.execute(statement, rows).scalars())
        fresh = [r for r in fresh if r.invoice_id in inserted]
        events = _take_over(session, [r for r in fresh if r.replaces], now, actor)
        events += _spend_credit(session, fresh, now, actor)
        record_many(session, events)
    return len(fresh)


def _row(r: Receivable, now: datetime) -> dict[str, Any]:
    return {
        "invoice_id": r.invoice_id,
        "reference": payment_reference.compact(r.reference),
        "label": r.label,
        "customer_id": r.customer_id,
        "plan_code": r.plan_code,
        "period": r.issue_date.strftime("%Y-%m"),
        "issue_date": r.issue_date,
        "due_date": r.due_date,
        "amount_due": int(r.amount_due),
        "before_tax": int(r.before_tax),
        "paid": 0,
        "status": "paid" if r.amount_due == 0 else "open",
        "replaced_by": None,
        "updated_at": now,
    }


def _set_paid(session: Session, invoice_id: str, paid: int, status: str, now: datetime) -> None:
    session.execute(
        sa.update(RECEIVABLES)
        .where(RECEIVABLES.c.invoice_id == invoice_id)
        .values(paid=paid, status=status, updated_at=now)
    )


def _take_over(
    session: Session, replacements: Sequence[Receivable], now: datetime, actor: str
) -> list[NewEvent]:
    """Mark originals replaced and move what was paid on them to their replacements."""
    events: list[NewEvent] = []
    for new in replacements:
        old = session.execute(
            sa.select(RECEIVABLES).where(RECEIVABLES.c.invoice_id == new.replaces).with_for_update()
        ).one_or_none()
        if old is None or old.status == "replaced":
            continue
        session.execute(
            sa.update(RECEIVABLES)
            .where(RECEIVABLES.c.invoice_id == old.invoice_id)
            .values(status="replaced", replaced_by=new.invoice_id, updated_at=now)
        )
        if old.paid <= 0:
            continue
        amount_due = int(new.amount_due)
        _set_paid(session, new.invoice_id, int(old.paid), status_of(amount_due, old.paid), now)
        session.execute(
            sa.insert(APPLICATIONS),
            [
                {
                    "transaction_key": old.invoice_id,
                    "invoice_id": new.invoice_id,
                    "kind": "moved",
                    "amount": int(old.paid),
                    "applied_at": now,
                }
            ],
        )
        events.append(
            NewEvent(
                "payment.moved",
                new.invoice_id,
                actor,
                now,
                {"from_invoice": old.invoice_id, "amount": int(old.paid), "label": new.label},
            )
        )
    return events


def _spend_credit(
    session: Session, fresh: Sequence[Receivable], now: datetime, actor: str
) -> list[NewEvent]:
    """Spend customers' held credit on their newly opened receivables, oldest due first."""
    fresh = [r for r in fresh if r.plan_code is None and r.replaces is None]
    customers = sorted({r.customer_id for r in fresh})
    if not customers:
        return []
    balances = {
        row.customer_id: int(row.balance)
        for row in session.execute(
            sa.select(CREDITS.c.customer_id, CREDITS.c.balance)
            .where(CREDITS.c.customer_id.in_(customers), CREDITS.c.balance > 0)
            .with_for_update()
        )
    }
    events: list[NewEvent] = []
    paid_now: dict[str, int] = {}
    for r in sorted(fresh, key=lambda r: (r.due_date, r.invoice_id)):
        balance = balances.get(r.customer_id, 0)
        already = paid_now.get(r.invoice_id, 0)
        spend = min(balance, int(r.amount_due) - already)
        if spend <= 0:
            continue
        balances[r.customer_id] = balance - spend
        paid_now[r.invoice_id] = already + spend
        _set_paid(
            session,
            r.invoice_id,
            already + spend,
            status_of(int(r.amount_due), already + spend),
            now,
        )
        session.execute(
            sa.insert(APPLICATIONS),
            [
                {
                    "transaction_key": "held-credit",
                    "invoice_id": r.invoice_id,
                    "kind": "carried",
                    "amount": spend,
                    "applied_at": now,
                }
            ],
        )
        session.execute(
            sa.update(CREDITS)
            .where(CREDITS.c.customer_id == r.customer_id)
            .values(balance=balances[r.customer_id], updated_at=now)
        )
        events.append(
            NewEvent(
                "payment.credit_spent",
                r.invoice_id,
                actor,
                now,
                {"amount": spend, "label": r.label, "credit_left": balances[r.customer_id]},
            )
        )
    return events
