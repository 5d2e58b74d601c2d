"""invoices: room for the sealed buyer name and tax code

Revision ID: invoices_0002
Revises: invoices_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "invoices_0002"
down_revision = "invoices_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.alter_column(
            "buyer_name", existing_type=sa.String(length=400), type_=sa.Text(), nullable=True
        )
        batch.alter_column(
            "buyer_tax_code",
            existing_type=sa.String(length=14),
            type_=sa.String(length=100),
            nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.alter_column(
            "buyer_tax_code", existing_type=sa.String(length=100), type_=sa.String(length=14)
        )
        batch.alter_column("buyer_name", existing_type=sa.Text(), type_=sa.String(length=400))
