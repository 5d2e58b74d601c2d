"""contracts: the customer's blind index, and room for sealed signer names

Revision ID: contracts_0002
Revises: contracts_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "contracts_0002"
down_revision = "contracts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contract") as batch:
        batch.add_column(sa.Column("customer_index", sa.String(length=32), nullable=True))
        batch.create_index("ix_contract_customer_index", ["customer_index"], unique=False)
    with op.batch_alter_table("contract_signer") as batch:
        batch.alter_column(
            "name", existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contract_signer") as batch:
        batch.alter_column("name", existing_type=sa.Text(), type_=sa.String(length=200))
    with op.batch_alter_table("contract") as batch:
        batch.drop_index("ix_contract_customer_index")
        batch.drop_column("customer_index")
