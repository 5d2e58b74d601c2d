"""Tables of the otp domain (Alembic branch ``otp``).

No column holds a code or a raw destination: the code only as
HMAC-SHA256(server key, challenge id, document hash, code), the destination
masked and as a keyed hash (for rate limits).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["ChallengeRow", "SendRow"]


class ChallengeRow(SQLModel, table=True):
    """One OTP challenge. ``status``: ``pending`` -> ``confirmed`` | ``locked``."""

    __tablename__ = "otp_challenge"

    id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(max_length=100, index=True)
    purpose: str = Field(max_length=40)
    document_sha256: str = Field(max_length=64)
    channel: str = Field(max_length=8)
    destination_masked: str = Field(max_length=100)
    destination_hash: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    status: str = Field(max_length=16)
    attempts: int = 0
    max_attempts: int
    send_count: int = 1
    max_sends: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    code_issued_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    resend_after: datetime = Field(sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    client_ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=400)


class SendRow(SQLModel, table=True):
    """One code sent (or attempted), counted by the per-recipient and per-subject limits."""

    __tablename__ = "otp_send"

    id: str = Field(primary_key=True, max_length=36)
    challenge_id: str = Field(foreign_key="otp_challenge.id", max_length=36, index=True)
    destination_hash: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=100, index=True)
    sent_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status: str = Field(max_length=16)
