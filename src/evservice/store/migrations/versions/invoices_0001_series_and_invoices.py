"""invoices: series counters and issued invoices

Revision ID: invoices_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "invoices_0001"
down_revision = None
branch_labels = ("invoices",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_series_counter",
        sa.Column("template", sa.String(length=1), nullable=False),
        sa.Column("series", sa.String(length=6), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("last_issue_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("template", "series"),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("template", sa.String(length=1), nullable=False),
        sa.Column("series", sa.String(length=6), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("lookup_code", sa.String(length=20), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("buyer_name", sa.String(length=400), nullable=True),
        sa.Column("buyer_tax_code", sa.String(length=14), nullable=True),
        sa.Column("total_payable", sa.BigInteger(), nullable=False),
        sa.Column("draft_json", sa.Text(), nullable=False),
        sa.Column("xml_path", sa.String(length=500), nullable=True),
        sa.Column("pdf_path", sa.String(length=500), nullable=True),
        sa.Column("xml_sha256", sa.String(length=64), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("correction_kind", sa.Integer(), nullable=True),
        sa.Column("corrects_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["corrects_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("template", "series", "number", name="uq_invoice_number"),
        sa.UniqueConstraint("reference"),
        sa.UniqueConstraint("lookup_code"),
    )
    op.create_index("ix_invoice_status", "invoice", ["status"])
    op.create_index("ix_invoice_corrects_id", "invoice", ["corrects_id"])


def downgrade() -> None:
    op.drop_index("ix_invoice_corrects_id", table_name="invoice")
    op.drop_index("ix_invoice_status", table_name="invoice")
    op.drop_table("invoice")
    op.drop_table("invoice_series_counter")
