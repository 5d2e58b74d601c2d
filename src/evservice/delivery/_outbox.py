"""The durable outbox: messages enqueued in the caller's transaction, dispatched later.

``enqueue`` writes the message in the same transaction as the change that
caused it (an issued invoice, say), so a gateway outage loses nothing: the
row waits. ``dispatch`` claims due rows, sends them through a channel and
records the result; retryable failures come back after an exponential
backoff (``next_attempt_at``), others (or too many) end as ``failed`` until
``retry_failed`` puts them back in the queue.

Claims are atomic (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the IMMEDIATE
write lock on SQLite), so several dispatchers never send the same row at the
same time. A claim lasts :data:`CLAIM_SECONDS`; a dispatcher that dies while
sending leaves the row to be claimed again after that, so delivery is at
least once (the message id travels as the gateway's idempotency key).

Messages marked ``sensitive`` (one-time codes) are refused: a code must never
be stored in clear, so OTP messages are sent directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from evservice import privacy
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.delivery._channel import Channel, RetryPolicy
from evservice.delivery._message import Attachment, DeliveryReceipt, Message
from evservice.delivery._sealed import open_fields, seal_fields
from evservice.delivery._tables import OutboxRow
from evservice.errors import DeliveryError, EvServiceError, ValidationError
from evservice.store import UTCDateTime, transaction

__all__ = [
    "CLAIM_SECONDS",
    "OUTBOX_POLICY",
    "DispatchReport",
    "OutboxEntry",
    "dispatch",
    "enqueue",
    "list_outbox",
    "retry_failed",
]

log = logging.getLogger("evservice.delivery")

#: Default schedule of the durable outbox: 8 tries, 1 min, 2 min, ... up to 1 h apart.
OUTBOX_POLICY = RetryPolicy(attempts=8, base_delay=60.0, factor=2.0, max_delay=3600.0)
#: How long a dispatcher owns a claimed row before another may take it over.
CLAIM_SECONDS = 300
STATUSES = ("queued", "sending", "sent", "failed")


@dataclass(frozen=True)
class OutboxEntry:
    """A row of the outbox as listings show it (masked destination, no body)."""

    id: str
    kind: str
    to_masked: str
    subject: str
    status: str
    attempts: int
    max_attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    channel: str | None
    provider_id: str | None
    last_error: str | None
    tags: dict[str, str]
    attachments: tuple[str, ...]

    @classmethod
    def _from_row(cls, row: OutboxRow) -> OutboxEntry:
        return cls(
            id=row.id,
            kind=row.kind,
            to_masked=row.to_masked,
            subject=row.subject,
            status=row.status,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            channel=row.channel,
            provider_id=row.provider_id,
            last_error=row.last_error,
            tags=json.loads(row.tags_json),
            attachments=tuple(a["filename"] for a in json.loads(row.attachments_json)),
        )


@dataclass(frozen=True)
class DispatchReport:
    """What one :func:`dispatch` run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    receipts: tuple[DeliveryReceipt, ...] = ()

    @property
    def claimed(self) -> int:
        return self.sent + self.retrying + self.failed


def _attachment_dir(ctx: Context) -> Path:
    return ctx.data_dir / "outbox" / "attachments"


def _attachment_path(ctx: Context, sha256: str) -> Path:
    return _attachment_dir(ctx) / sha256[:2] / sha256


def _store_attachment(ctx: Context, data: bytes) -> str:
    """Write ``data`` once under its SHA-256 (content-addressed, so retries are harmless)."""
    digest = hashlib.sha256(data).hexdigest()
    path = _attachment_path(ctx, digest)
    if path.exists():
        return digest
    write_atomically(path, data, mode=0o600)
    return digest


