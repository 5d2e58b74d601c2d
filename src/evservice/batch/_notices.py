"""Messages a batch queues: each invoice's e-mail and SMS, and anomaly notices.

Each is queued once per invoice and kind: the ``batch_notice`` row, the outbox
row and the audit event share one transaction, so a rerun (or a twin process)
never sends a message twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from evservice import audit
from evservice._context import Context
from evservice.batch._anomalies import Anomaly, notice_messages
from evservice.batch._drafts import Params
from evservice.batch._results import Outcome, Tally
from evservice.batch._tables import BatchNotice
from evservice.delivery import Message, enqueue, invoice_email, invoice_sms
from evservice.errors import DocumentError, StoreError, ValidationError
from evservice.invoices import IssuedInvoice
from evservice.store import transaction

__all__ = ["deliver", "notify"]

_NOTICE: sa.Table = BatchNotice.__table__  # type: ignore[attr-defined]


def _notices(ctx: Context, invoice_ids: Sequence[str]) -> dict[str, set[str]]:
    """The notice kinds already queued for each of ``invoice_ids``."""
    if not invoice_ids:
        return {}
    found: dict[str, set[str]] = {}
    with transaction(ctx.engine) as session:
        query = sa.select(_NOTICE.c.invoice_id, _NOTICE.c.kind).where(
            _NOTICE.c.invoice_id.in_(list(invoice_ids))
        )
        for invoice_id, kind in session.execute(query):
            found.setdefault(invoice_id, set()).add(kind)
    return found


def _queue_once(
    ctx: Context,
    issued: IssuedInvoice,
    messages: Sequence[tuple[str, Message]],
    event_type: str,
    extra: Mapping[str, str] | None = None,
) -> list[str]:
    """Queue the messages not queued before for this invoice, with one audit event.

    Returns the kinds queued now. The ``batch_notice`` rows, the outbox rows and
    the event share one transaction; a twin process that got there first makes
    this one's insert conflict, and then nothing is queued twice.
    """
    try:
        with transaction(ctx.engine) as session:
            done = {
                kind
                for (kind,) in session.execute(
                    sa.select(_NOTICE.c.kind).where(_NOTICE.c.invoice_id == issued.row_id)
                )
            }
            fresh = [(kind, message) for kind, message in messages if kind not in done]
            if not fresh:
                return []
            now = ctx.clock.now()
            for kind, message in fresh:
                enqueue(session, message, ctx=ctx)
                session.execute(
                    sa.insert(_NOTICE).values(
                        invoice_id=issued.row_id, kind=kind, message_id=message.id, created_at=now
                    )
                )
            audit.record(
                session,
                type=event_type,
                subject=issued.row_id,
                actor="system",
                at=now,
                data={
                    "invoice": issued.label,
                    "channels": sorted(message.kind for _, message in fresh),
                    "messages": [message.id for _, message in fresh],
                    **(extra or {}),
                },
            )
    except StoreError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            return []  # queued meanwhile by another process
        raise
    return [kind for kind, _ in fresh]


def _documents(issued: IssuedInvoice) -> tuple[bytes, bytes]:
    if issued.pdf_path is None or issued.xml_path is None:
        raise DocumentError(f"invoice {issued.label} has no documents to send yet")
    try:
        return issued.pdf_path.read_bytes(), issued.xml_path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"cannot read the documents of invoice {issued.label}: {exc.strerror}"
        ) from exc


def deliver(ctx: Context, params: Params, outcomes: Sequence[Outcome], tally: Tally) -> None:
    """Queue each invoice's e-mail (PDF and XML attached) and SMS, once per invoice.

    Invoices of a coded series (``EVSERVICE_TAX_CODED_SERIES``) are left out
    and counted as ``waiting_for_code``: they go to the customer with the
    authority's code on them, from ``evservice tax send``
    (:func:`evservice.tax.deliver_coded`).
    """
    queued = _notices(ctx, [o.issued.row_id for o in outcomes])
    for outcome in outcomes:
        row, issued = outcome.row, outcome.issued
        if ctx.settings.is_coded(issued.invoice.draft.template, issued.invoice.draft.series):
            tally.deliveries["waiting_for_code"] += 1
            continue
        done = queued.get(issued.row_id, set())
        invoice = issued.invoice
        due = invoice.draft.issue_date + timedelta(days=params.due_days)
        payable = invoice.totals.payable
        base = invoice.id.hex
        messages: list[tuple[str, Message]] = []
        try:
            if row.email and "invoice-email" not in done:
                pdf, xml = _documents(issued)
                email = invoice_email(
                    to=row.email,
                    customer_name=row.name,
                    seller_name=params.seller.name,
                    invoice_label=issued.label,
                    amount=payable,
                    due_date=due,
                    lookup_code=issued.lookup_code,
                    lookup_url=ctx.settings.lookup_url,
                    pdf=pdf,
                    xml=xml,
                )
                messages.append(("invoice-email", dataclasses.replace(email, id=f"{base}-ie")))
        except ValidationError:
            tally.deliveries["undeliverable"] += 1
        try:
            if row.phone and "invoice-sms" not in done:
                sms = invoice_sms(
                    to=row.phone,
                    invoice_label=issued.label,
                    amount=payable,
                    due_date=due,
                    lookup_code=issued.lookup_code,
                    lookup_url=ctx.settings.lookup_url,
                )
                messages.append(("invoice-sms", dataclasses.replace(sms, id=f"{base}-is")))
        except ValidationError:
            tally.deliveries["undeliverable"] += 1
        if messages:
            for kind in _queue_once(ctx, issued, messages, "invoice.delivered"):
                tally.deliveries["email" if kind == "invoice-email" else "sms"] += 1


def notify(
    ctx: Context,
    params: Params,
    outcomes: Sequence[Outcome],
    anomalies: Sequence[Anomaly],
    tally: Tally,
) -> None:
    """Queue the anomaly notices of flagged invoices, once per invoice."""
    flagged = [a for a in anomalies if a.kind != "rollover"]
    if not flagged:
        return
    by_invoice = {o.issued.row_id: o for o in outcomes}
    queued = _notices(ctx, [a.invoice_id for a in flagged])
    for anomaly in flagged:
        outcome = by_invoice[anomaly.invoice_id]
        done = queued.get(anomaly.invoice_id, set())
        try:
            messages = notice_messages(
                anomaly,
                period=params.period,
                lookup_code=outcome.issued.lookup_code,
                seller_name=params.seller.name,
                phone=outcome.row.phone,
                email=outcome.row.email,
            )
        except ValidationError:
            tally.deliveries["undeliverable"] += 1
            continue
        fresh = [(kind, message) for kind, message in messages if kind not in done]
        if fresh:
            kinds = _queue_once(
                ctx, outcome.issued, fresh, "invoice.anomaly_notified", {"anomaly": anomaly.kind}
            )
            tally.deliveries["anomaly_notices"] += len(kinds)
