"""Tables of the otp domain (Alembic branch ``otp``).

No column holds a code or a raw destination: the code only as
HMAC-SHA256(server key, challenge id, document hash, code), the destination
masked and as a keyed hash (for rate limits). An authenticator app's TOTP
secret is stored only encrypted (AES-256-GCM bound to its row, see
``_fieldcipher.py``), its recovery codes only as keyed hashes.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["ChallengeRow", "SendRow", "TotpEnrolmentRow", "TotpRecoveryRow"]


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
    #: The authenticator-app enrolment of a ``totp`` challenge (nothing is sent for it).
    enrolment_id: str | None = Field(default=None, max_length=36)


class SendRow(SQLModel, table=True):
    """One code sent (or attempted), counted by the per-recipient and per-subject limits."""

    __tablename__ = "otp_send"

    id: str = Field(primary_key=True, max_length=36)
    challenge_id: str = Field(foreign_key="otp_challenge.id", max_length=36, index=True)
    destination_hash: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=100, index=True)
    sent_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status: str = Field(max_length=16)


class TotpEnrolmentRow(SQLModel, table=True):
    """One authenticator app of a holder (a customer, or the provider's representative).

    ``status``: ``pending`` (made, not yet proved by a first code) -> ``active`` ->
    ``revoked`` (replaced by a newer enrolment or withdrawn). ``last_step`` is the
    last RFC 6238 time step accepted: a code of that step or earlier is refused,
    so each code is accepted once; it only grows, by a conditional UPDATE.
    """

    __tablename__ = "otp_totp_enrolment"
    __table_args__ = (sa.Index("ix_otp_totp_enrolment_holder", "holder_kind", "holder"),)

    id: str = Field(primary_key=True, max_length=36)
    holder_kind: str = Field(max_length=16)
    holder: str = Field(max_length=64)
    issuer: str = Field(max_length=100)
    secret_sealed: str = Field(sa_type=sa.Text)
    digits: int = 6
    period: int = 30
    algorithm: str = Field(default="SHA1", max_length=8)
    status: str = Field(max_length=16)
    attempts: int = 0
    last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TotpRecoveryRow(SQLModel, table=True):
    """One recovery code of an enrolment, as HMAC-SHA256 under a derived key; used once."""

    __tablename__ = "otp_totp_recovery"

    id: str = Field(primary_key=True, max_length=36)
    enrolment_id: str = Field(foreign_key="otp_totp_enrolment.id", max_length=36, index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
