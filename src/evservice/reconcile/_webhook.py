"""Transfer notifications pushed by a bank or a payment aggregator: a plain function.

:func:`handle_webhook` takes the raw body bytes, the request headers and a
context, and returns a :class:`WebhookResult` (HTTP status and a JSON body).
It needs no web framework; mount it in one. With Starlette / FastAPI (the
``evservice serve`` portal)::

    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from evservice.reconcile import handle_webhook

    async def payments_webhook(request):
        body = await request.body()
        result = await run_in_threadpool(handle_webhook, body, request.headers, ctx=ctx)
        return JSONResponse(result.body, status_code=result.status)

    app.add_route("/webhooks/payments", payments_webhook, methods=["POST"])

(read at most :data:`MAX_BODY_BYTES` of the body; the function refuses more).

The sender signs ``f"{t}.".encode() + body`` with HMAC-SHA256 under the shared
secret (``EVSERVICE_PAYMENT_WEBHOOK_SECRET``) and sends
``X-Evservice-Signature: t=<unix seconds>,v1=<hex>`` (several ``v1`` while a
secret is rotated); :func:`sign_webhook` makes the header. Refused: a missing
or wrong signature (401), a ``t`` outside the tolerance window around
``ctx.clock`` (401, so a captured request cannot be replayed later), a body
that is not our JSON (400/422). Inside the window, an event id seen before is
answered 200 ``duplicate`` and nothing is applied again (and the bank
transaction's own key would stop a second application anyway).

Body (JSON)::

    {"id": "evt_01H...", "type": "transfer.received",
     "data": {"transaction_id": "FT2631000123", "amount": "250000", "currency": "VND",
              "booked_at": "2026-11-05T09:12:00+07:00", "description": "HD 1C26TAA...",
              "account": "0071001234567", "customer_id": null}}
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from evservice._context import Context, resolve
from evservice.errors import ConfigurationError, ValidationError
from evservice.reconcile._match import reconcile
from evservice.reconcile._statements import BankTransaction
from evservice.reconcile._tables import ReconcileWebhookEvent
from evservice.store import insert_if_absent, transaction

__all__ = [
    "MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "WebhookConfig",
    "WebhookResult",
    "handle_webhook",
    "sign_webhook",
]

SIGNATURE_HEADER = "X-Evservice-Signature"
#: Largest body accepted (a notification is well under 2 KB).
MAX_BODY_BYTES = 64 * 1024
_EVENTS: sa.Table = ReconcileWebhookEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WebhookConfig:
    """The shared secrets (newest first while rotating) and the replay window."""

    secrets: Sequence[bytes]
    tolerance_seconds: int = 300

    def __post_init__(self) -> None:
        if not self.secrets or any(not isinstance(s, bytes) or len(s) < 16 for s in self.secrets):
            raise ConfigurationError("the webhook secret must be at least 16 bytes")
        if not 1 <= self.tolerance_seconds <= 3600:
            raise ConfigurationError("the webhook tolerance must be 1-3600 seconds")

    @classmethod
    def from_settings(cls, ctx: Context) -> WebhookConfig:
        secret = ctx.settings.payment_webhook_secret
        if secret is None:
            raise ConfigurationError(
                "payment_webhook_secret must be set to accept transfer webhooks "
                "(EVSERVICE_PAYMENT_WEBHOOK_SECRET)"
            )
        return cls(
            (secret.get_secret_value().encode(),),
            ctx.settings.payment_webhook_tolerance_seconds,
        )


@dataclass(frozen=True)
class WebhookResult:
    """HTTP status and JSON body to answer with; ``outcome`` when a transfer was matched."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def json_bytes(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode()


