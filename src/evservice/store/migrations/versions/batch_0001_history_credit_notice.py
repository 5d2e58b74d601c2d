"""batch: consumption history, carried credit and queued notices

Revision ID: batch_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "batch_0001"
down_revision = None
branch_labels = ("batch",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_history",
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("item_key", sa.String(length=60), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("kwh", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payable", sa.BigInteger(), nullable=False),
        sa.Column("rolled_over", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "item_key", "period"),
        sa.UniqueConstraint("invoice_id"),
    )
    op.create_table(
        "batch_credit",
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("plan_code", sa.String(length=50), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "plan_code"),
    )
    op.create_table(
        "batch_notice",
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "kind"),
    )


def downgrade() -> None:
    op.drop_table("batch_notice")
    op.drop_table("batch_credit")
    op.drop_table("batch_history")
