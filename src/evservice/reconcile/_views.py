"""What is outstanding: a period's receivables by status and age, and a customer's statement.

:func:`receivables_status` groups in SQL (by due date and paid state) so a
period of millions of bills comes back as a few dozen rows. The groups are
disjoint: ``paid`` (in full), ``overdue`` (something outstanding after the due
date, paid partly or not at all), ``partly_paid`` and ``unpaid`` (not yet due).
Ageing buckets split the outstanding amount by days past the due date.
Replaced bills are left out: their replacement counts instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from evservice._context import Context, resolve
from evservice.batch import BatchCredit
from evservice.clock import vn_date
from evservice.errors import NotFoundError, ValidationError
from evservice.reconcile._match import TRANSACTIONS
from evservice.reconcile._receivables import APPLICATIONS, CREDITS, RECEIVABLES
from evservice.store import transaction

__all__ = [
    "AGEING_BUCKETS",
    "CustomerStatement",
    "Group",
    "ReceivablesStatus",
    "StatementLine",
    "customer_statement",
    "receivables_status",
]

#: (label, first day past due, last day past due or None).
AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("not due", -(10**6), 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)
_GROUPS = ("paid", "partly_paid", "unpaid", "overdue")
_BATCH_CREDIT: sa.Table = BatchCredit.__table__  # type: ignore[attr-defined]


@dataclass
class Group:
    """Count and money (whole dong) of some bills."""

    count: int = 0
    amount_due: int = 0
    paid: int = 0

    @property
    def outstanding(self) -> int:
        return max(self.amount_due - self.paid, 0)

    def add(self, count: int, due: int, paid: int) -> None:
        self.count += count
        self.amount_due += due
        self.paid += paid

    def as_dict(self) -> dict[str, int]:
        return {
            "count": self.count,
            "amount_due": self.amount_due,
            "paid": self.paid,
            "outstanding": self.outstanding,
        }


@dataclass
class ReceivablesStatus:
    """One period's bills: by status group and by age of what is outstanding."""

    period: str
    as_of: date
    groups: dict[str, Group] = field(default_factory=lambda: {g: Group() for g in _GROUPS})
    ageing: dict[str, Group] = field(
        default_factory=lambda: {b[0]: Group() for b in AGEING_BUCKETS}
    )
    total: Group = field(default_factory=Group)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "total": self.total.as_dict(),
            "groups": {k: v.as_dict() for k, v in self.groups.items()},
            "ageing": {k: v.as_dict() for k, v in self.ageing.items()},
        }


def _check_period(period: str) -> str:
    if not isinstance(period, str) or len(period) != 7 or period[4] != "-":
        raise ValidationError("period", "must be YYYY-MM, like 2026-11")
    try:
        date(int(period[:4]), int(period[5:]), 1)
    except ValueError as exc:
        raise ValidationError("period", "must be YYYY-MM, like 2026-11") from exc
    return period


def _bucket(days_past_due: int) -> str:
    for label, low, high in AGEING_BUCKETS:
        if days_past_due >= low and (high is None or days_past_due <= high):
            return label
    return AGEING_BUCKETS[-1][0]


def receivables_status(
    period: str, *, as_of: date | None = None, ctx: Context | None = None
) -> ReceivablesStatus:
    """The bills issued in ``period`` (YYYY-MM) as they stand on ``as_of`` (default: today)."""
    ctx = resolve(ctx)
    period = _check_period(period)
    as_of = as_of or vn_date(ctx.clock.now())
    r = RECEIVABLES.c
    full = (r.paid >= r.amount_due).label("full")
    some = (r.paid > 0).label("some")
    query = (
        sa.select(
            r.due_date, full, some, sa.func.count(), sa.func.sum(r.amount_due), sa.func.sum(r.paid)
        )
        .where(r.period == period, r.status != "replaced")
        .group_by(r.due_date, full, some)
    )
    status = ReceivablesStatus(period, as_of)
    with transaction(ctx.engine) as session:
        rows = session.execute(query).all()
    for due_date, is_full, is_some, count, due, paid in rows:
        due, paid = int(due or 0), int(paid or 0)
        late = (as_of - due_date).days
        if is_full:
            group = "paid"
        elif late > 0:
            group = "overdue"
        else:
            group = "partly_paid" if is_some else "unpaid"
        status.groups[group].add(count, due, paid)
        status.total.add(count, due, paid)
        if not is_full:
            status.ageing[_bucket(late)].add(count, due, paid)
    return status


