"""Tables of reconciliation (Alembic branch ``reconcile``).

A receivable per invoice (what is owed, by when, what came in), every bank
transaction seen (its key unique, so the same transfer imported twice is
applied once), every application of money to an invoice, the customer credit
that has no plan to carry it, the reminders sent (one per invoice and stage)
and the webhook event ids seen (replay protection). Amounts are whole dong.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = [
    "ReconcileApplication",
    "ReconcileCredit",
    "ReconcileReceivable",
    "ReconcileReminder",
    "ReconcileTransaction",
    "ReconcileWebhookEvent",
]


class ReconcileReceivable(SQLModel, table=True):
    """What one invoice asks to be paid, and how much of it came in.

    ``status``: ``open``, ``partly_paid``, ``paid`` or ``replaced`` (a replacement
    invoice took over what it was owed and what was paid on it: ``replaced_by``).
    ``plan_code`` is set for subscription bills of the batch: an overpayment
    becomes credit of that plan in the batch's credit ledger.
    """

    __tablename__ = "reconcile_receivable"
    invoice_id: str = Field(primary_key=True, max_length=36)
    reference: str = Field(max_length=17, unique=True)
    label: str = Field(max_length=32)
    customer_id: str = Field(max_length=50, index=True)
    plan_code: str | None = Field(default=None, max_length=50)
    period: str = Field(max_length=7, index=True)
    issue_date: date
    due_date: date = Field(index=True)
    amount_due: int = Field(sa_type=sa.BigInteger)
    before_tax: int = Field(sa_type=sa.BigInteger)
    paid: int = Field(default=0, sa_type=sa.BigInteger)
    # No index on status: nearly every bill is "open", so an index only slows each
    # payment's update (and tempted SQLite's planner into walking all of it).
    status: str = Field(max_length=12)
    replaced_by: str | None = Field(default=None, max_length=36)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ReconcileTransaction(SQLModel, table=True):
    """One incoming bank transfer, once, with what became of it.

    ``key`` is the SHA-256 (hex, 40) of the account and the bank's own id of
    the transaction. ``status``: ``applied``, ``needs_review`` (a match by amount
    and customer, or a mistyped reference: an operator decides), ``unmatched``.
    The memo is kept for the operator; it never goes into the audit log.
    """

    __tablename__ = "reconcile_transaction"
    key: str = Field(primary_key=True, max_length=40)
    source: str = Field(max_length=20)
    bank_ref: str = Field(max_length=100)
    booked_on: date
    amount: int = Field(sa_type=sa.BigInteger)
    memo: str = Field(max_length=500)
    reference: str | None = Field(default=None, max_length=17)
    status: str = Field(max_length=12, index=True)
    reason: str = Field(max_length=100)
    invoice_id: str | None = Field(default=None, max_length=36)
    received_at: datetime = Field(sa_type=UTCDateTime)


class ReconcileApplication(SQLModel, table=True):
    """Money of one transaction put on one invoice.

    ``kind``: ``payment`` (on the invoice), ``credit`` (the overpaid rest, carried
    to the next bill), ``moved`` (what a replaced invoice had received, now on its
    replacement).
    """

    __tablename__ = "reconcile_application"
    transaction_key: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(primary_key=True, max_length=36, index=True)
    kind: str = Field(primary_key=True, max_length=12)
    amount: int = Field(sa_type=sa.BigInteger)
    applied_at: datetime = Field(sa_type=UTCDateTime)


class ReconcileCredit(SQLModel, table=True):
    """Overpaid money (with VAT) of a customer whose bill has no plan to carry credit.

    Spent on the customer's next receivable when it is opened.
    """

    __tablename__ = "reconcile_credit"
    customer_id: str = Field(primary_key=True, max_length=50)
    balance: int = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ReconcileReminder(SQLModel, table=True):
    """A reminder queued for an invoice at a stage (``before-3``, ``after-7``): once each."""

    __tablename__ = "reconcile_reminder"
    invoice_id: str = Field(primary_key=True, max_length=36)
    stage: str = Field(primary_key=True, max_length=16)
    message_ids: str = Field(max_length=200)
    queued_at: datetime = Field(sa_type=UTCDateTime)


class ReconcileWebhookEvent(SQLModel, table=True):
    """A webhook event id already accepted (a replay of it is answered, not applied)."""

    __tablename__ = "reconcile_webhook_event"
    event_id: str = Field(primary_key=True, max_length=100)
    received_at: datetime = Field(sa_type=UTCDateTime)
