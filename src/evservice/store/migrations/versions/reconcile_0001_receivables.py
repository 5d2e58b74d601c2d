"""reconcile: receivables, bank transactions, applications, credit, reminders, webhook ids

Revision ID: reconcile_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "reconcile_0001"
down_revision = None
branch_labels = ("reconcile",)
depends_on = None

_INDEXES = [
    ("reconcile_receivable", "customer_id"),
    ("reconcile_receivable", "period"),
    ("reconcile_receivable", "due_date"),
    ("reconcile_transaction", "status"),
    ("reconcile_application", "invoice_id"),
]


def upgrade() -> None:
    op.create_table(
        "reconcile_receivable",
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=17), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("plan_code", sa.String(length=50), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("before_tax", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("replaced_by", sa.String(length=36), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "reconcile_transaction",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("bank_ref", sa.String(length=100), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("reference", sa.String(length=17), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "reconcile_application",
        sa.Column("transaction_key", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("transaction_key", "invoice_id", "kind"),
    )
    op.create_table(
        "reconcile_credit",
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "reconcile_reminder",
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("message_ids", sa.String(length=200), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "stage"),
    )
    op.create_table(
        "reconcile_webhook_event",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    for table, column in _INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(_INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in (
        "reconcile_webhook_event",
        "reconcile_reminder",
        "reconcile_credit",
        "reconcile_application",
        "reconcile_transaction",
        "reconcile_receivable",
    ):
        op.drop_table(table)
