"""Issued invoices as stored (:class:`IssuedInvoice`), and reading them back.

An invoice is found by its id, its lookup code or its label
(``1C26TAA-00000123``); :func:`list_invoices` lists a series in number order.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from evservice import privacy
from evservice._context import Context, resolve
from evservice._pydantic import parse_model
from evservice.errors import (
    NotFoundError,
    StoreError,
    ValidationError,
)
from evservice.invoices import _lookup
from evservice.invoices._identifiers import validate_series, validate_template
from evservice.invoices._model import Invoice, InvoiceDraft, InvoiceStatus
from evservice.invoices._tables import InvoiceRow
from evservice.store import transaction

if TYPE_CHECKING:
    pass


__all__ = [
    "SEALED_COLUMNS",
    "IssuedInvoice",
    "find_row",
    "get",
    "list_invoices",
    "stored_draft",
    "to_issued",
]

_LABEL = re.compile(r"^([1-6])([CK][0-9]{2}[A-Z]{3})-?([0-9]{1,8})$")


@dataclass(frozen=True)
class IssuedInvoice:
    """An invoice as stored: the model, where its documents are, and what it corrects.

    ``xml_path`` and ``pdf_path`` are absolute (under ``data_dir``) and ``None``
    while the documents are pending (see :func:`complete_pending`). ``created``
    is True only for the call that issued it; a repeated reference gives False.
    """

    invoice: Invoice
    xml_path: Path | None
    pdf_path: Path | None
    xml_sha256: str | None
    pdf_sha256: str | None
    corrects_id: str | None = None
    created: bool = False

    @property
    def row_id(self) -> str:
        """The id of the invoice's row (the string form of ``invoice.id``)."""
        return str(self.invoice.id)

    @property
    def number(self) -> int:
        return self.invoice.number

    @property
    def label(self) -> str:
        """``1C26TAA-00000123``."""
        return self.invoice.label

    @property
    def lookup_code(self) -> str:
        """As printed, ``7KQ4-MZ2X-9HTQ``."""
        return self.invoice.lookup_code

    @property
    def status(self) -> InvoiceStatus:
        return self.invoice.status

    @property
    def has_documents(self) -> bool:
        """True once the XML and the PDF are written and recorded."""
        return self.xml_path is not None and self.pdf_path is not None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (no personal data beyond what the invoice shows)."""
        d = self.invoice.draft
        totals = self.invoice.totals
        return {
            "id": self.row_id,
            "label": self.label,
            "template": d.template,
            "series": d.series,
            "number": self.number,
            "lookup_code": self.lookup_code,
            "issue_date": d.issue_date.isoformat(),
            "issued_at": self.invoice.issued_at.isoformat(),
            "status": self.status.value,
            "reference": d.reference,
            "total_before_tax": str(totals.before_tax),
            "total_tax": str(totals.tax),
            "total_payable": str(totals.payable),
            "corrects_id": self.corrects_id,
            "correction_kind": None if d.related is None else d.related.kind.name.lower(),
            "xml": None if self.xml_path is None else str(self.xml_path),
            "pdf": None if self.pdf_path is None else str(self.pdf_path),
            "xml_sha256": self.xml_sha256,
            "pdf_sha256": self.pdf_sha256,
        }


# -- reading rows ---------------------------------------------------------------------


#: Columns of ``invoice`` sealed under the retention key.
SEALED_COLUMNS = ("buyer_name", "buyer_tax_code", "draft_json")


def stored_draft(row: Any, ctx: Context, conn: Connection | None = None) -> str:
    """The draft JSON of an invoice row, opened if it is sealed."""
    place = privacy.FieldPlace("invoice", "draft_json", str(row.id))
    return privacy.keyring(ctx).open(row.draft_json, place, conn) or ""


def to_issued(row: InvoiceRow, ctx: Context, *, created: bool = False) -> IssuedInvoice:
    """Read a row back into the model (the stored draft is opened and validated again)."""
    try:
        draft = parse_model(InvoiceDraft, stored_draft(row, ctx), prefix="draft")
    except ValidationError as exc:
        raise StoreError(f"the stored draft of invoice {row.id} does not validate: {exc}") from exc
    invoice = Invoice(
        id=uuid.UUID(row.id),
        draft=draft,
        number=row.number,
        lookup_code=row.lookup_code,
        issued_at=row.issued_at,
        status=InvoiceStatus(row.status),
    )
    data_dir = ctx.data_dir
    return IssuedInvoice(
        invoice=invoice,
        xml_path=None if row.xml_path is None else data_dir / row.xml_path,
        pdf_path=None if row.pdf_path is None else data_dir / row.pdf_path,
        xml_sha256=row.xml_sha256,
        pdf_sha256=row.pdf_sha256,
        corrects_id=row.corrects_id,
        created=created,
    )


def find_row(session: Session, key: str | uuid.UUID) -> InvoiceRow:
    """The row named by an id, a lookup code or a label (``1C26TAA-00000123``)."""
    if isinstance(key, uuid.UUID):
        row = session.get(InvoiceRow, str(key))
        if row is None:
            raise NotFoundError(f"no invoice with id {key}")
        return row
    text = str(key).strip()
    with contextlib.suppress(ValueError):
        return find_row(session, uuid.UUID(text))
    label = _LABEL.match(text.upper())
    if label:
        template, series, number = label.groups()
        found = session.exec(
            select(InvoiceRow).where(
                InvoiceRow.template == template,
                InvoiceRow.series == series,
                InvoiceRow.number == int(number),
            )
        ).first()
        if found is None:
            raise NotFoundError(f"no invoice {template}{series}-{int(number):08d}")
        return found
    if _lookup.is_valid(text):
        code = _lookup.format(_lookup.validate(text))
        found = session.exec(select(InvoiceRow).where(InvoiceRow.lookup_code == code)).first()
        if found is None:
            raise NotFoundError(f"no invoice with lookup code {code}")
        return found
    raise ValidationError(
        "key", "is neither an invoice id, a label like 1C26TAA-00000123 nor a lookup code"
    )


def get(key: str | uuid.UUID, *, ctx: Context | None = None) -> IssuedInvoice:
    """The invoice with this id, lookup code or label; :class:`NotFoundError` if none."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = find_row(session, key)
    return to_issued(row, ctx)


