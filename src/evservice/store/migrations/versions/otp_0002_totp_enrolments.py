"""otp: authenticator-app (TOTP) enrolments, their recovery codes, the challenge's enrolment

Revision ID: otp_0002
Revises: otp_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "otp_0002"
down_revision = "otp_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otp_totp_enrolment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("holder_kind", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_otp_totp_enrolment_holder", "otp_totp_enrolment", ["holder_kind", "holder"])
    op.create_table(
        "otp_totp_recovery",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("enrolment_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["enrolment_id"], ["otp_totp_enrolment.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(
        "ix_otp_totp_recovery_enrolment_id", "otp_totp_recovery", ["enrolment_id"], unique=False
    )
    with op.batch_alter_table("otp_challenge") as batch:
        batch.add_column(sa.Column("enrolment_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("otp_challenge") as batch:
        batch.drop_column("enrolment_id")
    op.drop_index("ix_otp_totp_recovery_enrolment_id", table_name="otp_totp_recovery")
    op.drop_table("otp_totp_recovery")
    op.drop_index("ix_otp_totp_enrolment_holder", table_name="otp_totp_enrolment")
    op.drop_table("otp_totp_enrolment")
