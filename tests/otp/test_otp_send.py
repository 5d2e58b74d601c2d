"""send_challenge / resend_challenge: the code goes out by SMS or e-mail, outages are survivable."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.delivery import MemoryChannel
from evservice.errors import CodeNotDelivered, RateLimited, ValidationError
from evservice.otp import get_challenge, resend_challenge, send_challenge, verify

PDF = b"%PDF-1.7\nHop dong mua ban dien HD2026-000123\n%%EOF\n"
PDF_SHA256 = hashlib.sha256(PDF).hexdigest()


def _code(channel: MemoryChannel) -> str:
    return channel.sent[-1].text.split(": ")[1][:6]


def _count(ctx: Context, table: str) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_sms_code_confirms_the_document(ctx: Context) -> None:
    channel = MemoryChannel()
    challenge = send_challenge(
        channel,
        subject="HD2026-000123",
        document_sha256=PDF_SHA256,
        kind="sms",
        destination="0912 345 678",
        ctx=ctx,
    )
    [message] = channel.sent
    assert message.to == "+84912345678"
    assert message.text.startswith("Ma OTP ky hop dong HD2026-000123: ")
    consent = verify(challenge.id, _code(channel), document_sha256=PDF_SHA256, ctx=ctx)
    assert consent.destination_masked == "+84 *** *** 678"


def test_email_carries_the_contract_and_its_hash(ctx: Context) -> None:
    channel = MemoryChannel()
    challenge = send_challenge(
        channel,
        subject="HD2026-000123",
        document_sha256=PDF_SHA256,
        kind="email",
        destination="an@example.com",
        locale="en",
        attachments=[("HD2026-000123.pdf", "application/pdf", PDF)],
        ctx=ctx,
    )
    [message] = channel.sent
    assert message.attachments[0].data == PDF
    assert PDF_SHA256 in message.text
    code = message.text.split("is:\n\n")[1].split()[0]
    assert verify(challenge.id, code, document_sha256=PDF_SHA256, ctx=ctx).channel == "email"


def test_gateway_outage_leaves_the_challenge_retryable(ctx: Context, clock: ManualClock) -> None:
    channel = MemoryChannel()
    channel.fail_next(3)
    waits: list[float] = []
    with pytest.raises(CodeNotDelivered) as info:
        send_challenge(
            channel,
            subject="HD2026-000123",
            document_sha256=PDF_SHA256,
            kind="sms",
            destination="0912345678",
            ctx=ctx,
            sleep=waits.append,
        )
    assert waits == [0.5, 1.0]  # three tries with backoff
    assert info.value.retryable is True
    pending = get_challenge(info.value.challenge_id, ctx)
    assert pending.status == "pending"
    assert pending.resend_after == clock.now()  # no cooldown after a failed send

    renewed = resend_challenge(pending.id, channel, destination="0912345678", ctx=ctx)
    assert renewed.send_count == 2
    assert verify(pending.id, _code(channel), document_sha256=PDF_SHA256, ctx=ctx)
    with ctx.engine.connect() as conn:
        statuses = conn.execute(
            sa.text("SELECT status FROM otp_send ORDER BY sent_at, status")
        ).scalars()
        assert sorted(statuses) == ["failed", "issued"]


def test_resend_waits_for_the_cooldown(ctx: Context, clock: ManualClock) -> None:
    channel = MemoryChannel()
    challenge = send_challenge(
        channel,
        subject="HD2026-000123",
        document_sha256=PDF_SHA256,
        kind="sms",
        destination="0912345678",
        ctx=ctx,
    )
    with pytest.raises(RateLimited):
        resend_challenge(challenge.id, channel, destination="0912345678", ctx=ctx)
    assert len(channel.sent) == 1
    clock.advance(timedelta(seconds=60).total_seconds())
    resend_challenge(challenge.id, channel, destination="0912345678", ctx=ctx)
    assert len(channel.sent) == 2


def test_bad_message_input_costs_no_challenge(ctx: Context) -> None:
    channel = MemoryChannel()
    with pytest.raises(ValidationError) as info:
        send_challenge(
            channel,
            subject="HD2026-000123",
            document_label="HD-" + "9" * 40,
            document_sha256=PDF_SHA256,
            kind="sms",
            destination="0912345678",
            ctx=ctx,
        )
    assert info.value.field == "document_label"
    with pytest.raises(ValidationError) as info:
        send_challenge(
            channel,
            subject="HD2026-000123",
            document_sha256=PDF_SHA256,
            kind="sms",
            destination="0912345678",
            purpose="payment",
            ctx=ctx,
        )
    assert info.value.field == "purpose"
    assert _count(ctx, "otp_challenge") == 0
    assert channel.attempts == 0


def test_resend_to_another_destination_is_refused(ctx: Context, clock: ManualClock) -> None:
    channel = MemoryChannel()
    challenge = send_challenge(
        channel,
        subject="HD2026-000123",
        document_sha256=PDF_SHA256,
        kind="sms",
        destination="0912345678",
        ctx=ctx,
    )
    clock.advance(60)
    with pytest.raises(ValidationError) as info:
        resend_challenge(challenge.id, channel, destination="0987654321", ctx=ctx)
    assert info.value.field == "destination"
    assert len(channel.sent) == 1
