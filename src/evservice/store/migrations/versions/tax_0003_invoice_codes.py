"""tax: the authority's codes (MCCQT) of invoices sent for one

Revision ID: tax_0003
Revises: tax_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "tax_0003"
down_revision = "tax_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_invoice_code",
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=46), nullable=False),
        sa.Column("code", sa.String(length=34), nullable=True),
        sa.Column("coded_xml_path", sa.String(length=500), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_index(
        "ix_tax_invoice_code_message_id", "tax_invoice_code", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tax_invoice_code_message_id", table_name="tax_invoice_code")
    op.drop_table("tax_invoice_code")
