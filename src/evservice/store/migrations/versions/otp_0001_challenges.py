"""otp: challenges and sends

Revision ID: otp_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "otp_0001"
down_revision = None
branch_labels = ("otp",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otp_challenge",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("destination_masked", sa.String(length=100), nullable=False),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("send_count", sa.Integer(), nullable=False),
        sa.Column("max_sends", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("code_issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("resend_after", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_otp_challenge_subject", "otp_challenge", ["subject"], unique=False)
    op.create_table(
        "otp_send",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("challenge_id", sa.String(length=36), nullable=False),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["challenge_id"], ["otp_challenge.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_otp_send_challenge_id", "otp_send", ["challenge_id"], unique=False)
    op.create_index("ix_otp_send_destination_hash", "otp_send", ["destination_hash"], unique=False)
    op.create_index("ix_otp_send_subject", "otp_send", ["subject"], unique=False)
    op.create_index("ix_otp_send_sent_at", "otp_send", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_otp_send_sent_at", table_name="otp_send")
    op.drop_index("ix_otp_send_subject", table_name="otp_send")
    op.drop_index("ix_otp_send_destination_hash", table_name="otp_send")
    op.drop_index("ix_otp_send_challenge_id", table_name="otp_send")
    op.drop_table("otp_send")
    op.drop_index("ix_otp_challenge_subject", table_name="otp_challenge")
    op.drop_table("otp_challenge")
