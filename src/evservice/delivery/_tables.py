"""Tables of the delivery domain (Alembic branch ``delivery``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["OutboxRow"]


class OutboxRow(SQLModel, table=True):
    """One message waiting for, or done with, delivery.

    ``to_address`` is the destination, kept because the dispatcher must send
    to it: sealed with ``text`` and ``html`` under the recipient's own key
    (``delivery._sealed``), found by ``to_index``, its blind index; listings
    show ``to_masked``. Attachments are files under
    ``data_dir/outbox/attachments/<sha256>``, described in ``attachments_json``.
    ``status``: ``queued`` -> ``sending`` (claimed until ``next_attempt_at``)
    -> ``sent`` | ``queued`` again (backoff) | ``failed``.
    """

    __tablename__ = "delivery_outbox"
    __table_args__ = (sa.Index("ix_delivery_outbox_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)
    to_address: str = Field(max_length=600)
    to_index: str | None = Field(default=None, max_length=32, index=True)
    to_masked: str = Field(max_length=100)
    subject: str = Field(default="", max_length=1000)
    text: str = Field(sa_type=sa.Text)
    html: str | None = Field(default=None, sa_type=sa.Text)
    attachments_json: str = Field(default="[]", sa_type=sa.Text)
    tags_json: str = Field(default="{}", sa_type=sa.Text)
    status: str = Field(max_length=16)
    attempts: int = 0
    max_attempts: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    channel: str | None = Field(default=None, max_length=32)
    provider_id: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=500)