def sign_webhook(body: bytes, secret: bytes, timestamp: int) -> str:
    """The ``X-Evservice-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _check_signature(
    body: bytes, headers: Mapping[str, str], config: WebhookConfig, now: datetime
) -> WebhookResult | None:
    value = _header(headers, SIGNATURE_HEADER)
    if not value:
        return WebhookResult(401, {"error": f"missing {SIGNATURE_HEADER}"})
    parts = [p.strip().partition("=") for p in value.split(",")]
    stamps = [v for k, _, v in parts if k == "t"]
    macs = [v for k, _, v in parts if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not macs or len(stamps[0]) > 12:
        return WebhookResult(401, {"error": f"malformed {SIGNATURE_HEADER}"})
    sent = int(stamps[0])
    if abs(now.timestamp() - sent) > config.tolerance_seconds:
        return WebhookResult(401, {"error": "the signature timestamp is outside the window"})
    signed = f"{sent}.".encode() + body
    expected = [hmac.new(s, signed, hashlib.sha256).hexdigest() for s in config.secrets]
    if not any(hmac.compare_digest(e, m.lower()) for e in expected for m in macs):
        return WebhookResult(401, {"error": "the signature does not match"})
    return None


def _text(data: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise ValidationError(f"data.{name}", f"must be text of 1-{limit} characters")
    return value.strip()


def _transfer(payload: Any) -> tuple[str, BankTransaction]:
    if not isinstance(payload, dict):
        raise ValidationError("body", "must be a JSON object")
    event_id = payload.get("id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        raise ValidationError("id", "must be the event id, 1-100 characters")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValidationError("data", "must be an object")
    currency = data.get("currency", "VND")
    if currency != "VND":
        raise ValidationError("data.currency", "must be VND")
    raw_amount = data.get("amount")
    if isinstance(raw_amount, bool) or not isinstance(raw_amount, str | int):
        raise ValidationError("data.amount", "must be a string or an integer of dong")
    try:
        amount = Decimal(str(raw_amount))
    except InvalidOperation as exc:
        raise ValidationError("data.amount", "is not a number") from exc
    booked_text = _text(data, "booked_at", 40) or ""
    try:
        booked: date = (
            datetime.fromisoformat(booked_text).date()
            if "T" in booked_text
            else date.fromisoformat(booked_text)
        )
    except ValueError as exc:
        raise ValidationError("data.booked_at", "must be an ISO 8601 date or time") from exc
    tx = BankTransaction(
        bank_ref=_text(data, "transaction_id", 100) or "",
        amount=amount,
        booked_on=booked,
        memo=_text(data, "description", 500, required=False) or "",
        account=_text(data, "account", 34, required=False) or "",
        customer_hint=_text(data, "customer_id", 50, required=False),
        source="webhook",
    )
    return event_id, tx


def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    ctx: Context | None = None,
    config: WebhookConfig | None = None,
) -> WebhookResult:
    """Verify, parse and reconcile one transfer notification; never raises for bad requests.

    A :class:`ConfigurationError` (no secret configured) does raise: that is the
    operator's fault, not the sender's, and must not look like a refusal.
    """
    ctx = resolve(ctx)
    config = config or WebhookConfig.from_settings(ctx)
    if not isinstance(body, bytes | bytearray):
        return WebhookResult(400, {"error": "the body must be bytes"})
    body = bytes(body)
    if len(body) > MAX_BODY_BYTES:
        return WebhookResult(413, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
    refused = _check_signature(body, headers, config, ctx.clock.now())
    if refused is not None:
        return refused
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return WebhookResult(400, {"error": "the body is not UTF-8 JSON"})
    try:
        event_id, tx = _transfer(payload)
    except ValidationError as exc:
        return WebhookResult(422, {"error": str(exc)})
    with transaction(ctx.engine) as session:
        seen = session.execute(
            sa.select(_EVENTS.c.event_id).where(_EVENTS.c.event_id == event_id)
        ).first()
    if seen is not None:
        return WebhookResult(200, {"status": "duplicate", "event": event_id})
    report = reconcile([tx], ctx=ctx, actor="webhook")
    outcome = report.outcomes[0]
    with transaction(ctx.engine) as session:
        insert_if_absent(session, _EVENTS, {"event_id": event_id, "received_at": ctx.clock.now()})
    return WebhookResult(
        200,
        {
            "status": outcome.status,
            "event": event_id,
            "reason": outcome.reason,
            "invoice_id": outcome.invoice_id,
        },
    )
