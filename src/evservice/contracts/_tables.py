"""Tables of the contracts domain (Alembic branch ``contracts``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["ContractCounter", "ContractRow", "ContractSignerRow"]


class ContractCounter(SQLModel, table=True):
    """The last contract number given in a year (``HD<year>-<number>``)."""

    __tablename__ = "contract_counter"
    year: int = Field(primary_key=True)
    last_number: int = Field(default=0)


class ContractRow(SQLModel, table=True):
    """A contract. ``draft_json`` (names, contacts, addresses) is sealed under the
    customer's own key; ``customer_index`` is the blind index of the customer's
    phone (or e-mail), to find their contracts without the plaintext."""

    __tablename__ = "contract"
    id: str = Field(primary_key=True, max_length=36)
    number: str = Field(max_length=20, unique=True)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    reference: str | None = Field(default=None, max_length=100, unique=True)
    draft_json: str = Field(sa_type=sa.Text)
    customer_index: str | None = Field(default=None, max_length=32, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    shown_pdf_path: str | None = Field(default=None, max_length=500)
    shown_sha256: str | None = Field(default=None, max_length=64)
    xml_sha256: str | None = Field(default=None, max_length=64)
    final_pdf_path: str | None = Field(default=None, max_length=500)
    final_sha256: str | None = Field(default=None, max_length=64)
    status_reason: str | None = Field(default=None, max_length=400)


class ContractSignerRow(SQLModel, table=True):
    """A signer in order: 1 the customer (OTP), 2 the provider's representative.

    ``name`` is sealed under the customer's key, bound to (contract, position).
    """

    __tablename__ = "contract_signer"
    __table_args__ = (sa.UniqueConstraint("contract_id", "position", name="uq_contract_signer"),)
    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=36, index=True)
    position: int
    role: str = Field(max_length=20)
    name: str = Field(sa_type=sa.Text)
    channel: str | None = Field(default=None, max_length=10)
    destination_masked: str | None = Field(default=None, max_length=100)
    challenge_id: str | None = Field(default=None, max_length=36)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    client_ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)
    audit_event_ids: str | None = Field(default=None, max_length=200)
