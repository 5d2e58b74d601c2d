"""privacy: wrapped data keys and the progress of rotations

Revision ID: privacy_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evservice.store._types import UTCDateTime

revision = "privacy_0001"
down_revision = None
branch_labels = ("privacy",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_key",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("superseded_at", UTCDateTime(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("destroyed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "generation", name="uq_privacy_key_scope"),
    )
    op.create_index("ix_privacy_key_scope", "privacy_key", ["scope"], unique=False)
    op.create_table(
        "privacy_job",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("cursor_json", sa.Text(), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("privacy_job")
    op.drop_index("ix_privacy_key_scope", table_name="privacy_key")
    op.drop_table("privacy_key")
