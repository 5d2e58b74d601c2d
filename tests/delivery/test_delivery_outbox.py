"""The durable outbox on SQLite and PostgreSQL: nothing lost, nothing sent twice."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.delivery import (
    OUTBOX_POLICY,
    Channel,
    DeliveryReceipt,
    MemoryChannel,
    Message,
    WebhookSmsChannel,
    dispatch,
    enqueue,
    list_outbox,
    otp_sms,
    retry_failed,
)
from evservice.delivery._outbox import CLAIM_SECONDS
from evservice.errors import ValidationError
from evservice.store import transaction

if TYPE_CHECKING:
    from conftest import Gateway

PDF = b"%PDF-1.7\n" + b"contract body " * 5000 + b"\n%%EOF"


def _sms(n: int = 0) -> Message:
    return Message(to="0912345678", kind="sms", text=f"Hoa don so {n}: 100.000 d")


def _enqueue(ctx: Context, *messages: Message, max_attempts: int | None = None) -> None:
    with transaction(ctx.engine) as session:
        for message in messages:
            enqueue(session, message, ctx=ctx, max_attempts=max_attempts)


def _rows(ctx: Context) -> list[dict[str, object]]:
    with ctx.engine.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM delivery_outbox ORDER BY created_at, id"))
        return [dict(row._mapping) for row in result]


def test_enqueue_joins_the_callers_transaction(ctx: Context) -> None:
    class Boom(Exception):
        pass

    def enqueue_then_fail() -> None:
        with transaction(ctx.engine) as session:
            enqueue(session, _sms(1), ctx=ctx)
            raise Boom

    with pytest.raises(Boom):
        enqueue_then_fail()
    assert _rows(ctx) == []
    _enqueue(ctx, _sms(2))
    [entry] = list_outbox(ctx)
    assert entry.status == "queued"
    assert entry.to_masked == "+84 *** *** 678"
    assert entry.max_attempts == OUTBOX_POLICY.attempts


def test_dispatch_through_the_default_file_outbox(ctx: Context) -> None:
    first, second = _sms(1), Message(to="an@example.com", subject="Hoa don", text="Body")
    _enqueue(ctx, first, second)
    report = dispatch(ctx)
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert (ctx.data_dir / "outbox" / "sms" / f"{first.id}.json").exists()
    assert (ctx.data_dir / "outbox" / "email" / f"{second.id}.eml").exists()
    assert {e.status for e in list_outbox(ctx)} == {"sent"}
    assert dispatch(ctx).claimed == 0


def test_gateway_outage_loses_nothing_and_sends_once(
    ctx: Context, clock: ManualClock, sms_gateway: Gateway
) -> None:
    message = _sms(7)
    _enqueue(ctx, message)
    sms_gateway.script(503)
    with WebhookSmsChannel(sms_gateway.webhook_url, secret=sms_gateway.webhook_secret) as gw:
        report = dispatch(ctx, gw)
        assert (report.sent, report.retrying) == (0, 1)
        [entry] = list_outbox(ctx)
        assert entry.status == "queued"
        assert entry.attempts == 1
        assert (entry.next_attempt_at - clock.now()).total_seconds() == OUTBOX_POLICY.delay(1)
        assert "HTTP 503" in (entry.last_error or "")

        assert dispatch(ctx, gw).claimed == 0  # not due yet: backoff
        clock.advance(OUTBOX_POLICY.delay(1))
        report = dispatch(ctx, gw)
        assert report.sent == 1
        clock.advance(3600)
        assert dispatch(ctx, gw).claimed == 0
    assert len(sms_gateway.received) == 2
    assert [r.json()["id"] for r in sms_gateway.delivered] == [message.id]
    [entry] = list_outbox(ctx)
    assert (entry.status, entry.attempts, entry.provider_id) == ("sent", 2, "wh-1")
    assert entry.last_error is None


def test_permanent_failure_then_retry_failed(ctx: Context) -> None:
    _enqueue(ctx, _sms(1))
    channel = MemoryChannel()
    channel.fail_next(1, retryable=False)
    assert dispatch(ctx, channel).failed == 1
    [entry] = list_outbox(ctx, status="failed")
    assert entry.last_error == "memory channel: simulated outage"
    assert dispatch(ctx, channel).claimed == 0
    assert retry_failed(ctx) == 1
    assert dispatch(ctx, channel).sent == 1
    assert len(channel.sent) == 1
    assert retry_failed(ctx) == 0


def test_attempts_run_out(ctx: Context, clock: ManualClock) -> None:
    _enqueue(ctx, _sms(1), max_attempts=2)
    channel = MemoryChannel()
    channel.fail_next(5)
    assert dispatch(ctx, channel).retrying == 1
    clock.advance(OUTBOX_POLICY.max_delay)
    assert dispatch(ctx, channel).failed == 1
    [entry] = list_outbox(ctx)
    assert (entry.status, entry.attempts) == ("failed", 2)


def test_retry_failed_by_id(ctx: Context) -> None:
    a, b = _sms(1), _sms(2)
    _enqueue(ctx, a, b)
    channel = MemoryChannel()
    channel.fail_next(2, retryable=False)
    dispatch(ctx, channel)
    assert retry_failed(ctx, ids=[b.id]) == 1
    statuses = {e.id: e.status for e in list_outbox(ctx)}
    assert statuses == {a.id: "failed", b.id: "queued"}


def test_attachments_are_files_by_hash_not_row_data(ctx: Context) -> None:
    import hashlib

    message = Message(
        to="an@example.com",
        subject="Hop dong",
        text="Hop dong dinh kem",
        attachments=[("HD.pdf", "application/pdf", PDF)],
    )
    _enqueue(ctx, message)
    [row] = _rows(ctx)
    digest = hashlib.sha256(PDF).hexdigest()
    assert json.loads(str(row["attachments_json"])) == [
        {
            "filename": "HD.pdf",
            "content_type": "application/pdf",
            "sha256": digest,
            "size": len(PDF),
        }
    ]
    assert all(b"contract body" not in str(v).encode() for v in row.values())
    stored = ctx.data_dir / "outbox" / "attachments" / digest[:2] / digest
    assert stored.read_bytes() == PDF

    channel = MemoryChannel()
    assert dispatch(ctx, channel).sent == 1
    assert channel.sent[0].attachments[0].data == PDF


def test_an_altered_attachment_is_not_sent(ctx: Context) -> None:
    import hashlib

    message = Message(
        to="an@example.com", subject="s", text="t", attachments=[("a.pdf", "application/pdf", PDF)]
    )
    _enqueue(ctx, message)
    digest = hashlib.sha256(PDF).hexdigest()
    path: Path = ctx.data_dir / "outbox" / "attachments" / digest[:2] / digest
    path.write_bytes(PDF + b"tampered")
    channel = MemoryChannel()
    assert dispatch(ctx, channel).failed == 1
    assert channel.sent == []
    assert "altered" in (list_outbox(ctx)[0].last_error or "")


def test_messages_carrying_a_code_are_refused(ctx: Context) -> None:
    with pytest.raises(ValidationError) as info, transaction(ctx.engine) as session:
        enqueue(session, otp_sms(to="0912345678", code="123456", document_label="HD1"), ctx=ctx)
    assert info.value.field == "message"
    assert _rows(ctx) == []


class _Crash(Channel):
    name = "crash"

    def _send(self, message: Message) -> DeliveryReceipt:
        raise RuntimeError("the dispatcher process dies here")


def test_a_claim_left_by_a_dead_dispatcher_is_taken_over(ctx: Context, clock: ManualClock) -> None:
    _enqueue(ctx, _sms(1))
    with pytest.raises(RuntimeError):
        dispatch(ctx, _Crash())
    [entry] = list_outbox(ctx)
    assert entry.status == "sending"
    channel = MemoryChannel()
    assert dispatch(ctx, channel).claimed == 0  # still claimed
    clock.advance(CLAIM_SECONDS)
    assert dispatch(ctx, channel).sent == 1
    assert list_outbox(ctx)[0].status == "sent"


def test_concurrent_dispatchers_send_each_message_once(ctx: Context) -> None:
    messages = [_sms(n) for n in range(40)]
    _enqueue(ctx, *messages)
    channel = MemoryChannel()
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        try:
            barrier.wait()
            while dispatch(ctx, channel, limit=5).claimed:
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(m.id for m in channel.sent) == sorted(m.id for m in messages)
    assert {e.status for e in list_outbox(ctx, limit=100)} == {"sent"}


def test_list_outbox_checks_its_arguments(ctx: Context) -> None:
    with pytest.raises(ValidationError) as info:
        list_outbox(ctx, status="lost")
    assert info.value.field == "status"
    with pytest.raises(ValidationError):
        dispatch(ctx, MemoryChannel(), limit=0)
