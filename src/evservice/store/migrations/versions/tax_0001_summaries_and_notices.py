"""tax: data summary tables and notices of invoices with errors

Revision ID: tax_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "tax_0001"
down_revision = None
branch_labels = ("tax",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_period",
        sa.Column("taxpayer", sa.String(length=14), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("supplements", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("taxpayer", "period"),
    )
    op.create_table(
        "tax_summary",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("taxpayer", sa.String(length=14), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("supplement", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("built_on", sa.Date(), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("xml_path", sa.String(length=500), nullable=False),
        sa.Column("xml_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("taxpayer", "period", "sequence", name="uq_tax_summary_sequence"),
    )
    op.create_index("ix_tax_summary_period", "tax_summary", ["period"], unique=False)
    op.create_table(
        "tax_summary_invoice",
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("summary_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["summary_id"], ["tax_summary.id"]),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_index(
        "ix_tax_summary_invoice_summary_id", "tax_summary_invoice", ["summary_id"], unique=False
    )
    op.create_table(
        "tax_notice",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("taxpayer", sa.String(length=14), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("correction_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("built_on", sa.Date(), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("xml_path", sa.String(length=500), nullable=False),
        sa.Column("xml_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "kind", "correction_id", name="uq_tax_notice"),
    )
    op.create_index("ix_tax_notice_invoice_id", "tax_notice", ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tax_notice_invoice_id", table_name="tax_notice")
    op.drop_table("tax_notice")
    op.drop_index("ix_tax_summary_invoice_summary_id", table_name="tax_summary_invoice")
    op.drop_table("tax_summary_invoice")
    op.drop_index("ix_tax_summary_period", table_name="tax_summary")
    op.drop_table("tax_summary")
    op.drop_table("tax_period")
