"""The durable outbox of messages to the tax authority: queue, send once, apply answers once.

:func:`enqueue` wraps a signed message in its ``TDiep`` and queues it inside the
caller's transaction (the one that stores the table or notice). :func:`send_pending`
claims due messages (``sending`` until a lease ends,
``EVSERVICE_TAX_SEND_LEASE_SECONDS``), submits each through a
:class:`TaxGateway`, and backs off on retryable failures (``min(2^n, 60)``
minutes, ``max_attempts`` tries). Any earlier attempt of a message may have
reached the far side (a timeout; a kill while ``sending``, found once its lease
runs out): before sending it again the outbox asks the gateway whether it
already holds that id, so the same id is never sent twice. Then the answers
are polled and each response id is applied once (duplicates are dropped by
the ``tax_response`` key). Every step appends an audit event on the message's
subject (the table, notice or invoice) in the transaction of the change:
``tax.message.queued`` (with the envelope's SHA-256), ``.submitted`` (the gateway
took it, or already held it), ``.deferred`` (an attempt failed, retried later),
``.rejected`` (the gateway refused it), ``.failed`` (attempts used up) and
``.answered`` (each answer applied, its type and verdict: the 999 receipt and
the result alike); a duplicate answer adds none.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.errors import DeliveryError, DocumentError, StoreError, ValidationError
from evservice.store import transaction
from evservice.tax._coded import CODE, check_returned, record_code
from evservice.tax._format import XML_VERSION, put
from evservice.tax._gateway import Outgoing, Response, TaxGateway, open_gateway
from evservice.tax._tables import TaxMessageRow, TaxResponseRow

__all__ = [
    "MESSAGE_TYPES",
    "SendReport",
    "TaxMessage",
    "enqueue",
    "list_messages",
    "send_pending",
]

#: ``MLTDiep`` of what we send.
MESSAGE_TYPES = {
    "200": "hóa đơn đề nghị cấp mã",
    "300": "thông báo hóa đơn có sai sót",
    "400": "bảng tổng hợp dữ liệu",
}
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class TaxMessage:
    """A message in the outbox, as ``tax status`` shows it."""

    id: str
    type: str
    subject_id: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "subject": self.subject_id,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class SendReport:
    """What one :func:`send_pending` did."""

    submitted: int = 0
    already_held: int = 0
    retrying: int = 0
    failed: int = 0
    refused: int = 0
    answers: int = 0
    duplicates: int = 0


def _envelope(message_id: str, kind: str, signed: bytes, ctx: Context, sender: str) -> bytes:
    root = etree.Element("TDiep")
    general = etree.SubElement(root, "TTChung")
    put(general, "PBan", XML_VERSION)
    put(general, "MNGui", sender)
    put(general, "MNNhan", ctx.settings.tax_receiver_code)
    put(general, "MLTDiep", kind)
    put(general, "MTDiep", message_id)
    put(general, "MST", sender)
    put(general, "SLuong", 1)
    data = etree.SubElement(root, "DLieu")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    data.append(etree.fromstring(signed, parser))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def enqueue(
    session: Session, *, kind: str, subject_id: str, signed: bytes, tax_code: str, ctx: Context
) -> str:
    """Queue a signed message (``kind`` 200, 300 or 400) in the caller's transaction; its id."""
    if kind not in MESSAGE_TYPES:
        raise ValidationError("kind", f"must be one of {', '.join(MESSAGE_TYPES)}")
    sender = tax_code.replace("-", "")
    message_id = f"{sender}{uuid.uuid4().hex.upper()}"
    xml = _envelope(message_id, kind, signed, ctx, sender)
    relative = Path("tax") / "messages" / f"{message_id}.xml"
    path = ctx.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, xml)
    now = ctx.clock.now()
    session.add(
        TaxMessageRow(
            id=message_id, type=kind, subject_id=subject_id, xml_path=relative.as_posix(),
            status="queued", max_attempts=MAX_ATTEMPTS, created_at=now, next_attempt_at=now,
        )
    )  # fmt: skip
    audit.record(
        session, type="tax.message.queued", subject=subject_id, actor="system", at=now,
        data={"message": message_id, "type": kind,
              "xml_sha256": hashlib.sha256(xml).hexdigest()},
    )  # fmt: skip
    session.flush()
    return message_id