def _load_attachment(ctx: Context, meta: dict[str, str], message_id: str) -> Attachment:
    path = _attachment_path(ctx, meta["sha256"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeliveryError(
            f"attachment {meta['filename']!r} of message {message_id} is missing from the outbox",
            retryable=False,
        ) from exc
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise DeliveryError(
            f"attachment {meta['filename']!r} of message {message_id} was altered on disk",
            retryable=False,
        )
    return Attachment(meta["filename"], meta["content_type"], data)


def enqueue(
    session: Session,
    message: Message,
    *,
    ctx: Context | None = None,
    max_attempts: int | None = None,
) -> OutboxEntry:
    """Add ``message`` to the outbox inside the caller's transaction ``session``.

    Attachments are written to files first (by hash); if the transaction rolls
    back, they stay as harmless unreferenced files. Raises
    :class:`ValidationError` for a ``sensitive`` message (one carrying an OTP).
    """
    ctx = resolve(ctx)
    if not isinstance(message, Message):
        raise ValidationError("message", "must be a delivery Message")
    if message.sensitive:
        raise ValidationError(
            "message", "carries a one-time code; send it directly, never via the durable outbox"
        )
    attempts = OUTBOX_POLICY.attempts if max_attempts is None else max_attempts
    if attempts < 1:
        raise ValidationError("max_attempts", "must be at least 1")
    try:
        metas = [
            {
                "filename": att.filename,
                "content_type": att.content_type,
                "sha256": _store_attachment(ctx, att.data),
                "size": len(att.data),
            }
            for att in message.attachments
        ]
    except OSError as exc:
        raise DeliveryError(
            f"cannot store the attachments of message {message.id}: {exc.strerror}"
        ) from exc
    now = ctx.clock.now()
    row = OutboxRow(
        id=message.id,
        kind=message.kind,
        to_address=message.to,
        to_masked=message.masked_to,
        subject=message.subject,
        text=message.text,
        html=message.html,
        attachments_json=json.dumps(metas, ensure_ascii=False),
        tags_json=json.dumps(dict(message.tags), ensure_ascii=False),
        status="queued",
        attempts=0,
        max_attempts=attempts,
        created_at=now,
        next_attempt_at=now,
    )
    seal_fields(privacy.keyring(ctx), session.connection(), row)
    session.add(row)
    session.flush()
    log.info("message %s to %s queued in the outbox", message.id, row.to_masked)
    return OutboxEntry._from_row(row)


def _claim(ctx: Context, kinds: Iterable[str], limit: int) -> list[OutboxRow]:
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        stmt = (
            select(OutboxRow)
            .where(
                col(OutboxRow.status).in_(("queued", "sending")),
                col(OutboxRow.next_attempt_at) <= now,
                col(OutboxRow.kind).in_(tuple(kinds)),
            )
            .order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.created_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(session.exec(stmt).all())
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.next_attempt_at = now + timedelta(seconds=CLAIM_SECONDS)
        session.flush()
        for row in rows:
            session.expunge(row)
    return rows


def _message(ctx: Context, row: OutboxRow) -> Message:
    metas = json.loads(row.attachments_json)
    opened = open_fields(privacy.keyring(ctx), row)
    return Message(
        id=row.id,
        to=opened["to_address"] or "",
        kind="sms" if row.kind == "sms" else "email",
        subject=row.subject,
        text=opened["text"] or "",
        html=opened["html"],
        attachments=tuple(_load_attachment(ctx, meta, row.id) for meta in metas),
        tags=json.loads(row.tags_json),
    )


_TABLE: sa.Table = OutboxRow.__table__  # type: ignore[attr-defined]
# Built once: the dispatcher records one outcome per message, and building the
# statement each time cost more than running it.
_FINISH = (
    sa.update(_TABLE)
    .where(
        _TABLE.c.id == sa.bindparam("b_id"),
        _TABLE.c.status == "sending",
        _TABLE.c.attempts == sa.bindparam("b_attempts"),
    )
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next", type_=UTCDateTime()),
        sent_at=sa.bindparam("b_sent", type_=UTCDateTime()),
        channel=sa.bindparam("b_channel"),
        provider_id=sa.bindparam("b_provider"),
        last_error=sa.bindparam("b_error"),
    )
)


def _finish(
    ctx: Context,
    row: OutboxRow,
    *,
    status: str,
    next_attempt_at: datetime,
    channel: str,
    sent_at: datetime | None = None,
    provider_id: str | None = None,
    last_error: str | None = None,
) -> None:
    """Record the outcome, unless another dispatcher took the row over meanwhile."""
    params = {
        "b_id": row.id,
        "b_attempts": row.attempts,
        "b_status": status,
        "b_next": next_attempt_at,
        "b_sent": sent_at,
        "b_channel": channel[:32],
        "b_provider": provider_id[:100] if provider_id else None,
        "b_error": last_error[:500] if last_error else None,
    }
    with transaction(ctx.engine) as session:
        result = session.connection().execute(_FINISH, params)
        if result.rowcount != 1:
            log.warning("message %s was claimed again before its result was recorded", row.id)


def dispatch(
    ctx: Context | None = None,
    channel: Channel | None = None,
    *,
    limit: int = 100,
    policy: RetryPolicy | None = None,
) -> DispatchReport:
    """Send up to ``limit`` due messages through ``channel`` (default: from the settings).

    Retryable failures are queued again after ``policy.delay(attempts)``
    seconds; non-retryable ones, and those out of attempts, become ``failed``.
    """
    ctx = resolve(ctx)
    if limit < 1:
        raise ValidationError("limit", "must be at least 1")
    policy = policy or OUTBOX_POLICY
    own_channel = channel is None
    if channel is None:
        from evservice.delivery._factory import channel_from_settings

        channel = channel_from_settings(ctx.settings, clock=ctx.clock)
    sent = retrying = failed = 0
    receipts: list[DeliveryReceipt] = []
    try:
        for row in _claim(ctx, channel.kinds, limit):
            try:
                receipt = channel.send(_message(ctx, row))
            except EvServiceError as exc:
                error = exc if isinstance(exc, DeliveryError) else None
                retry = error is not None and error.retryable and row.attempts < row.max_attempts
                now = ctx.clock.now()
                reason = str(exc)[:500]
                if retry:
                    retrying += 1
                    wait = policy.delay(row.attempts)
                    _finish(
                        ctx,
                        row,
                        status="queued",
                        next_attempt_at=now + timedelta(seconds=wait),
                        last_error=reason,
                        channel=channel.name,
                    )
                    log.warning(
                        "message %s to %s: attempt %d failed, next in %.0fs: %s",
                        row.id,
                        row.to_masked,
                        row.attempts,
                        wait,
                        reason,
                    )
                else:
                    failed += 1
                    _finish(
                        ctx,
                        row,
                        status="failed",
                        next_attempt_at=now,
                        last_error=reason,
                        channel=channel.name,
                    )
                    log.error(
                        "message %s to %s failed after %d attempt(s): %s",
                        row.id,
                        row.to_masked,
                        row.attempts,
                        reason,
                    )
                continue
            sent += 1
            receipts.append(receipt)
            now = ctx.clock.now()
            _finish(
                ctx,
                row,
                status="sent",
                next_attempt_at=now,
                sent_at=now,
                channel=receipt.channel,
                provider_id=receipt.provider_id,
            )
    finally:
        if own_channel:
            channel.close()
    return DispatchReport(sent=sent, retrying=retrying, failed=failed, receipts=tuple(receipts))


def retry_failed(ctx: Context | None = None, *, ids: Sequence[str] | None = None) -> int:
    """Queue failed messages (all, or those in ``ids``) again, due now; returns how many."""
    ctx = resolve(ctx)
    now = ctx.clock.now()
    stmt = sa.update(OutboxRow).where(col(OutboxRow.status) == "failed")
    if ids is not None:
        stmt = stmt.where(col(OutboxRow.id).in_(tuple(ids)))
    with transaction(ctx.engine) as session:
        result = session.exec(
            stmt.values(status="queued", attempts=0, next_attempt_at=now, last_error=None)
        )
        count = int(result.rowcount)
    log.info("%d failed message(s) queued again", count)
    return count


def list_outbox(
    ctx: Context | None = None, *, status: str | None = None, limit: int = 50
) -> list[OutboxEntry]:
    """The newest ``limit`` entries (optionally of one ``status``), masked."""
    ctx = resolve(ctx)
    if status is not None and status not in STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(STATUSES)}")
    if limit < 1:
        raise ValidationError("limit", "must be at least 1")
    stmt = select(OutboxRow)
    if status is not None:
        stmt = stmt.where(col(OutboxRow.status) == status)
    stmt = stmt.order_by(col(OutboxRow.created_at).desc(), col(OutboxRow.id)).limit(limit)
    with transaction(ctx.engine) as session:
        return [OutboxEntry._from_row(row) for row in session.exec(stmt).all()]
