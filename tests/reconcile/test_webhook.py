"""The transfer webhook: signatures (wrong, expired, replayed), bodies, and what gets applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.errors import ConfigurationError
from evservice.reconcile import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    WebhookConfig,
    handle_webhook,
    open_receivables,
    sign_webhook,
)

from .conftest import memo_for, receivable

SECRET = b"webhook-secret-0123456789"
CONFIG = WebhookConfig((b"the-new-secret-0123456789", SECRET), tolerance_seconds=300)


def _body(event: str = "evt_1", tx: str = "FT1", amount: Any = "250000", **extra: Any) -> bytes:
    data = {
        "transaction_id": tx,
        "amount": amount,
        "currency": "VND",
        "booked_at": "2026-11-05T09:12:00+07:00",
        "description": memo_for(1),
        "account": "0071001234567",
        **extra,
    }
    return json.dumps({"id": event, "type": "transfer.received", "data": data}).encode()


def _send(ctx: Context, body: bytes, *, secret: bytes = SECRET, skew: int = 0) -> Any:
    stamp = int(ctx.clock.now().timestamp()) + skew
    headers = {SIGNATURE_HEADER.lower(): sign_webhook(body, secret, stamp)}
    return handle_webhook(body, headers, ctx=ctx, config=CONFIG)


def _paid(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT paid FROM reconcile_receivable WHERE invoice_id = 'inv-00000001'")
            ).scalar_one()
        )


def test_a_signed_notification_is_applied_once(ctx: Context) -> None:
    open_receivables([receivable(1)], ctx=ctx)
    result = _send(ctx, _body())
    assert result.status == 200
    assert result.body["status"] == "applied"
    assert result.body["invoice_id"] == "inv-00000001"
    # The same event again (a retry, or a replay inside the window): answered, not applied.
    again = _send(ctx, _body())
    assert (again.status, again.body["status"]) == (200, "duplicate")
    # Another event id for the same bank transaction: the transaction key stops it.
    other = _send(ctx, _body(event="evt_2"))
    assert (other.status, other.body["status"]) == (200, "duplicate")
    assert _paid(ctx) == 250_000
    assert json.loads(result.json_bytes())["event"] == "evt_1"


def test_wrong_expired_early_missing_and_malformed_signatures(ctx: Context) -> None:
    open_receivables([receivable(1)], ctx=ctx)
    body = _body()
    assert _send(ctx, body, secret=b"not-the-secret-0123456789").status == 401
    assert _send(ctx, body, skew=-301).body["error"].endswith("outside the window")
    assert _send(ctx, body, skew=+301).status == 401
    tampered = body.replace(b"250000", b"950000")
    stamp = int(ctx.clock.now().timestamp())
    headers = {SIGNATURE_HEADER: sign_webhook(body, SECRET, stamp)}
    assert handle_webhook(tampered, headers, ctx=ctx, config=CONFIG).status == 401
    for header in ({}, {SIGNATURE_HEADER: "v1=abc"}, {SIGNATURE_HEADER: "t=x,v1=abc"}):
        assert handle_webhook(body, header, ctx=ctx, config=CONFIG).status == 401
    assert _paid(ctx) == 0
    # Inside the window, a slightly late signature is fine.
    assert _send(ctx, body, skew=-299).body["status"] == "applied"


def test_a_captured_request_replayed_later_is_refused(ctx: Context, clock: ManualClock) -> None:
    open_receivables([receivable(1)], ctx=ctx)
    body = _body(event="evt_9", tx="FT9", amount="100000")
    stamp = int(ctx.clock.now().timestamp())
    headers = {SIGNATURE_HEADER: sign_webhook(body, SECRET, stamp)}
    assert handle_webhook(body, headers, ctx=ctx, config=CONFIG).body["status"] == "applied"
    clock.advance(minutes=10)
    replay = handle_webhook(body, headers, ctx=ctx, config=CONFIG)
    assert replay.status == 401
    assert _paid(ctx) == 100_000


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"\xff\xfe", 400),
        (b"[1, 2]", 422),
        (json.dumps({"id": "e", "data": {}}).encode(), 422),
        (_body(amount=12.5), 422),
        (_body(amount="-5"), 422),
        (_body(amount="1e400000"), 422),
        (_body(currency="USD"), 422),
        (_body(booked_at="yesterday"), 422),
        (b" " * (MAX_BODY_BYTES + 1), 413),
    ],
)
def test_bad_bodies(sqlite_ctx: Context, body: bytes, status: int) -> None:
    assert _send(sqlite_ctx, body).status == status


def test_the_secret_comes_from_the_settings(sqlite_ctx: Context) -> None:
    with pytest.raises(ConfigurationError):
        handle_webhook(b"{}", {}, ctx=sqlite_ctx)
    settings = sqlite_ctx.settings.model_copy(
        update={"payment_webhook_secret": SecretStr("a-secret-from-env-123456")}
    )
    assert WebhookConfig.from_settings(Context(settings=settings)).tolerance_seconds == 300
    with pytest.raises(ConfigurationError):
        WebhookConfig((b"short",))
