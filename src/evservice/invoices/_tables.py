"""Tables of the invoices domain (Alembic branch ``invoices``)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["InvoiceRow", "SeriesCounter"]


class SeriesCounter(SQLModel, table=True):
    """The last number given in a (template, series), and the date it was given on.

    Locked row by row while a number is taken so that numbers stay gapless, and
    the date lets the next issue refuse to go back in time within the series.
    """

    __tablename__ = "invoice_series_counter"
    template: str = Field(primary_key=True, max_length=1)
    series: str = Field(primary_key=True, max_length=6)
    last_number: int = Field(default=0, sa_type=sa.BigInteger)
    last_issue_date: date | None = None


class InvoiceRow(SQLModel, table=True):
    """One issued invoice. Never deleted; after the insert only ``status`` changes,
    and the document columns (paths, hashes) are filled once when the files exist.

    ``draft_json`` is the draft exactly as issued (Decimals as strings): with the
    number, lookup code and ``issued_at`` it is all that is needed to render the
    documents again. ``buyer_name``, ``buyer_tax_code`` and ``draft_json`` are
    sealed (``evservice.privacy``) under the retention key: the law keeps
    issued invoices, so ``privacy forget`` leaves them readable.
    """

    __tablename__ = "invoice"
    __table_args__ = (
        sa.UniqueConstraint("template", "series", "number", name="uq_invoice_number"),
    )
    id: str = Field(primary_key=True, max_length=36)
    template: str = Field(max_length=1)
    series: str = Field(max_length=6)
    number: int = Field(sa_type=sa.BigInteger)
    reference: str | None = Field(default=None, max_length=100, unique=True)
    lookup_code: str = Field(max_length=20, unique=True)
    issue_date: date
    issued_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=16, index=True)
    buyer_name: str | None = Field(default=None, sa_type=sa.Text)
    buyer_tax_code: str | None = Field(default=None, max_length=100)
    total_payable: int = Field(sa_type=sa.BigInteger)
    draft_json: str = Field(sa_type=sa.Text)
    xml_path: str | None = Field(default=None, max_length=500)
    pdf_path: str | None = Field(default=None, max_length=500)
    xml_sha256: str | None = Field(default=None, max_length=64)
    pdf_sha256: str | None = Field(default=None, max_length=64)
    correction_kind: int | None = None
    corrects_id: str | None = Field(
        default=None, foreign_key="invoice.id", max_length=36, index=True
    )
