"""tax: the coded XML's SHA-256 and whether the tax authority signed it (DSCKS/CQT)

Revision ID: tax_0005
Revises: tax_0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tax_0005"
down_revision = "tax_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tax_invoice_code") as batch:
        batch.add_column(sa.Column("coded_xml_sha256", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("authority_signed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("tax_invoice_code") as batch:
        batch.drop_column("authority_signed")
        batch.drop_column("coded_xml_sha256")
