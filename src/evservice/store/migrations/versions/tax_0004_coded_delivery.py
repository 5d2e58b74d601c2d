"""tax: the coded PDF and the delivery of invoices that waited for their code

Revision ID: tax_0004
Revises: tax_0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "tax_0004"
down_revision = "tax_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tax_invoice_code") as batch:
        batch.add_column(sa.Column("coded_pdf_path", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("delivered_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tax_invoice_code") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("coded_pdf_path")