def list_invoices(
    *,
    ctx: Context | None = None,
    template: str | None = None,
    series: str | None = None,
    status: InvoiceStatus | str | None = None,
    issued_from: date | None = None,
    issued_to: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[IssuedInvoice]:
    """Invoices in number order, filtered by template, series, status and issue dates."""
    ctx = resolve(ctx)
    if not 1 <= limit <= 10_000:
        raise ValidationError("limit", "must be between 1 and 10000")
    if offset < 0:
        raise ValidationError("offset", "must not be negative")
    query = select(InvoiceRow)
    if template is not None:
        query = query.where(InvoiceRow.template == validate_template(template))
    if series is not None:
        query = query.where(InvoiceRow.series == validate_series(series))
    if status is not None:
        try:
            wanted = InvoiceStatus(status)
        except ValueError as exc:
            choices = ", ".join(s.value for s in InvoiceStatus)
            raise ValidationError("status", f"must be one of {choices}") from exc
        query = query.where(InvoiceRow.status == wanted.value)
    if issued_from is not None:
        query = query.where(InvoiceRow.issue_date >= issued_from)
    if issued_to is not None:
        query = query.where(InvoiceRow.issue_date <= issued_to)
    query = query.order_by(col(InvoiceRow.template), col(InvoiceRow.series), col(InvoiceRow.number))
    with transaction(ctx.engine) as session:
        rows = session.exec(query.offset(offset).limit(limit)).all()
    return [to_issued(row, ctx) for row in rows]
