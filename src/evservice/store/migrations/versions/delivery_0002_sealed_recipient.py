"""delivery: room for the sealed recipient, and its blind index

Revision ID: delivery_0002
Revises: delivery_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "delivery_0002"
down_revision = "delivery_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_outbox") as batch:
        batch.alter_column(
            "to_address",
            existing_type=sa.String(length=320),
            type_=sa.String(length=600),
            existing_nullable=False,
        )
        batch.add_column(sa.Column("to_index", sa.String(length=32), nullable=True))
        batch.create_index("ix_delivery_outbox_to_index", ["to_index"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_outbox") as batch:
        batch.drop_index("ix_delivery_outbox_to_index")
        batch.drop_column("to_index")
        batch.alter_column(
            "to_address", existing_type=sa.String(length=600), type_=sa.String(length=320)
        )
