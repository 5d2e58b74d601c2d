"""Corrections: replacement and adjustment invoices (Decree 123/2020, art. 19).

An issued invoice is never edited and never deleted. To correct it the seller
issues a new invoice that names it in ``TTChung/TTHDLQuan``:

* :func:`replace` issues a *replacement* (``TCHDon`` 1): the original becomes
  ``replaced`` and is dead for good: it cannot be replaced or adjusted again.
* :func:`adjust` issues an *adjustment* (``TCHDon`` 2) whose lines are the
  differences, up or down (negative amounts are allowed only here): the original
  becomes ``adjusted`` and may be adjusted again later.

An ``adjusted`` invoice cannot be replaced: its adjustments amend it, and a
replacement would leave them pointing at an invoice that no longer counts;
further corrections go through more adjustments. The new invoice and the
original's new status are written in the same transaction. :func:`history`
lists the whole chain.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from evservice._context import Context, resolve
from evservice._pydantic import parse_model
from evservice.errors import LifecycleError, ValidationError
from evservice.invoices._documents import ensure_documents
from evservice.invoices._issue import Correction, record_drafts
from evservice.invoices._issued import IssuedInvoice, find_row, to_issued
from evservice.invoices._model import CorrectionKind, InvoiceDraft, InvoiceStatus
from evservice.invoices._tables import InvoiceRow
from evservice.store import transaction

__all__ = ["adjust", "history", "replace"]

_NEW_STATUS = {
    CorrectionKind.REPLACEMENT: InvoiceStatus.REPLACED,
    CorrectionKind.ADJUSTMENT: InvoiceStatus.ADJUSTED,
}
# Which statuses each kind of correction may start from.
_ALLOWED_FROM = {
    CorrectionKind.REPLACEMENT: {InvoiceStatus.ISSUED},
    CorrectionKind.ADJUSTMENT: {InvoiceStatus.ISSUED, InvoiceStatus.ADJUSTED},
}
_MAX_REASON = 255  # GChu


def _draft_data(draft: InvoiceDraft | dict[str, Any] | str) -> dict[str, Any]:
    """The draft as a plain dict, not validated yet (``related`` is still to be set)."""
    if isinstance(draft, InvoiceDraft):
        return draft.model_dump()
    if isinstance(draft, str | bytes):
        try:
            data = json.loads(draft, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ValidationError("draft", f"is not valid JSON: {exc}") from exc
    else:
        data = draft
    if not isinstance(data, dict):
        raise ValidationError("draft", "must be an object")
    return dict(data)


def _check_transition(row: InvoiceRow, kind: CorrectionKind) -> None:
    current = InvoiceStatus(row.status)
    if current not in _ALLOWED_FROM[kind]:
        raise LifecycleError("invoice", current.value, _NEW_STATUS[kind].value)


def _correct(
    kind: CorrectionKind,
    original_key: str | uuid.UUID,
    new_draft: InvoiceDraft | dict[str, Any] | str,
    ctx: Context,
    reason: str,
) -> IssuedInvoice:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason", "say why the invoice is corrected")
    if len(reason) > _MAX_REASON:
        raise ValidationError("reason", f"is longer than {_MAX_REASON} characters")
    with transaction(ctx.engine) as session:
        original = find_row(session, original_key)
    orig = to_issued(original, ctx).invoice
    data = _draft_data(new_draft)
    given = data.get("related")
    if given is not None and not isinstance(given, dict):
        raise ValidationError("related", "is filled from the original invoice; leave it out")
    data["related"] = {
        "kind": kind,
        "template": orig.draft.template,
        "series": orig.draft.series,
        "number": orig.number,
        "issue_date": orig.draft.issue_date,
        "note": reason,
    }
    draft = parse_model(InvoiceDraft, data)
    if draft.seller.tax_code != orig.draft.seller.tax_code:
        raise ValidationError(
            "seller.tax_code", "must be the seller of the original invoice: only it may correct it"
        )
    if draft.issue_date < orig.draft.issue_date:
        raise ValidationError(
            "issue_date",
            f"is earlier than the original invoice's date {orig.draft.issue_date.isoformat()}",
        )

    def mark_original(session: Session) -> None:
        row = session.exec(
            select(InvoiceRow)
            .where(InvoiceRow.id == original.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        _check_transition(row, kind)
        row.status = _NEW_STATUS[kind].value
        session.add(row)

    correction = Correction(original_id=original.id, kind=kind, mark_original=mark_original)
    issued = record_drafts([draft], ctx, correction)[0]
    return ensure_documents(issued, ctx=ctx)


def replace(
    original_id: str | uuid.UUID,
    new_draft: InvoiceDraft | dict[str, Any] | str,
    *,
    reason: str,
    ctx: Context | None = None,
) -> IssuedInvoice:
    """Issue a replacement of the original (id, lookup code or label); it becomes ``replaced``.

    ``new_draft`` is the full corrected invoice; its ``related`` block is filled
    from the original (with ``reason`` as ``GChu``). Raises
    :class:`LifecycleError` if the original was already replaced or adjusted.
    """
    return _correct(CorrectionKind.REPLACEMENT, original_id, new_draft, resolve(ctx), reason)


def adjust(
    original_id: str | uuid.UUID,
    adjustment_draft: InvoiceDraft | dict[str, Any] | str,
    *,
    reason: str,
    ctx: Context | None = None,
) -> IssuedInvoice:
    """Issue an adjustment of the original; it becomes ``adjusted``.

    The lines of ``adjustment_draft`` are the differences (negative to
    decrease). Raises :class:`LifecycleError` if the original was replaced.
    """
    return _correct(CorrectionKind.ADJUSTMENT, original_id, adjustment_draft, resolve(ctx), reason)


def history(invoice_id: str | uuid.UUID, *, ctx: Context | None = None) -> list[IssuedInvoice]:
    """The chain of corrections the invoice belongs to, the first invoice first.

    Starts from the invoice that corrects nothing and follows every correction
    of it, and of its corrections, in the order they were issued.
    """
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = find_row(session, invoice_id)
        seen = {row.id}
        while row.corrects_id is not None:
            parent = session.get(InvoiceRow, row.corrects_id)
            if parent is None or parent.id in seen:  # pragma: no cover - FK and inserts forbid it
                break
            seen.add(parent.id)
            row = parent
        chain = [row]
        frontier = [row.id]
        while frontier:
            children = session.exec(
                select(InvoiceRow).where(col(InvoiceRow.corrects_id).in_(frontier))
            ).all()
            children = [child for child in children if child.id not in {r.id for r in chain}]
            chain.extend(children)
            frontier = [child.id for child in children]
    chain.sort(key=lambda r: (r.issued_at, r.issue_date, r.template, r.series, r.number))
    # The first invoice stays first even if a clock went backwards.
    chain.sort(key=lambda r: r.corrects_id is not None)
    return [to_issued(r, ctx) for r in chain]