@dataclass(frozen=True)
class StatementLine:
    """One bill of a customer, with the money put on it."""

    invoice_id: str
    label: str
    reference: str
    issue_date: date
    due_date: date
    amount_due: int
    paid: int
    status: str
    payments: tuple[tuple[str, str, int], ...]  # (kind, bank ref or source, amount)

    @property
    def outstanding(self) -> int:
        return 0 if self.status == "replaced" else max(self.amount_due - self.paid, 0)


@dataclass(frozen=True)
class CustomerStatement:
    """A customer's bills, what is outstanding, and the credit carried for them."""

    customer_id: str
    lines: tuple[StatementLine, ...]
    held_credit: int
    plan_credit: dict[str, int]

    @property
    def outstanding(self) -> int:
        return sum(line.outstanding for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "outstanding": self.outstanding,
            "held_credit": self.held_credit,
            "plan_credit": self.plan_credit,
            "invoices": [
                {
                    "invoice_id": x.invoice_id,
                    "label": x.label,
                    "reference": x.reference,
                    "issue_date": x.issue_date.isoformat(),
                    "due_date": x.due_date.isoformat(),
                    "amount_due": x.amount_due,
                    "paid": x.paid,
                    "outstanding": x.outstanding,
                    "status": x.status,
                    "payments": [{"kind": k, "from": f, "amount": a} for k, f, a in x.payments],
                }
                for x in self.lines
            ],
        }


def customer_statement(customer_id: str, *, ctx: Context | None = None) -> CustomerStatement:
    """Every bill of ``customer_id`` (newest first); :class:`NotFoundError` if there is none."""
    ctx = resolve(ctx)
    if not isinstance(customer_id, str) or not 1 <= len(customer_id.strip()) <= 50:
        raise ValidationError("customer_id", "must be 1-50 characters")
    customer_id = customer_id.strip()
    r, a, t = RECEIVABLES.c, APPLICATIONS.c, TRANSACTIONS.c
    with transaction(ctx.engine) as session:
        bills = session.execute(
            sa.select(RECEIVABLES)
            .where(r.customer_id == customer_id)
            .order_by(r.issue_date.desc(), r.invoice_id)
        ).all()
        if not bills:
            raise NotFoundError(f"no receivables for customer {customer_id!r}")
        ids = [b.invoice_id for b in bills]
        applied = session.execute(
            sa.select(a.invoice_id, a.kind, a.amount, t.bank_ref)
            .select_from(APPLICATIONS.outerjoin(TRANSACTIONS, t.key == a.transaction_key))
            .where(a.invoice_id.in_(ids))
            .order_by(a.applied_at, a.transaction_key)
        ).all()
        held = session.execute(
            sa.select(CREDITS.c.balance).where(CREDITS.c.customer_id == customer_id)
        ).scalar_one_or_none()
        plans = session.execute(
            sa.select(_BATCH_CREDIT.c.plan_code, _BATCH_CREDIT.c.balance).where(
                _BATCH_CREDIT.c.customer_id == customer_id
            )
        ).all()
    by_invoice: dict[str, list[tuple[str, str, int]]] = {}
    for invoice_id, kind, amount, bank_ref in applied:
        by_invoice.setdefault(invoice_id, []).append((kind, bank_ref or kind, int(amount)))
    lines = tuple(
        StatementLine(
            b.invoice_id,
            b.label,
            b.reference,
            b.issue_date,
            b.due_date,
            int(b.amount_due),
            int(b.paid),
            b.status,
            tuple(by_invoice.get(b.invoice_id, ())),
        )
        for b in bills
    )
    return CustomerStatement(customer_id, lines, int(held or 0), {p: int(v) for p, v in plans if v})