def _to_message(row: TaxMessageRow) -> TaxMessage:
    return TaxMessage(
        id=row.id, type=row.type, subject_id=row.subject_id, status=row.status,
        attempts=row.attempts, created_at=row.created_at, sent_at=row.sent_at,
        answered_at=row.answered_at, next_attempt_at=row.next_attempt_at,
        last_error=row.last_error, reasons=tuple(json.loads(row.reasons_json)),
    )  # fmt: skip


def _claim(ctx: Context, now: datetime, limit: int) -> list[tuple[str, bool]]:
    """Due messages, marked ``sending``; with each, whether an attempt's outcome is unknown."""
    with transaction(ctx.engine) as session:
        query = (
            select(TaxMessageRow)
            .where(
                or_(col(TaxMessageRow.status) == "queued", col(TaxMessageRow.status) == "sending"),
                col(TaxMessageRow.next_attempt_at) <= now,
            )
            .order_by(col(TaxMessageRow.created_at), col(TaxMessageRow.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = []
        for row in session.exec(query).all():
            # Any earlier attempt may have reached the far side (a kill, a timeout).
            unknown = row.status == "sending" or row.attempts > 0
            row.status = "sending"
            row.attempts += 1
            row.next_attempt_at = now + timedelta(seconds=ctx.settings.tax_send_lease_seconds)
            session.add(row)
            claimed.append((row.id, unknown))
    return claimed


def _event(session: Session, row: TaxMessageRow, type_: str, at: datetime, **data: Any) -> None:
    audit.record(
        session, type=type_, subject=row.subject_id, actor="system", at=at,
        data={"message": row.id, "type": row.type, **data},
    )  # fmt: skip


def _after_attempt(
    ctx: Context, message_id: str, gateway: TaxGateway, error: DeliveryError | None, held: bool
) -> str:
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        row = session.get(TaxMessageRow, message_id, with_for_update=True)
        if row is None or row.status != "sending":
            return "gone"
        row.gateway = gateway.name
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            _event(session, row, "tax.message.submitted", now, gateway=gateway.name,
                   attempts=row.attempts, already_held=held)  # fmt: skip
            outcome = "held" if held else "submitted"
        elif not error.retryable:
            row.status, row.last_error, row.answered_at = "rejected", str(error)[:500], now
            row.reasons_json = json.dumps([str(error)[:300]], ensure_ascii=False)
            _event(session, row, "tax.message.rejected", now, by="gateway")
            outcome = "refused"
        elif row.attempts >= row.max_attempts:
            row.status, row.last_error = "failed", str(error)[:500]
            _event(session, row, "tax.message.failed", now, attempts=row.attempts)
            outcome = "failed"
        else:
            row.status, row.last_error = "queued", str(error)[:500]
            row.next_attempt_at = now + timedelta(minutes=min(2 ** (row.attempts - 1), 60))
            _event(session, row, "tax.message.deferred", now, attempts=row.attempts,
                   next_attempt_at=row.next_attempt_at)  # fmt: skip
            outcome = "retrying"
        session.add(row)
    return outcome


def _apply(ctx: Context, response: Response) -> str:
    now = ctx.clock.now()
    try:
        with transaction(ctx.engine) as session:
            if session.get(TaxResponseRow, response.id) is not None:
                return "duplicate"
            row = session.get(TaxMessageRow, response.message_id, with_for_update=True)
            if row is None:
                return "unknown"
            if response.type == "202" and response.accepted and row.type == "200":
                response = _coded_answer(session, ctx, row, response, now)
            elif response.type == "204" and row.type == "200":
                # 01/TB-KTDL answering an invoice sent for a code: not given one.
                refusal = response.reasons or ("Hóa đơn không đủ điều kiện cấp mã",)
                response = replace(response, accepted=False, reasons=refusal)
            reasons = json.dumps(list(response.reasons), ensure_ascii=False)
            session.add(
                TaxResponseRow(
                    id=response.id, message_id=row.id, type=response.type,
                    accepted=response.accepted, received_at=now, reasons_json=reasons,
                )
            )  # fmt: skip
            final = response.type != "999" or not response.accepted
            if final and row.status in ("sent", "sending", "queued"):
                row.status = "accepted" if response.accepted else "rejected"
                row.answered_at = now
                row.reasons_json = reasons
                session.add(row)
            _event(
                session, row, "tax.message.answered", now, response=response.id,
                response_type=response.type, accepted=response.accepted,
                reasons=len(response.reasons),
            )  # fmt: skip
            session.flush()
    except IntegrityError:
        return "duplicate"  # the same answer applied by a concurrent poll
    return "applied"


def _coded_answer(
    session: Session, ctx: Context, row: TaxMessageRow, response: Response, now: datetime
) -> Response:
    """Store a 202's code and its coded XML; a 202 without a usable code is a refusal.

    The authority's returned ``HDon`` (signed in ``DSCKS/CQT``) becomes the
    document of record once :func:`check_returned` accepts it; a returned
    invoice that fails the check is a refusal naming why (nothing is stored).
    """
    if response.code is None or not CODE.match(response.code):
        reason = "Thông điệp 202 không có mã hợp lệ của cơ quan thuế"
        return replace(response, accepted=False, reasons=(*response.reasons, reason))
    envelope = etree.fromstring((ctx.data_dir / row.xml_path).read_bytes())
    invoice = envelope.find("DLieu/HDon")
    if invoice is None:
        raise StoreError(f"message {row.id} holds no invoice")
    xml = bytes(etree.tostring(invoice, encoding="UTF-8", with_tail=False))
    if response.invoice is not None:
        try:
            check_returned(xml, response.invoice, response.code)
        except DocumentError as exc:
            reason = f"Hóa đơn cơ quan thuế trả về không dùng được: {exc}"
            return replace(response, accepted=False, reasons=(*response.reasons, reason[:300]))
    sha = record_code(
        session, ctx, row.subject_id, response.code, xml, now, returned=response.invoice
    )
    if sha is not None:
        _event(session, row, "tax.invoice.coded", now, code=response.code, xml_sha256=sha,
               authority_signed=response.invoice is not None)  # fmt: skip
    return response


def send_pending(
    ctx: Context | None = None, gateway: TaxGateway | None = None, *, limit: int = 100
) -> SendReport:
    """Submit what is due (each id once), then apply the answers that came back (each once)."""
    ctx = resolve(ctx)
    gateway = gateway if gateway is not None else open_gateway(ctx)
    counts = {"submitted": 0, "held": 0, "retrying": 0, "failed": 0, "refused": 0}
    for message_id, unknown in _claim(ctx, ctx.clock.now(), limit):
        row_path = _message_path(ctx, message_id)
        error: DeliveryError | None = None
        held = False
        try:
            held = unknown and gateway.known(message_id)
            if not held:
                data = (ctx.data_dir / row_path[1]).read_bytes()
                gateway.submit(Outgoing(id=message_id, type=row_path[0], xml=data))
        except DeliveryError as exc:
            error = exc
        except OSError as exc:
            error = DeliveryError(f"the message file is unreadable: {exc.strerror or exc}")
        outcome = _after_attempt(ctx, message_id, gateway, error, held)
        if outcome in counts:
            counts[outcome] += 1
    answers = duplicates = 0
    try:
        found: Sequence[Response] = gateway.responses()
    except DeliveryError:
        found = []
    for response in found:
        outcome = _apply(ctx, response)
        answers += outcome == "applied"
        duplicates += outcome == "duplicate"
    return SendReport(
        submitted=counts["submitted"], already_held=counts["held"], retrying=counts["retrying"],
        failed=counts["failed"], refused=counts["refused"], answers=answers,
        duplicates=duplicates,
    )  # fmt: skip


def _message_path(ctx: Context, message_id: str) -> tuple[str, str]:
    with transaction(ctx.engine) as session:
        row = session.get(TaxMessageRow, message_id)
        if row is None:
            raise StoreError(f"message {message_id} vanished from the outbox")
        return row.type, row.xml_path


def list_messages(
    ctx: Context | None = None, *, status: str | None = None, limit: int = 100
) -> list[TaxMessage]:
    """Messages, newest first, optionally of one status."""
    ctx = resolve(ctx)
    statuses = ("queued", "sending", "sent", "accepted", "rejected", "failed")
    if status is not None and status not in statuses:
        raise ValidationError("status", f"must be one of {', '.join(statuses)}")
    if not 1 <= limit <= 10_000:
        raise ValidationError("limit", "must be between 1 and 10000")
    query = select(TaxMessageRow)
    if status is not None:
        query = query.where(TaxMessageRow.status == status)
    query = query.order_by(col(TaxMessageRow.created_at).desc(), col(TaxMessageRow.id)).limit(limit)
    with transaction(ctx.engine) as session:
        rows = session.exec(query).all()
    return [_to_message(r) for r in rows]
