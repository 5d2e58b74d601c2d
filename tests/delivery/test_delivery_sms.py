"""SMS channels against a local HTTP server speaking the webhook and Twilio API shapes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from evservice.delivery import (
    Channel,
    Message,
    RetryPolicy,
    TwilioSmsChannel,
    WebhookSmsChannel,
    otp_sms,
    send_with_retry,
)
from evservice.errors import DeliveryError, ValidationError

if TYPE_CHECKING:
    from conftest import Gateway

C = TypeVar("C", bound=Channel)
RAW = "0912 345 678"
E164 = "+84912345678"


def _sms(text: str = "Hoa don C26TAA-00000123: 250.000 d") -> Message:
    return Message(to=RAW, kind="sms", text=text)


_open: list[Channel] = []


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    """Every channel a test opens is closed (httpx keeps a connection pool)."""
    yield
    while _open:
        _open.pop().close()


def _keep(channel: C) -> C:
    _open.append(channel)
    return channel


def _webhook(gateway: Gateway, **kwargs: object) -> WebhookSmsChannel:
    options: dict[str, object] = {"secret": gateway.webhook_secret, "sender": "EVNHCMC"}
    options.update(kwargs)
    return _keep(WebhookSmsChannel(gateway.webhook_url, **options))  # type: ignore[arg-type]


def _twilio(gateway: Gateway, **kwargs: object) -> TwilioSmsChannel:
    options: dict[str, object] = {"base_url": gateway.twilio_base}
    options.update(kwargs)
    return _keep(
        TwilioSmsChannel(
            gateway.twilio_sid,
            gateway.twilio_token,
            "+15005550006",
            **options,  # type: ignore[arg-type]
        )
    )


def test_webhook_posts_signed_json(sms_gateway: Gateway) -> None:
    message = _sms()
    receipt = _webhook(sms_gateway).send(message)

    assert receipt.provider_id == "wh-1"
    assert receipt.to_masked == "+84 *** *** 678"
    [got] = sms_gateway.delivered
    assert got.path == "/hooks/sms?token=query-secret"
    assert got.json() == {
        "id": message.id,
        "to": E164,
        "text": "Hoa don C26TAA-00000123: 250.000 d",
        "sender": "EVNHCMC",
        "tags": {},
    }
    expected = hmac.new(sms_gateway.webhook_secret.encode(), got.body, hashlib.sha256)
    assert got.headers["x-evservice-signature"] == "sha256=" + expected.hexdigest()
    assert got.headers["idempotency-key"] == message.id
    assert sms_gateway.webhook_secret not in str(got.headers)


def test_webhook_with_the_wrong_secret_is_refused_for_good(sms_gateway: Gateway) -> None:
    with pytest.raises(DeliveryError) as info:
        _webhook(sms_gateway, secret="not-the-secret").send(_sms())
    assert info.value.retryable is False
    assert "401" in str(info.value)
    assert sms_gateway.delivered == []


@pytest.mark.parametrize(
    ("status", "retryable"), [(503, True), (500, True), (429, True), (400, False), (404, False)]
)
def test_http_errors_are_classified(sms_gateway: Gateway, status: int, retryable: bool) -> None:
    sms_gateway.script(status)
    with pytest.raises(DeliveryError) as info:
        _webhook(sms_gateway).send(_sms())
    assert info.value.retryable is retryable
    assert f"HTTP {status}" in str(info.value)
    # The message names the host, never the number, the text, the URL's query or the secret.
    text = str(info.value)
    for secret in (E164, "912345678", "Hoa don", "query-secret", sms_gateway.webhook_secret):
        assert secret not in text


def test_timeout_is_retryable(sms_gateway: Gateway) -> None:
    sms_gateway.delay = 1.0
    with pytest.raises(DeliveryError) as info:
        _webhook(sms_gateway, timeout=0.2).send(_sms())
    assert info.value.retryable is True
    assert "timed out" in str(info.value)


def test_connection_refused_is_retryable(free_port: int) -> None:
    channel = _keep(WebhookSmsChannel(f"http://127.0.0.1:{free_port}/sms", secret="x"))
    with pytest.raises(DeliveryError) as info:
        channel.send(_sms())
    assert info.value.retryable is True
    assert "unreachable" in str(info.value)


def test_outage_then_recovery_with_backoff(sms_gateway: Gateway) -> None:
    sms_gateway.script(503, 503)
    waits: list[float] = []
    message = otp_sms(to=RAW, code="123456", document_label="HD2026-000123")
    receipt = send_with_retry(
        _webhook(sms_gateway),
        message,
        policy=RetryPolicy(attempts=3, base_delay=0.5, factor=2.0),
        sleep=waits.append,
    )
    assert receipt.provider_id == "wh-1"
    assert waits == [0.5, 1.0]
    assert len(sms_gateway.received) == 3
    assert len(sms_gateway.delivered) == 1
    assert sms_gateway.delivered[0].json()["text"] == (
        "Ma OTP ky hop dong HD2026-000123: 123456. Het han sau 5 phut. Khong chia se ma nay."
    )


def test_twilio_posts_the_messages_api_form(sms_gateway: Gateway) -> None:
    message = _sms()
    receipt = _twilio(sms_gateway).send(message)

    [got] = sms_gateway.delivered
    assert got.path == f"/2010-04-01/Accounts/{sms_gateway.twilio_sid}/Messages.json"
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert got.form() == {
        "To": E164,
        "From": "+15005550006",
        "Body": "Hoa don C26TAA-00000123: 250.000 d",
    }
    assert receipt.provider_id == f"SM{1:032x}"
    assert receipt.status == "queued"
    assert receipt.channel == "sms-twilio"


def test_twilio_error_json_is_named_without_echoing_the_number(sms_gateway: Gateway) -> None:
    sms_gateway.script(
        (
            400,
            {
                "code": 21211,
                "message": f"The 'To' number {E164} is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
        )
    )
    with pytest.raises(DeliveryError) as info:
        _twilio(sms_gateway).send(_sms())
    assert info.value.retryable is False
    assert "21211" in str(info.value)
    assert E164 not in str(info.value)


def test_twilio_wrong_token_is_not_retryable(sms_gateway: Gateway) -> None:
    channel = _keep(
        TwilioSmsChannel(
            sms_gateway.twilio_sid, "wrong-token", "+15005550006", base_url=sms_gateway.twilio_base
        )
    )
    with pytest.raises(DeliveryError) as info:
        channel.send(_sms())
    assert info.value.retryable is False
    assert "20003" in str(info.value)
    assert "wrong-token" not in str(info.value)


def test_twilio_reply_with_failed_status_is_an_error(sms_gateway: Gateway) -> None:
    sms_gateway.script((201, {"sid": "SMdead", "status": "failed"}))
    with pytest.raises(DeliveryError) as info:
        _twilio(sms_gateway).send(_sms())
    assert info.value.retryable is False
    assert "failed" in str(info.value)


def test_twilio_too_many_requests_is_retryable(sms_gateway: Gateway) -> None:
    sms_gateway.script((429, {"code": 20429, "message": "Too Many Requests", "status": 429}))
    with pytest.raises(DeliveryError) as info:
        _twilio(sms_gateway).send(_sms())
    assert info.value.retryable is True
    assert "20429" in str(info.value)


def test_constructor_checks() -> None:
    with pytest.raises(ValidationError) as info:
        TwilioSmsChannel("AC123", "t", "+15005550006")
    assert info.value.field == "sms_account_sid"
    with pytest.raises(ValidationError) as info:
        WebhookSmsChannel("ftp://example.com/", secret="x")
    assert info.value.field == "sms_url"
    with pytest.raises(ValidationError) as info:
        WebhookSmsChannel("https://example.com/", secret="")
    assert info.value.field == "sms_auth_token"


def test_email_is_refused_by_an_sms_channel(sms_gateway: Gateway) -> None:
    with pytest.raises(DeliveryError) as info:
        _webhook(sms_gateway).send(Message(to="nam@example.com", subject="s", text="t"))
    assert info.value.retryable is False
    assert sms_gateway.received == []
