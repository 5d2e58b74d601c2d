"""The notice of invoices with errors (form 04/SS-HĐĐT, message ``TBao``).

What the law in force keeps of the form: Decree 70/2025/NĐ-CP (amending art. 19
of Decree 123/2020, from 2025-06-01) ended the cancellation of issued invoices,
so ``TCTBao`` 1 (cancel) is never written: an invoice not yet sent to the buyer
is put right by a replacement too. The form remains for

* an invoice whose buyer name or address is wrong while the tax code and the
  rest are right: no new invoice, the seller tells the buyer and the authority
  (``TCTBao`` 4, explanation) -- :func:`explain`;
* answering the authority's own notice of invoices to review (``Loai`` 2 with
  its number and date) -- :func:`explain` with ``authority_notice``;
* telling the authority of an adjustment or a replacement (``TCTBao`` 2 / 3)
  -- :func:`notify_correction`, from the correcting invoice.

Shape (field names and order from the format's transcription)::

    TBao
      DLTBao Id=...  PBan MSo(04/SS-HĐĐT) Ten Loai [So NTBCCQT] MCQT TCQT TNNT MST
                     DDanh NTBao DSHDon/HDon*(STT KHMSHDon KHHDon SHDon Ngay LADHDDT
                     TCTBao [LDo])
      DSCKS/NNT/Signature
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.clock import vn_date
from evservice.errors import ConfigurationError, StoreError, ValidationError
from evservice.invoices import CorrectionKind, IssuedInvoice, get
from evservice.store import transaction
from evservice.tax._format import XML_VERSION, put, sign_message, taxpayer, validate_message
from evservice.tax._outbox import enqueue
from evservice.tax._tables import TaxNoticeRow

__all__ = ["ErrorNotice", "NoticeKind", "explain", "notify_correction"]

_FORM = "04/SS-HĐĐT"
_TITLE = "Thông báo hóa đơn điện tử có sai sót"


class NoticeKind:
    """``TCTBao`` values the law in force keeps (1, cancellation, is gone)."""

    ADJUSTMENT = 2
    REPLACEMENT = 3
    EXPLANATION = 4


@dataclass(frozen=True)
class ErrorNotice:
    """A stored notice: which invoice, what kind, where its signed XML is."""

    id: str
    invoice_id: str
    correction_id: str | None
    kind: int
    reason: str
    built_on: date
    xml_path: Path
    xml_sha256: str
    created: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "invoice_id": self.invoice_id,
            "correction_id": self.correction_id,
            "kind": self.kind,
            "reason": self.reason,
            "built_on": self.built_on.isoformat(),
            "xml": str(self.xml_path),
            "xml_sha256": self.xml_sha256,
        }


def _office(ctx: Context) -> tuple[str, str, str]:
    s = ctx.settings
    values = {
        "EVSERVICE_TAX_AUTHORITY_CODE": s.tax_authority_code or "",
        "EVSERVICE_TAX_AUTHORITY_NAME": s.tax_authority_name or "",
        "EVSERVICE_TAX_PLACE": s.tax_place or "",
    }
    missing = [env for env, value in values.items() if not value.strip()]
    if missing:
        raise ConfigurationError(f"a 04/SS-HĐĐT notice needs {', '.join(missing)}")
    code, name, place = (v.strip() for v in values.values())
    return code, name, place


def render_notice(
    *,
    notice_id: str,
    ctx: Context,
    invoice: IssuedInvoice,
    kind: int,
    reason: str,
    built_on: date,
    authority_notice: tuple[str, date] | None,
) -> etree._Element:
    """The unsigned ``TBao`` of one invoice."""
    tax_code, name = taxpayer(ctx)
    office_code, office_name, place = _office(ctx)
    root = etree.Element("TBao")
    content = etree.SubElement(root, "DLTBao", Id=notice_id)
    put(content, "PBan", XML_VERSION)
    put(content, "MSo", _FORM)
    put(content, "Ten", _TITLE)
    put(content, "Loai", 1 if authority_notice is None else 2)
    if authority_notice is not None:
        put(content, "So", authority_notice[0])
        put(content, "NTBCCQT", authority_notice[1])
    put(content, "MCQT", office_code)
    put(content, "TCQT", office_name)
    put(content, "TNNT", name)
    put(content, "MST", tax_code)
    put(content, "DDanh", place)
    put(content, "NTBao", built_on)
    item = etree.SubElement(etree.SubElement(content, "DSHDon"), "HDon")
    draft = invoice.invoice.draft
    put(item, "STT", 1)
    put(item, "KHMSHDon", draft.template)
    put(item, "KHHDon", draft.series)
    put(item, "SHDon", invoice.number)
    put(item, "Ngay", draft.issue_date)
    put(item, "LADHDDT", 1)
    put(item, "TCTBao", kind)
    put(item, "LDo", reason)
    etree.SubElement(etree.SubElement(root, "DSCKS"), "NNT")
    return root


def _to_notice(row: TaxNoticeRow, ctx: Context, *, created: bool = False) -> ErrorNotice:
    return ErrorNotice(
        id=row.id,
        invoice_id=row.invoice_id,
        correction_id=row.correction_id,
        kind=row.kind,
        reason=row.reason,
        built_on=row.built_on,
        xml_path=ctx.data_dir / row.xml_path,
        xml_sha256=row.xml_sha256,
        created=created,
    )


def _existing(
    session: Session, invoice_id: str, kind: int, correction_id: str | None, reason: str
) -> TaxNoticeRow | None:
    query = select(TaxNoticeRow).where(
        TaxNoticeRow.invoice_id == invoice_id, TaxNoticeRow.kind == kind
    )
    if correction_id is None:
        query = query.where(
            TaxNoticeRow.correction_id == None,  # noqa: E711 - SQL IS NULL
            TaxNoticeRow.reason == reason,
        )
    else:
        query = query.where(TaxNoticeRow.correction_id == correction_id)
    return session.exec(query).first()


def _build(
    ctx: Context,
    invoice: IssuedInvoice,
    *,
    kind: int,
    reason: str,
    correction_id: str | None,
    authority_notice: tuple[str, date] | None,
) -> ErrorNotice:
    tax_code, _ = taxpayer(ctx)
    now: datetime = ctx.clock.now()
    built_on = vn_date(now)
    try:
        with transaction(ctx.engine) as session:
            found = _existing(session, invoice.row_id, kind, correction_id, reason)
            if found is not None:
                return _to_notice(found, ctx)
            notice_id = f"TB{uuid.uuid4().hex}"
            root = render_notice(
                notice_id=notice_id, ctx=ctx, invoice=invoice, kind=kind, reason=reason,
                built_on=built_on, authority_notice=authority_notice,
            )  # fmt: skip
            signed = sign_message(root, "DLTBao", ctx, now)
            validate_message(signed, "tbao.xsd")
            relative = Path("tax") / "notices" / f"{built_on:%Y-%m}" / f"{notice_id}.xml"
            path = ctx.data_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, signed)
            sha = hashlib.sha256(signed).hexdigest()
            row = TaxNoticeRow(
                id=notice_id, taxpayer=tax_code, invoice_id=invoice.row_id,
                correction_id=correction_id, kind=kind, reason=reason, built_on=built_on,
                signed_at=now, xml_path=relative.as_posix(), xml_sha256=sha,
            )  # fmt: skip
            session.add(row)
            session.flush()
            audit.record(
                session,
                type="tax.notice.built",
                subject=invoice.row_id,
                actor="system",
                at=now,
                data={"notice": notice_id, "kind": kind, "xml_sha256": sha,
                      "correction": correction_id},
            )  # fmt: skip
            enqueue(
                session, kind="300", subject_id=notice_id, signed=signed, tax_code=tax_code,
                ctx=ctx,
            )  # fmt: skip
            return _to_notice(row, ctx, created=True)
    except IntegrityError as exc:
        raise StoreError("another notice for this invoice was made at the same time") from exc


def notify_correction(correction_key: str, *, ctx: Context | None = None) -> ErrorNotice:
    """The 04/SS-HĐĐT notice of the invoice a replacement or an adjustment corrects.

    ``correction_key`` names the correcting invoice (id, label or lookup code);
    the notice names the original, with ``TCTBao`` 3 or 2 and the correction's
    reason. Idempotent: a second call returns the stored notice.
    """
    ctx = resolve(ctx)
    correction = get(correction_key, ctx=ctx)
    related = correction.invoice.draft.related
    if related is None or correction.corrects_id is None:
        raise ValidationError(
            "correction_key", f"invoice {correction.label} is no replacement or adjustment"
        )
    original = get(correction.corrects_id, ctx=ctx)
    kind = (
        NoticeKind.REPLACEMENT
        if related.kind is CorrectionKind.REPLACEMENT
        else NoticeKind.ADJUSTMENT
    )
    reason = related.note or (
        f"Thay thế bởi {correction.label}"
        if kind == NoticeKind.REPLACEMENT
        else f"Điều chỉnh bởi {correction.label}"
    )
    return _build(
        ctx, original, kind=kind, reason=reason[:255], correction_id=correction.row_id,
        authority_notice=None,
    )  # fmt: skip


def explain(
    invoice_key: str,
    *,
    reason: str,
    ctx: Context | None = None,
    authority_notice: tuple[str, date] | None = None,
) -> ErrorNotice:
    """An explanation notice (``TCTBao`` 4) of an invoice that needs no new invoice.

    For a wrong buyer name or address with the right tax code (Decree 123 art. 19
    as amended by Decree 70/2025), or in answer to the authority's notice
    ``authority_notice`` = (its number, its date), which makes it ``Loai`` 2.
    """
    ctx = resolve(ctx)
    text = (reason or "").strip()
    if not 1 <= len(text) <= 255:
        raise ValidationError("reason", "must be 1 to 255 characters")
    if authority_notice is not None:
        number, when = authority_notice
        if not isinstance(number, str) or not 1 <= len(number.strip()) <= 30:
            raise ValidationError("authority_notice.number", "must be 1 to 30 characters")
        if not isinstance(when, date):
            raise ValidationError("authority_notice.date", "must be a date")
        authority_notice = (number.strip(), when)
    invoice = get(invoice_key, ctx=ctx)
    return _build(
        ctx, invoice, kind=NoticeKind.EXPLANATION, reason=text, correction_id=None,
        authority_notice=authority_notice,
    )  # fmt: skip
