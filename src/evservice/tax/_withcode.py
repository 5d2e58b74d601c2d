"""The life of an invoice of a coded series: queued for its code, delivered once it has one.

Which series are coded is a setting, ``EVSERVICE_TAX_CODED_SERIES`` (template
and series, ``1C26TAA,1C26TAB``; :attr:`evservice.config.Settings.coded_series`),
not the series' letter: the batch's default series ``C<yy>TEV`` is used by
sellers who report by summary table, so "every C series" would send invoices
for codes that nobody asked for. Every listed series must be a ``C`` series.

* :func:`request_code` queues one issued, signed invoice as message 200, once
  (a second call gives the same message id);
* :func:`queue_coded` is the sweep: every invoice of a coded series that has
  its documents and was never queued is queued, once (run by ``evservice tax
  send``, after ``evservice invoice batch``; ``evservice invoice issue`` queues
  the invoice it issued);
* :func:`deliver_coded` hands the coded invoices to the customer once their
  code has come back (message 202, :mod:`._outbox`): it renders the PDF that
  prints the code and carries the coded XML (signed again by the seller),
  stores it beside the coded XML as the documents of record, and queues the
  e-mail (PDF and coded XML attached) and the SMS in the delivery outbox, with
  the ``tax.invoice.delivered`` audit event, in one transaction, once.

Until its code arrives an invoice is "waiting for code": the batch does not
deliver invoices of coded series (:mod:`evservice.batch._notices`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.delivery import Message, invoice_email, invoice_sms
from evservice.delivery import enqueue as enqueue_message
from evservice.errors import DocumentError, SigningError, StoreError, ValidationError
from evservice.invoices import IssuedInvoice, get, list_invoices, render_coded_pdf
from evservice.signing import parse_xml
from evservice.store import transaction
from evservice.tax._format import taxpayer
from evservice.tax._outbox import enqueue
from evservice.tax._tables import TaxInvoiceCodeRow

__all__ = ["CodedDelivery", "deliver_coded", "queue_coded", "request_code"]

#: Invoices read at a time by the sweep.
_PAGE = 1000


def _queue(ctx: Context, issued: IssuedInvoice, tax_code: str) -> str:
    """Queue ``issued`` (message 200) unless it was; its message id."""
    if issued.xml_path is None:
        raise ValidationError("invoice_key", f"the documents of {issued.label} are not written")
    try:
        signed = issued.xml_path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the XML of {issued.label}: {exc.strerror}") from exc
    try:
        with transaction(ctx.engine) as session:
            known = session.get(TaxInvoiceCodeRow, issued.row_id)
            if known is not None:
                return known.message_id
            message_id = enqueue(
                session, kind="200", subject_id=issued.row_id, signed=signed,
                tax_code=tax_code, ctx=ctx,
            )  # fmt: skip
            session.add(TaxInvoiceCodeRow(invoice_id=issued.row_id, message_id=message_id))
            session.flush()
            return message_id
    except StoreError as exc:
        if not isinstance(exc.__cause__, IntegrityError):
            raise
    with transaction(ctx.engine) as session:  # a concurrent sweep queued it first
        row = session.get(TaxInvoiceCodeRow, issued.row_id)
        if row is None:
            raise StoreError(f"invoice {issued.label} could not be queued for its code")
        return row.message_id


def request_code(invoice_key: str, *, ctx: Context | None = None) -> str:
    """Queue an invoice's signed XML for the authority's code (message 200); the message id.

    The invoice's template and series must be listed in
    ``EVSERVICE_TAX_CODED_SERIES``; its documents must exist. Asking twice gives
    the same message. The answer (202) stores the code and writes the coded XML
    (:func:`evservice.tax.invoice_code`).
    """
    ctx = resolve(ctx)
    issued = get(invoice_key, ctx=ctx)
    draft = issued.invoice.draft
    if not ctx.settings.is_coded(draft.template, draft.series):
        raise ValidationError(
            "invoice_key",
            f"{issued.label} is not of a coded series (EVSERVICE_TAX_CODED_SERIES lists "
            f"{', '.join(sorted(ctx.settings.coded_series)) or 'none'})",
        )
    tax_code, _ = taxpayer(ctx)
    return _queue(ctx, issued, tax_code)


def queue_coded(ctx: Context | None = None) -> list[str]:
    """Queue every signed invoice of a coded series not queued before; the new message ids.

    Idempotent: an invoice is queued once (``tax_invoice_code`` is keyed by the
    invoice), so a rerun queues nothing and :func:`request_code` gives the same
    id. Invoices whose documents are still pending are left for a later sweep.
    """
    ctx = resolve(ctx)
    coded = sorted(ctx.settings.coded_series)
    if not coded:
        return []
    tax_code, _ = taxpayer(ctx)
    queued: list[str] = []
    for entry in coded:
        offset = 0
        while page := list_invoices(
            ctx=ctx, template=entry[0], series=entry[1:], limit=_PAGE, offset=offset
        ):
            offset += len(page)
            ids = [issued.row_id for issued in page]
            with transaction(ctx.engine) as session:
                known = set(
                    session.exec(
                        select(TaxInvoiceCodeRow.invoice_id).where(
                            col(TaxInvoiceCodeRow.invoice_id).in_(ids)
                        )
                    ).all()
                )
            for issued in page:
                if issued.row_id not in known and issued.has_documents:
                    queued.append(_queue(ctx, issued, tax_code))
    return queued


@dataclass(frozen=True)
class CodedDelivery:
    """What one :func:`deliver_coded` did: invoices handed over, messages queued.

    ``failed`` names the invoices left pending, with why (their coded XML is
    missing, unreadable, not the file stored, or its PDF could not be made).
    """

    invoices: int = 0
    emails: int = 0
    sms: int = 0
    undeliverable: int = 0
    failed: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "invoices": self.invoices, "emails": self.emails, "sms": self.sms,
            "undeliverable": self.undeliverable,
            "failed": [{"invoice": label, "reason": reason} for label, reason in self.failed],
        }  # fmt: skip


def _messages(
    ctx: Context, issued: IssuedInvoice, pdf: bytes, xml: bytes
) -> tuple[list[Message], int]:
    """The e-mail and SMS of a coded invoice (ids fixed per invoice), and how many could not be."""
    invoice = issued.invoice
    buyer = invoice.draft.buyer
    due = invoice.draft.issue_date + timedelta(days=ctx.settings.payment_due_days)
    base = invoice.id.hex
    messages: list[Message] = []
    undeliverable = 0
    if buyer.email:
        try:
            email = invoice_email(
                to=buyer.email, customer_name=buyer.person_name or buyer.name or "",
                seller_name=invoice.draft.seller.name, invoice_label=issued.label,
                amount=invoice.totals.payable, due_date=due, lookup_code=issued.lookup_code,
                lookup_url=ctx.settings.lookup_url, pdf=pdf, xml=xml,
            )  # fmt: skip
            messages.append(dataclasses.replace(email, id=f"{base}-ce"))
        except ValidationError:
            undeliverable += 1
    if buyer.phone:
        try:
            sms = invoice_sms(
                to=buyer.phone, invoice_label=issued.label, amount=invoice.totals.payable,
                due_date=due, lookup_code=issued.lookup_code, lookup_url=ctx.settings.lookup_url,
            )  # fmt: skip
            messages.append(dataclasses.replace(sms, id=f"{base}-cs"))
        except ValidationError:
            undeliverable += 1
    return messages, undeliverable


def _coded_xml(ctx: Context, row: TaxInvoiceCodeRow) -> bytes:
    """The coded XML of record, checked: readable, the file stored, an HDon with the code."""
    path = ctx.data_dir / (row.coded_xml_path or "")
    try:
        xml = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the coded XML {path.name}: {exc.strerror}") from exc
    try:
        root = parse_xml(xml)
    except DocumentError as exc:
        raise DocumentError(f"the coded XML {path.name} is damaged: {exc}") from exc
    if row.coded_xml_sha256 and hashlib.sha256(xml).hexdigest() != row.coded_xml_sha256:
        raise DocumentError(f"the coded XML {path.name} is not the one stored (SHA-256 differs)")
    if root.tag != "HDon" or (root.findtext("MCCQT") or "").strip() != row.code:
        raise DocumentError(f"the coded XML {path.name} is not an HDon carrying its code")
    return xml


def _label(ctx: Context, invoice_id: str) -> str:
    try:
        return get(invoice_id, ctx=ctx).label
    except (ValidationError, StoreError):
        return invoice_id


def _deliver_one(ctx: Context, row: TaxInvoiceCodeRow) -> tuple[list[str], int] | None:
    """Render, store and queue one coded invoice; the kinds queued, or None if done before."""
    if row.code is None or row.coded_xml_path is None:
        raise StoreError(f"invoice {row.invoice_id} has no code to deliver")
    issued = get(row.invoice_id, ctx=ctx)
    xml = _coded_xml(ctx, row)
    pdf = render_coded_pdf(issued.invoice, xml, row.code, ctx=ctx)
    messages, undeliverable = _messages(ctx, issued, pdf, xml)
    relative = Path(row.coded_xml_path).with_suffix(".pdf")
    with transaction(ctx.engine) as session:
        locked = session.get(TaxInvoiceCodeRow, row.invoice_id, with_for_update=True)
        if locked is None or locked.delivered_at is not None:
            return None
        write_atomically(ctx.data_dir / relative, pdf)
        for message in messages:
            enqueue_message(session, message, ctx=ctx)
        now = ctx.clock.now()
        locked.coded_pdf_path, locked.delivered_at = relative.as_posix(), now
        session.add(locked)
        audit.record(
            session, type="tax.invoice.delivered", subject=row.invoice_id, actor="system", at=now,
            data={"invoice": issued.label, "code": row.code,
                  "channels": sorted(m.kind for m in messages),
                  "messages": [m.id for m in messages], "undeliverable": undeliverable},
        )  # fmt: skip
    return [m.kind for m in messages], undeliverable


def deliver_coded(ctx: Context | None = None, *, limit: int = 1000) -> CodedDelivery:
    """Hand over the invoices whose code came back and that were not handed over yet.

    Each gets its coded PDF (printing the MCCQT, carrying the coded XML, signed
    again) written beside the coded XML, and its e-mail (to the buyer's
    ``DCTDTu``) and SMS (to the buyer's ``SDThoai``) queued in the delivery
    outbox, due ``EVSERVICE_PAYMENT_DUE_DAYS`` after the issue date. The row's
    ``delivered_at``, the outbox rows and the ``tax.invoice.delivered`` event
    share one transaction: a rerun or a twin process queues nothing twice.

    An invoice whose coded XML is missing, unreadable, not the file stored
    (its SHA-256) or not an ``HDon`` with its code stops nothing: it is named
    in :attr:`CodedDelivery.failed` with the reason and left pending, and the
    others are delivered.
    """
    ctx = resolve(ctx)
    if not 1 <= limit <= 10_000:
        raise ValidationError("limit", "must be between 1 and 10000")
    query = (
        select(TaxInvoiceCodeRow)
        .where(
            col(TaxInvoiceCodeRow.code).is_not(None), col(TaxInvoiceCodeRow.delivered_at).is_(None)
        )
        .order_by(col(TaxInvoiceCodeRow.received_at), col(TaxInvoiceCodeRow.invoice_id))
        .limit(limit)
    )
    with transaction(ctx.engine) as session:
        rows: Sequence[TaxInvoiceCodeRow] = session.exec(query).all()
    invoices = emails = sms = undeliverable = 0
    failed: list[tuple[str, str]] = []
    for row in rows:
        try:
            done = _deliver_one(ctx, row)
        except (DocumentError, ValidationError, SigningError) as exc:
            failed.append((_label(ctx, row.invoice_id), str(exc)[:300]))  # left pending
            continue
        if done is None:
            continue
        kinds, bad = done
        invoices += 1
        emails += kinds.count("email")
        sms += kinds.count("sms")
        undeliverable += bad
    return CodedDelivery(
        invoices=invoices, emails=emails, sms=sms, undeliverable=undeliverable,
        failed=tuple(failed),
    )  # fmt: skip
