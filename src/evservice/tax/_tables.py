"""Tables of the tax domain (Alembic branch ``tax``).

``tax_period`` is the counter of one taxpayer's month: the last table number
(``SBTHDLieu``) and the last supplement (``BSLThu``); it is locked while tables
are built so that numbers never repeat. ``tax_summary_invoice`` names, once, the
table each invoice was reported in: an invoice is reported in exactly one table.
``tax_notice`` holds the notices of invoices with errors (form 04/SS-HĐĐT).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = [
    "TaxInvoiceCodeRow",
    "TaxMessageRow",
    "TaxNoticeRow",
    "TaxPeriodRow",
    "TaxResponseRow",
    "TaxSummaryInvoiceRow",
    "TaxSummaryRow",
]


class TaxPeriodRow(SQLModel, table=True):
    """A taxpayer's reporting month: the last table number and the last supplement."""

    __tablename__ = "tax_period"
    taxpayer: str = Field(primary_key=True, max_length=14)
    period: str = Field(primary_key=True, max_length=7)
    last_sequence: int = 0
    supplements: int = 0


class TaxSummaryRow(SQLModel, table=True):
    """One data summary table (form 01/TH-HĐĐT) as built, signed and stored."""

    __tablename__ = "tax_summary"
    __table_args__ = (
        sa.UniqueConstraint("taxpayer", "period", "sequence", name="uq_tax_summary_sequence"),
    )
    id: str = Field(primary_key=True, max_length=40)
    taxpayer: str = Field(max_length=14)
    period: str = Field(max_length=7, index=True)
    sequence: int
    supplement: int  # 0: the first report of the period (LDau 1); n: the n-th supplement
    rows: int
    invoices: int
    built_on: date
    signed_at: datetime = Field(sa_type=UTCDateTime)
    xml_path: str = Field(max_length=500)
    xml_sha256: str = Field(max_length=64)


class TaxSummaryInvoiceRow(SQLModel, table=True):
    """The table an invoice was reported in, and its first row number there."""

    __tablename__ = "tax_summary_invoice"
    invoice_id: str = Field(primary_key=True, max_length=36)
    summary_id: str = Field(foreign_key="tax_summary.id", max_length=40, index=True)
    position: int


class TaxNoticeRow(SQLModel, table=True):
    """One notice of an invoice with errors (04/SS-HĐĐT), for one correction.

    ``correction_id`` is the replacement or adjustment invoice the notice tells
    of, or ``None`` for an explanation (wrong buyer name or address, the tax code
    right); ``kind`` is the format's ``TCTBao`` (2 adjustment, 3 replacement,
    4 explanation).
    """

    __tablename__ = "tax_notice"
    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "kind", "correction_id", name="uq_tax_notice"),
    )
    id: str = Field(primary_key=True, max_length=40)
    taxpayer: str = Field(max_length=14)
    invoice_id: str = Field(max_length=36, index=True)
    correction_id: str | None = Field(default=None, max_length=36)
    kind: int
    reason: str = Field(max_length=255)
    built_on: date
    signed_at: datetime = Field(sa_type=UTCDateTime)
    xml_path: str = Field(max_length=500)
    xml_sha256: str = Field(max_length=64)


class TaxMessageRow(SQLModel, table=True):
    """One message to the tax authority (a ``TDiep``), in the durable outbox.

    ``id`` is the message's ``MTDiep`` (sender code + 32 hex digits): the key of
    exactly-once delivery. ``status``: ``queued`` -> ``sending`` (claimed until
    ``next_attempt_at``) -> ``sent`` (the gateway took it) -> ``accepted`` |
    ``rejected`` (the authority's answer); ``queued`` again after a retryable
    failure (backoff); ``failed`` after ``max_attempts``. ``reasons_json`` holds
    a rejection's reasons, in Vietnamese as the authority gives them.
    """

    __tablename__ = "tax_message"
    __table_args__ = (sa.Index("ix_tax_message_due", "status", "next_attempt_at"),)
    id: str = Field(primary_key=True, max_length=46)
    type: str = Field(max_length=3)  # MLTDiep: 400 summary table, 300 notice 04/SS
    subject_id: str = Field(max_length=40, index=True)
    xml_path: str = Field(max_length=500)
    status: str = Field(max_length=16)
    attempts: int = 0
    max_attempts: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    gateway: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    reasons_json: str = Field(default="[]", sa_type=sa.Text)


class TaxResponseRow(SQLModel, table=True):
    """A response of the authority (999, 204, 301), kept once by its own ``MTDiep``."""

    __tablename__ = "tax_response"
    id: str = Field(primary_key=True, max_length=46)
    message_id: str = Field(max_length=46, index=True)
    type: str = Field(max_length=3)
    accepted: bool
    reasons_json: str = Field(default="[]", sa_type=sa.Text)
    received_at: datetime = Field(sa_type=UTCDateTime)


class TaxInvoiceCodeRow(SQLModel, table=True):
    """The authority's code (MCCQT) of an invoice sent for one (message 200 -> 202).

    ``coded_xml_path`` and ``coded_pdf_path`` are the invoice's documents of
    record once coded (the XML with ``MCCQT``; the PDF printing it, carrying that
    XML, signed again by the seller); ``delivered_at`` is set in the transaction
    that queues the customer's e-mail and SMS, so they are queued once. The
    coded XML is the authority's own returned ``HDon``, signed by it in
    ``DSCKS/CQT`` (``authority_signed``), when the 202 carried it; otherwise
    ours with the code put in. ``coded_xml_sha256`` is checked before delivery.
    """

    __tablename__ = "tax_invoice_code"
    invoice_id: str = Field(primary_key=True, max_length=36)
    message_id: str = Field(max_length=46, index=True)
    code: str | None = Field(default=None, max_length=34)
    coded_xml_path: str | None = Field(default=None, max_length=500)
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    coded_pdf_path: str | None = Field(default=None, max_length=500)
    coded_xml_sha256: str | None = Field(default=None, max_length=64)
    authority_signed: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
