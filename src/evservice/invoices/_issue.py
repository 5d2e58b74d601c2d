"""Issuing invoices: number, store, render; and reading them back.

:func:`issue` runs in two steps:

1. :func:`record_invoice`, one transaction: the next number of the series
   (:func:`~evservice.invoices._numbering.next_number`), a fresh lookup code and
   the invoice row (status ``issued``) with the draft exactly as given. A
   rollback gives the number back, so a series never has gaps.
2. The documents: :func:`render_documents` makes the XML and the PDF from the
   stored invoice alone, and they are written atomically (temporary file, fsync,
   rename) under ``data_dir/invoices/<year>/<template><series>/<number>.xml|.pdf``;
   their relative paths and SHA-256 go into the row.

Crash safety: if the process dies between the two steps, the row is committed
and its document columns are empty. Issuing the same ``reference`` again, or
:func:`complete_pending`, renders the missing documents from the row: the
documents are a function of the stored draft, the number, the lookup code and
the issue time, nothing else.

Idempotency: a draft whose ``reference`` was already issued gives back that
invoice (same number, same lookup code), whatever else the new draft says; this
holds when two processes issue the same reference at the same time (the unique
constraint decides, and the loser returns the winner's invoice).

The directory is named after template and series together (``1C26TAA``)
because numbers are unique per (template, series), not per series alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import StagedFiles, sweep_staging, write_atomically
from evservice._pydantic import parse_model
from evservice.clock import vn_date
from evservice.errors import (
    DocumentError,
    EvServiceError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from evservice.invoices import _lookup
from evservice.invoices._identifiers import format_number, validate_series, validate_template
from evservice.invoices._model import CorrectionKind, Invoice, InvoiceDraft, InvoiceStatus
from evservice.invoices._numbering import next_numbers
from evservice.invoices._tables import InvoiceRow
from evservice.payments import PaymentAccount
from evservice.store import is_sqlite, transaction

if TYPE_CHECKING:
    from evservice.payments import VietQR

__all__ = [
    "IssuedInvoice",
    "complete_pending",
    "ensure_documents",
    "ensure_many_documents",
    "get",
    "issue",
    "list_invoices",
    "record_invoice",
    "record_invoices",
    "render_documents",
    "render_to",
    "store_documents",
    "store_many_documents",
]

#: Transactions retried after losing a race on a unique constraint.
_ATTEMPTS = 5
_LABEL = re.compile(r"^([1-6])([CK][0-9]{2}[A-Z]{3})-?([0-9]{1,8})$")
_TABLE: sa.Table = InvoiceRow.__table__  # type: ignore[attr-defined]
# Statements of the issuing transaction, built once.
_TAKEN_LOOKUP_CODES = sa.select(_TABLE.c.lookup_code).where(
    _TABLE.c.lookup_code.in_(sa.bindparam("codes", expanding=True))
)
_INSERT = sa.insert(_TABLE)


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


def _to_issued(row: InvoiceRow, ctx: Context, *, created: bool = False) -> IssuedInvoice:
    """Read a row back into the model (the stored draft is validated again)."""
    try:
        draft = parse_model(InvoiceDraft, row.draft_json, prefix="draft")
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


def _find_row(session: Session, key: str | uuid.UUID) -> InvoiceRow:
    """The row named by an id, a lookup code or a label (``1C26TAA-00000123``)."""
    if isinstance(key, uuid.UUID):
        row = session.get(InvoiceRow, str(key))
        if row is None:
            raise NotFoundError(f"no invoice with id {key}")
        return row
    text = str(key).strip()
    with contextlib.suppress(ValueError):
        return _find_row(session, uuid.UUID(text))
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
        row = _find_row(session, key)
    return _to_issued(row, ctx)


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
    return [_to_issued(row, ctx) for row in rows]


# -- numbering and storing ------------------------------------------------------------


class _AlreadyIssued(Exception):
    """Raised inside the transaction to roll it back when the reference turned up."""

    def __init__(self, row: InvoiceRow) -> None:
        self.row = row


@dataclass(frozen=True)
class _Correction:
    """What an issue corrects: set by :mod:`evservice.invoices._corrections`.

    ``mark_original`` runs first in the transaction (so locks are always taken
    original row, then series counter): it locks the original, checks that it
    may be corrected and sets its new status.
    """

    original_id: str
    kind: CorrectionKind
    mark_original: Callable[[Session], None]


def _check_issue_date(draft: InvoiceDraft, ctx: Context) -> None:
    today = vn_date(ctx.clock.now())
    if draft.issue_date > today:
        raise ValidationError(
            "issue_date",
            f"{draft.issue_date.isoformat()} is after today ({today.isoformat()} in Vietnam); "
            "an invoice cannot be dated in the future",
        )


def _fresh_lookup_codes(session: Session, count: int) -> list[str]:
    """``count`` distinct lookup codes not used in the store yet (one query per draw).

    A code is 12 characters of a 31-symbol alphabet with a check character: a
    collision is rare, and a colliding code is just drawn again.
    """
    codes: list[str] = []
    for _ in range(_ATTEMPTS):
        wanted = count - len(codes)
        if wanted == 0:
            return codes
        drawn = {_lookup.format(_lookup.generate()) for _ in range(wanted)} - set(codes)
        taken = set(session.execute(_TAKEN_LOOKUP_CODES, {"codes": sorted(drawn)}).scalars())
        codes.extend(sorted(drawn - taken))
    if len(codes) == count:
        return codes
    raise StoreError(f"no free lookup code after {_ATTEMPTS} draws; is the random source broken?")


def _existing(row: InvoiceRow, ctx: Context, correction: _Correction | None) -> IssuedInvoice:
    """The invoice already issued under a reference, if it is what this call asks for."""
    if correction is not None and (
        row.corrects_id != correction.original_id or row.correction_kind != correction.kind
    ):
        raise ValidationError(
            "reference",
            f"was already used by invoice {row.id}, which is not a "
            f"{correction.kind.name.lower()} of invoice {correction.original_id}",
        )
    return _to_issued(row, ctx)


#: Runs inside the issuing transaction, after the rows are inserted, with the invoices
#: this call created (the batch keeps its credit balances and consumption history
#: there, atomically with the invoices). Not called for references issued before.
RecordHook = Callable[[Session, Sequence[Invoice]], None]


class _TwinsCommitted(Exception):
    """Raised inside the transaction to roll it back: a twin issued some of the references."""


def _events(
    invoice: Invoice,
    draft_json: str,
    values: dict[str, Any],
    correction: _Correction | None,
) -> list[audit.NewEvent]:
    """What the audit log says of an issue: identifiers, total and hashes only.

    A correction adds the original's status change (``invoice.replaced`` or
    ``invoice.adjusted``) under the original's id.
    """
    data: dict[str, Any] = {
        "invoice": invoice.label,
        "issue_date": invoice.draft.issue_date,
        "total_payable": values["total_payable"],
        "draft_sha256": hashlib.sha256(draft_json.encode()).hexdigest(),
    }
    at = values["issued_at"]
    if correction is None:
        return [audit.NewEvent("invoice.issued", values["id"], "system", at, data)]
    status = "replaced" if correction.kind is CorrectionKind.REPLACEMENT else "adjusted"
    data["corrects"] = correction.original_id
    return [
        audit.NewEvent("invoice.issued", values["id"], "system", at, data),
        audit.NewEvent(
            f"invoice.{status}", correction.original_id, "system", at, {"by": invoice.label}
        ),
    ]


def _issued_rows(session: Session, references: Sequence[str]) -> dict[str, InvoiceRow]:
    """The rows already issued under any of ``references``, detached from the session."""
    if not references:
        return {}
    rows = session.exec(select(InvoiceRow).where(col(InvoiceRow.reference).in_(references))).all()
    for row in rows:
        session.expunge(row)  # keep them readable after the transaction
    return {row.reference: row for row in rows if row.reference is not None}


def _take_numbers(session: Session, drafts: Sequence[InvoiceDraft]) -> list[int]:
    """Numbers for ``drafts`` in their order: consecutive per series, following the dates.

    Counters are locked in one order, (template, series), by every caller, so two
    callers numbering several series never deadlock; within a series, earlier
    issue dates get the lower numbers.
    """
    numbers = [0] * len(drafts)
    groups: dict[tuple[str, str, date], list[int]] = {}
    for index, draft in enumerate(drafts):
        groups.setdefault((draft.template, draft.series, draft.issue_date), []).append(index)
    for (template, series, issue_date), indexes in sorted(groups.items()):
        first = next_numbers(session, template, series, len(indexes), issue_date=issue_date)
        for offset, index in enumerate(indexes):
            numbers[index] = first + offset
    return numbers


def _record(
    drafts: Sequence[InvoiceDraft],
    ctx: Context,
    correction: _Correction | None = None,
    on_recorded: RecordHook | None = None,
) -> list[IssuedInvoice]:
    """Number and store ``drafts`` in one transaction (retried after a lost race).

    Drafts whose reference was issued before come back as that invoice; the
    others get consecutive numbers, fresh lookup codes, their rows and their
    ``invoice.issued`` audit events, all in the same transaction. A correction
    (one draft only) also marks the original.
    """
    if correction is not None and len(drafts) != 1:
        raise ValueError("a correction issues exactly one draft")  # a programming error
    for draft in drafts:
        _check_issue_date(draft, ctx)
    references = [d.reference for d in drafts if d.reference is not None]
    if len(set(references)) != len(references):
        twice = next(r for r in references if references.count(r) > 1)
        raise ValidationError("drafts", f"reference {twice!r} appears more than once")
    draft_jsons = [draft.model_dump_json() for draft in drafts]
    for attempt in range(_ATTEMPTS):
        try:
            with transaction(ctx.engine) as session:
                issued = _issued_rows(session, references)
                fresh = [i for i, d in enumerate(drafts) if d.reference not in issued]
                created = _insert(session, ctx, drafts, draft_jsons, fresh, correction)
                if on_recorded is not None and created:
                    on_recorded(session, [invoice for invoice, _ in created.values()])
                # Last in the transaction: the log's head is the most contended lock.
                audit.record_many(
                    session,
                    [
                        event
                        for i, (invoice, values) in created.items()
                        for event in _events(invoice, draft_jsons[i], values, correction)
                    ],
                )
        except _TwinsCommitted:
            continue  # the next attempt finds the twins' rows in its first query
        except StoreError as exc:
            # A unique constraint (reference, lookup code) lost a race with another
            # transaction: nothing was kept, so look again and retry.
            if isinstance(exc.__cause__, IntegrityError) and attempt + 1 < _ATTEMPTS:
                continue
            raise
        results: list[IssuedInvoice] = []
        for index, draft in enumerate(drafts):
            if index in created:
                invoice, values = created[index]
                results.append(
                    IssuedInvoice(
                        invoice=invoice,
                        xml_path=None,
                        pdf_path=None,
                        xml_sha256=None,
                        pdf_sha256=None,
                        corrects_id=values.get("corrects_id"),
                        created=True,
                    )
                )
            else:
                assert draft.reference is not None  # noqa: S101 - only references repeat
                results.append(_existing(issued[draft.reference], ctx, correction))
        return results
    raise StoreError(f"could not issue after {_ATTEMPTS} attempts")  # pragma: no cover


def _insert(
    session: Session,
    ctx: Context,
    drafts: Sequence[InvoiceDraft],
    draft_jsons: Sequence[str],
    fresh: Sequence[int],
    correction: _Correction | None,
) -> dict[int, tuple[Invoice, dict[str, Any]]]:
    """Number and insert the drafts at the ``fresh`` indexes; by index, what was made."""
    if not fresh:
        return {}
    if correction is not None:
        correction.mark_original(session)
    codes = _fresh_lookup_codes(session, len(fresh))  # before the counter lock: keep it short
    numbers = _take_numbers(session, [drafts[i] for i in fresh])
    if not is_sqlite(ctx.engine):
        # The counter lock serialises the issuers of a series: a twin that committed
        # while we waited for it is visible now. Rolling back gives the numbers back.
        # (SQLite has one writer at a time: the first query already saw everything.)
        wanted = [r for i in fresh if (r := drafts[i].reference) is not None]
        if _issued_rows(session, wanted):
            raise _TwinsCommitted
    rows: list[dict[str, Any]] = []
    created: dict[int, tuple[Invoice, dict[str, Any]]] = {}
    for index, number, code in zip(fresh, numbers, codes, strict=True):
        values = _row_values(drafts[index], draft_jsons[index], ctx, number, code)
        if correction is not None:
            values["corrects_id"] = correction.original_id
            values["correction_kind"] = int(correction.kind)
        rows.append(values)
        invoice = Invoice(
            id=uuid.UUID(values["id"]),
            draft=drafts[index],
            number=number,
            lookup_code=code,
            issued_at=values["issued_at"],
        )
        created[index] = (invoice, values)
    session.execute(_INSERT, rows)
    return created


def _row_values(
    draft: InvoiceDraft, draft_json: str, ctx: Context, number: int, lookup_code: str
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "template": draft.template,
        "series": draft.series,
        "number": number,
        "reference": draft.reference,
        "lookup_code": lookup_code,
        "issue_date": draft.issue_date,
        "issued_at": ctx.clock.now(),
        "status": InvoiceStatus.ISSUED.value,
        "buyer_name": draft.buyer.name or draft.buyer.person_name,
        "buyer_tax_code": draft.buyer.tax_code,
        "total_payable": int(draft.totals().payable),
        "draft_json": draft_json,
    }


def record_invoice(
    draft: InvoiceDraft | dict[str, Any] | str,
    *,
    ctx: Context | None = None,
    on_recorded: RecordHook | None = None,
) -> IssuedInvoice:
    """Number and store an invoice in one transaction, without making its documents.

    This is the transactional half of :func:`issue`. The invoice's documents stay
    pending until :func:`issue` with the same reference, :func:`ensure_documents`
    or :func:`complete_pending` renders them.
    """
    ctx = resolve(ctx)
    return _record([parse_model(InvoiceDraft, draft)], ctx, None, on_recorded)[0]


def record_invoices(
    drafts: Sequence[InvoiceDraft | dict[str, Any] | str],
    *,
    ctx: Context | None = None,
    on_recorded: RecordHook | None = None,
) -> list[IssuedInvoice]:
    """:func:`record_invoice` for many drafts in one transaction (as the batch does).

    The numbers are consecutive per series (in the drafts' order, earlier issue
    dates first) and the whole run commits or none of it: one lock, one insert
    and one audit append instead of one each per invoice. Drafts whose reference
    was issued before come back as that invoice (``created`` False). A bad draft
    raises :class:`ValidationError` naming ``drafts.<index>.<field>`` before anything
    is stored.
    """
    ctx = resolve(ctx)
    parsed = [parse_model(InvoiceDraft, d, prefix=f"drafts.{i}") for i, d in enumerate(drafts)]
    for index, draft in enumerate(parsed):
        try:
            _check_issue_date(draft, ctx)
        except ValidationError as exc:
            raise ValidationError(f"drafts.{index}.{exc.field}", exc.reason) from None
    return _record(parsed, ctx, None, on_recorded)


def issue(
    draft: InvoiceDraft | dict[str, Any] | str, *, ctx: Context | None = None
) -> IssuedInvoice:
    """Issue an invoice: number it, store it, write its XML and PDF.

    ``draft`` is an :class:`InvoiceDraft`, a dict or JSON text. Bad drafts raise
    :class:`ValidationError` naming the field; an issue date earlier than the last
    one of the series raises :class:`SeriesOrderError`. A draft whose reference
    was already issued returns that invoice (its documents completed if a crash
    had left them missing).
    """
    ctx = resolve(ctx)
    issued = record_invoice(draft, ctx=ctx)
    return ensure_documents(issued, ctx=ctx)


# -- documents ------------------------------------------------------------------------


def payment_code(invoice: Invoice, ctx: Context | None = None) -> VietQR | None:
    """The VietQR printed on ``invoice``: its total, to the draft's or the settings' payee.

    ``None`` when neither the draft nor the settings name a bank account, or
    when nothing is payable (a decreasing adjustment).
    """
    from evservice.payments import PayeeAccount, vietqr_for_invoice

    ctx = resolve(ctx)
    payable = invoice.totals.payable
    if payable <= 0:
        return None
    account: PayeeAccount | PaymentAccount | None = invoice.draft.payment
    if account is None and ctx.settings.payee_bank_bin and ctx.settings.payee_account:
        account = PayeeAccount.from_settings(ctx.settings)
    if account is None:
        return None
    return vietqr_for_invoice(
        account,
        payable,
        series=invoice.draft.series,
        number=invoice.number,
        lookup_code=invoice.lookup_code,
    )


def _payment_lines(code: VietQR, invoice: Invoice, ctx: Context) -> list[str]:
    from evservice.payments import payment_lines

    payee = invoice.draft.payment
    name = payee.account_name if payee is not None else ctx.settings.payee_name
    return payment_lines(code, name)


def render_documents(invoice: Invoice, ctx: Context | None = None) -> tuple[bytes, bytes]:
    """The invoice's signed XML (tax authority format) and its signed PDF, as bytes.

    The XML gets the seller's XMLDSig in ``DSCKS/NBan``; the PDF carries the
    VietQR payment code and that signed XML as an attached file, and is then
    PAdES-signed in the box reserved for the stamp. The signer is loaded once
    per process (:func:`evservice.signing.load_signer`).
    """
    # Imported on first use: processes that only number invoices never load reportlab.
    from evservice.invoices._pdf import render_invoice_pdf
    from evservice.invoices._xml import invoice_to_xml
    from evservice.signing import load_signer

    ctx = resolve(ctx)
    signer = load_signer(ctx.settings)
    when = ctx.clock.now()
    try:
        xml = invoice_to_xml(invoice, provider_tax_code=ctx.settings.provider_tax_code)
        signed_xml = signer.sign_xml(xml, signing_time=when)
        code = payment_code(invoice, ctx)
        rendered = render_invoice_pdf(
            invoice,
            qr_payload=None if code is None else code.payload(),
            qr_lines=() if code is None else _payment_lines(code, invoice, ctx),
            lookup_url=ctx.settings.lookup_url,
        )
        pdf = signer.sign_pdf(
            rendered.pdf,
            signing_time=when,
            box=rendered.signature_box,
            embedded_xml=signed_xml,
            xml_filename=f"{invoice.label}.xml",
            reason=f"Hóa đơn {invoice.label}",
        )
    except EvServiceError:
        raise
    except Exception as exc:
        raise DocumentError(f"cannot render invoice {invoice.label}: {exc}") from exc
    return signed_xml, pdf


#: Where documents are written before they are renamed into place (under ``data_dir``);
#: what a killed process left there is swept by :func:`complete_pending`.
_STAGING = PurePosixPath("invoices", ".staging")


def _relative_paths(invoice: Invoice) -> tuple[PurePosixPath, PurePosixPath]:
    d = invoice.draft
    folder = PurePosixPath("invoices", str(d.issue_date.year), f"{d.template}{d.series}")
    name = format_number(invoice.number)
    return folder / f"{name}.xml", folder / f"{name}.pdf"


def ensure_documents(issued: IssuedInvoice, *, ctx: Context | None = None) -> IssuedInvoice:
    """Render and store the documents of ``issued`` if they are missing.

    Rendering happens outside any transaction; the files are put in place while
    the invoice row is locked, so when two processes complete the same invoice,
    the files on disk and the hashes in the row come from the same one.
    """
    return ensure_many_documents([issued], ctx=ctx)[0]


#: Invoices rendered before their documents are stored together (memory stays bounded).
DOCUMENTS_AT_ONCE = 100


def ensure_many_documents(
    issued: Sequence[IssuedInvoice], *, ctx: Context | None = None
) -> list[IssuedInvoice]:
    """:func:`ensure_documents` for many invoices, in the order given.

    The missing documents are rendered one invoice after another and stored
    :data:`DOCUMENTS_AT_ONCE` invoices at a time (:func:`store_many_documents`:
    one flush to disk and one transaction each).
    """
    ctx = resolve(ctx)
    done = list(issued)
    pending = [i for i, one in enumerate(done) if not one.has_documents]
    for start in range(0, len(pending), DOCUMENTS_AT_ONCE):
        indexes = pending[start : start + DOCUMENTS_AT_ONCE]
        rendered = [(done[i], *render_documents(done[i].invoice, ctx)) for i in indexes]
        for index, stored in zip(indexes, store_many_documents(rendered, ctx=ctx), strict=True):
            done[index] = stored
    return done


def store_documents(
    issued: IssuedInvoice, xml: bytes, pdf: bytes, *, ctx: Context | None = None
) -> IssuedInvoice:
    """Write rendered documents (atomically), record their paths and hashes in the row and
    append ``invoice.signed``, unless another process stored them first."""
    return store_many_documents([(issued, xml, pdf)], ctx=ctx)[0]


_SET_DOCUMENTS = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("row_id"))
    .values(
        xml_path=sa.bindparam("xml_path"),
        pdf_path=sa.bindparam("pdf_path"),
        xml_sha256=sa.bindparam("xml_sha256"),
        pdf_sha256=sa.bindparam("pdf_sha256"),
    )
)
_DOCUMENT_COLUMNS = sa.select(
    _TABLE.c.id, _TABLE.c.xml_path, _TABLE.c.pdf_path, _TABLE.c.xml_sha256, _TABLE.c.pdf_sha256
)


def store_many_documents(
    documents: Sequence[tuple[IssuedInvoice, bytes, bytes]], *, ctx: Context | None = None
) -> list[IssuedInvoice]:
    """:func:`store_documents` for many invoices: one flush to disk, one transaction.

    ``documents`` are (invoice, signed XML, signed PDF). The files are written
    under temporary names and made durable together (:class:`evservice._files.
    StagedFiles`); then, with the rows locked, those still without documents get
    their files renamed into place, their paths and hashes, and one
    ``invoice.signed`` event each. Rows that another process completed meanwhile
    keep that process's files (which match their hashes); ours are deleted.
    Returns the invoices as stored, in the order given.
    """
    ctx = resolve(ctx)
    if not documents:
        return []
    data_dir = ctx.data_dir
    wanted: dict[str, dict[str, Any]] = {}
    with StagedFiles(staging=data_dir / _STAGING) as staged:
        for issued, xml, pdf in documents:
            xml_rel, pdf_rel = _relative_paths(issued.invoice)
            staged.add(data_dir / xml_rel, xml)
            staged.add(data_dir / pdf_rel, pdf)
            wanted[issued.row_id] = {
                "row_id": issued.row_id,
                "xml_path": str(xml_rel),
                "pdf_path": str(pdf_rel),
                "xml_sha256": hashlib.sha256(xml).hexdigest(),
                "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
            }
        staged.sync()  # outside the transaction: the flush is the slow part
        with transaction(ctx.engine) as session:
            query = (
                _DOCUMENT_COLUMNS.where(_TABLE.c.id.in_(sorted(wanted)))
                .order_by(_TABLE.c.id)  # rows locked in one order by every process
                .with_for_update()
            )
            stored = {row.id: row for row in session.execute(query)}
            todo = [
                values
                for row_id, values in wanted.items()
                if row_id in stored
                and (stored[row_id].xml_path is None or stored[row_id].pdf_path is None)
            ]
            missing = sorted(set(wanted) - set(stored))
            if missing:
                raise NotFoundError(f"no invoice with id {missing[0]} to store documents for")
            if todo:
                staged.place(data_dir / v[key] for v in todo for key in ("xml_path", "pdf_path"))
                session.execute(_SET_DOCUMENTS, todo)
                now = ctx.clock.now()
                labels = {issued.row_id: issued.label for issued, _, _ in documents}
                audit.record_many(
                    session,
                    [
                        audit.NewEvent(
                            "invoice.signed",
                            v["row_id"],
                            "system",
                            now,
                            {
                                "invoice": labels[v["row_id"]],
                                "xml_sha256": v["xml_sha256"],
                                "pdf_sha256": v["pdf_sha256"],
                            },
                        )
                        for v in todo
                    ],
                )
    done = {v["row_id"] for v in todo}
    results: list[IssuedInvoice] = []
    for issued, _, _ in documents:
        source = wanted[issued.row_id] if issued.row_id in done else stored[issued.row_id]._asdict()
        results.append(
            dataclasses.replace(
                issued,
                xml_path=data_dir / source["xml_path"],
                pdf_path=data_dir / source["pdf_path"],
                xml_sha256=source["xml_sha256"],
                pdf_sha256=source["pdf_sha256"],
            )
        )
    return results


def complete_pending(
    *, ctx: Context | None = None, limit: int | None = None
) -> list[IssuedInvoice]:
    """Render the documents of every invoice whose row exists but whose files do not.

    Run after a crash (or after numbering with :func:`record_invoice`); returns
    the invoices it completed, in number order. Temporary files a killed process
    left in the staging folder (older than an hour) are deleted first.
    """
    ctx = resolve(ctx)
    sweep_staging(ctx.data_dir / _STAGING)
    query = (
        select(InvoiceRow)
        .where(col(InvoiceRow.xml_path).is_(None) | col(InvoiceRow.pdf_path).is_(None))
        .order_by(col(InvoiceRow.template), col(InvoiceRow.series), col(InvoiceRow.number))
    )
    if limit is not None:
        query = query.limit(limit)
    with transaction(ctx.engine) as session:
        rows = session.exec(query).all()
    return ensure_many_documents([_to_issued(row, ctx) for row in rows], ctx=ctx)


def render_to(
    key: str | uuid.UUID, out_dir: Path | str, *, ctx: Context | None = None
) -> tuple[Path, Path]:
    """Render an issued invoice's XML and PDF again into ``out_dir``; return their paths.

    The stored documents and the row are left alone.
    """
    ctx = resolve(ctx)
    issued = get(key, ctx=ctx)
    xml, pdf = render_documents(issued.invoice, ctx)
    out = Path(out_dir)
    xml_path = out / f"{issued.label}.xml"
    pdf_path = out / f"{issued.label}.pdf"
    write_atomically(xml_path, xml)
    write_atomically(pdf_path, pdf)
    return xml_path, pdf_path
