"""tax: the durable outbox of messages to the tax authority and their responses

Revision ID: tax_0002
Revises: tax_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "tax_0002"
down_revision = "tax_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_message",
        sa.Column("id", sa.String(length=46), nullable=False),
        sa.Column("type", sa.String(length=3), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("xml_path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("gateway", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tax_message_due", "tax_message", ["status", "next_attempt_at"])
    op.create_index("ix_tax_message_subject_id", "tax_message", ["subject_id"])
    op.create_table(
        "tax_response",
        sa.Column("id", sa.String(length=46), nullable=False),
        sa.Column("message_id", sa.String(length=46), nullable=False),
        sa.Column("type", sa.String(length=3), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tax_response_message_id", "tax_response", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_tax_response_message_id", table_name="tax_response")
    op.drop_table("tax_response")
    op.drop_index("ix_tax_message_subject_id", table_name="tax_message")
    op.drop_index("ix_tax_message_due", table_name="tax_message")
    op.drop_table("tax_message")
