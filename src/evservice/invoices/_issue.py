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

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from evservice import audit, privacy
from evservice._context import Context, resolve
from evservice._pydantic import parse_model
from evservice.clock import vn_date
from evservice.errors import (
    StoreError,
    ValidationError,
)
from evservice.invoices import _lookup
from evservice.invoices._documents import ensure_documents
from evservice.invoices._issued import SEALED_COLUMNS, IssuedInvoice, to_issued
from evservice.invoices._model import CorrectionKind, Invoice, InvoiceDraft, InvoiceStatus
from evservice.invoices._numbering import next_numbers
from evservice.invoices._tables import InvoiceRow
from evservice.store import is_sqlite, transaction

if TYPE_CHECKING:
    pass


__all__ = ["Correction", "issue", "record_drafts", "record_invoice", "record_invoices"]

#: Transactions retried after losing a race on a unique constraint.
_ATTEMPTS = 5
_LABEL = re.compile(r"^([1-6])([CK][0-9]{2}[A-Z]{3})-?([0-9]{1,8})$")
_TABLE: sa.Table = InvoiceRow.__table__  # type: ignore[attr-defined]
# Statements of the issuing transaction, built once.
_TAKEN_LOOKUP_CODES = sa.select(_TABLE.c.lookup_code).where(
    _TABLE.c.lookup_code.in_(sa.bindparam("codes", expanding=True))
)
_INSERT = sa.insert(_TABLE)


# -- numbering and storing ------------------------------------------------------------


class _AlreadyIssued(Exception):
    """Raised inside the transaction to roll it back when the reference turned up."""

    def __init__(self, row: InvoiceRow) -> None:
        self.row = row


@dataclass(frozen=True)
class Correction:
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


def _existing(row: InvoiceRow, ctx: Context, correction: Correction | None) -> IssuedInvoice:
    """The invoice already issued under a reference, if it is what this call asks for."""
    if correction is not None and (
        row.corrects_id != correction.original_id or row.correction_kind != correction.kind
    ):
        raise ValidationError(
            "reference",
            f"was already used by invoice {row.id}, which is not a "
            f"{correction.kind.name.lower()} of invoice {correction.original_id}",
        )
    return to_issued(row, ctx)


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
    correction: Correction | None,
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


def record_drafts(
    drafts: Sequence[InvoiceDraft],
    ctx: Context,
    correction: Correction | None = None,
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
    correction: Correction | None,
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
    keys = privacy.keyring(ctx)
    conn = session.connection()
    for index, number, code in zip(fresh, numbers, codes, strict=True):
        values = _row_values(drafts[index], draft_jsons[index], ctx, number, code)
        if correction is not None:
            values["corrects_id"] = correction.original_id
            values["correction_kind"] = int(correction.kind)
        rows.append(_sealed(keys, conn, values))
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


def _sealed(keys: privacy.Keyring, conn: sa.Connection, values: dict[str, Any]) -> dict[str, Any]:
    """The row's personal columns sealed under the retention key (the law keeps invoices)."""
    sealed = dict(values)
    for column in SEALED_COLUMNS:
        place = privacy.FieldPlace("invoice", column, values["id"])
        sealed[column] = keys.seal(values[column], place, privacy.RETENTION_SCOPE, conn)
    return sealed


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
    return record_drafts([parse_model(InvoiceDraft, draft)], ctx, None, on_recorded)[0]


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
    return record_drafts(parsed, ctx, None, on_recorded)


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
