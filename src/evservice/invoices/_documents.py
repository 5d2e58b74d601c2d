"""An issued invoice's documents: its signed XML and signed PDF, rendered and stored.

:func:`render_documents` makes both from the stored invoice alone (the
documents are a function of the stored draft, the number, the lookup code and
the issue time, nothing else). :func:`ensure_many_documents` renders a hundred
at a time outside any transaction, stages the files (one flush to disk), then
renames them into place and records their paths and SHA-256 while the rows are
locked. :func:`complete_pending` finishes what a killed process left.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import col, select

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import StagedFiles, sweep_staging, write_atomically
from evservice.errors import (
    DocumentError,
    EvServiceError,
    NotFoundError,
    ValidationError,
)
from evservice.invoices._identifiers import format_number
from evservice.invoices._issued import IssuedInvoice, get, to_issued
from evservice.invoices._model import Invoice
from evservice.invoices._tables import InvoiceRow
from evservice.payments import PaymentAccount
from evservice.store import transaction

if TYPE_CHECKING:
    from evservice.payments import VietQR


__all__ = [
    "DocumentFailure",
    "complete_pending",
    "ensure_documents",
    "ensure_many_documents",
    "payment_code",
    "render_documents",
    "render_to",
    "store_documents",
    "store_many_documents",
]

_TABLE: sa.Table = InvoiceRow.__table__  # type: ignore[attr-defined]


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
        template=invoice.draft.template,
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
    from evservice.invoices._xmlwrite import invoice_to_xml
    from evservice.signing import load_signer, sign_invoice_xml, sign_pdf

    ctx = resolve(ctx)
    signer = load_signer(ctx.settings)
    when = ctx.clock.now()
    try:
        xml = invoice_to_xml(invoice, provider_tax_code=ctx.settings.provider_tax_code)
        signed_xml = sign_invoice_xml(xml, signer, signing_time=when)
        code = payment_code(invoice, ctx)
        rendered = render_invoice_pdf(
            invoice,
            qr_payload=None if code is None else code.payload(),
            qr_lines=() if code is None else _payment_lines(code, invoice, ctx),
            lookup_url=ctx.settings.lookup_url,
        )
        pdf = sign_pdf(
            rendered.pdf,
            signer,
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


#: Told of an invoice whose documents could not be rendered (see :func:`ensure_many_documents`).
DocumentFailure = Callable[[IssuedInvoice, EvServiceError], None]


def ensure_many_documents(
    issued: Sequence[IssuedInvoice],
    *,
    ctx: Context | None = None,
    on_error: DocumentFailure | None = None,
) -> list[IssuedInvoice]:
    """:func:`ensure_documents` for many invoices, in the order given.

    The missing documents are rendered one invoice after another and stored
    :data:`DOCUMENTS_AT_ONCE` invoices at a time (:func:`store_many_documents`:
    one flush to disk and one transaction each).

    With ``on_error``, an invoice whose own data cannot be rendered (a
    :class:`DocumentError` or :class:`ValidationError` from the writers) is
    handed to ``on_error`` and returned as it was, still without documents
    (it stays pending: its number is used, and :func:`complete_pending`
    retries it), and the others go on. Errors of the surroundings (the signer,
    the store, the disk) are raised either way: they would fail every invoice.
    """
    ctx = resolve(ctx)
    done = list(issued)
    pending = [i for i, one in enumerate(done) if not one.has_documents]
    for start in range(0, len(pending), DOCUMENTS_AT_ONCE):
        rendered: list[tuple[int, IssuedInvoice, bytes, bytes]] = []
        for index in pending[start : start + DOCUMENTS_AT_ONCE]:
            try:
                xml, pdf = render_documents(done[index].invoice, ctx)
            except (DocumentError, ValidationError) as exc:
                if on_error is None:
                    raise
                on_error(done[index], exc)
                continue
            rendered.append((index, done[index], xml, pdf))
        stored = store_many_documents([(one, x, p) for _, one, x, p in rendered], ctx=ctx)
        for (index, *_), one in zip(rendered, stored, strict=True):
            done[index] = one
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
    *,
    ctx: Context | None = None,
    limit: int | None = None,
    on_error: DocumentFailure | None = None,
) -> list[IssuedInvoice]:
    """Render the documents of every invoice whose row exists but whose files do not.

    Run after a crash (or after numbering with :func:`record_invoice`); returns
    the invoices it completed, in number order. Temporary files a killed process
    left in the staging folder (older than an hour) are deleted first. With
    ``on_error``, an invoice that still cannot be rendered is reported there and
    left pending (see :func:`ensure_many_documents`); the others are completed.
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
    found = [to_issued(row, ctx) for row in rows]
    done = ensure_many_documents(found, ctx=ctx, on_error=on_error)
    return [one for one in done if one.has_documents]


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
