"""contracts: counters, contracts and their signers

Revision ID: contracts_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "contracts_0001"
down_revision = None
branch_labels = ("contracts",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_counter",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "contract",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("draft_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("shown_pdf_path", sa.String(length=500), nullable=True),
        sa.Column("shown_sha256", sa.String(length=64), nullable=True),
        sa.Column("xml_sha256", sa.String(length=64), nullable=True),
        sa.Column("final_pdf_path", sa.String(length=500), nullable=True),
        sa.Column("final_sha256", sa.String(length=64), nullable=True),
        sa.Column("status_reason", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_contract_status", "contract", ["status"])
    op.create_table(
        "contract_signer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("destination_masked", sa.String(length=100), nullable=True),
        sa.Column("challenge_id", sa.String(length=36), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("audit_event_ids", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "position", name="uq_contract_signer"),
    )
    op.create_index("ix_contract_signer_contract_id", "contract_signer", ["contract_id"])


def downgrade() -> None:
    op.drop_index("ix_contract_signer_contract_id", table_name="contract_signer")
    op.drop_table("contract_signer")
    op.drop_index("ix_contract_status", table_name="contract")
    op.drop_table("contract")
    op.drop_table("contract_counter")
