"""Messages, the file outbox channel, the memory channel, routing, retries and the factory."""

from __future__ import annotations

import email
import email.policy
import json
import stat
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evservice.delivery as delivery
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.delivery import (
    Attachment,
    FileOutboxChannel,
    MemoryChannel,
    Message,
    RetryPolicy,
    RoutingChannel,
    SmtpChannel,
    TwilioSmsChannel,
    WebhookSmsChannel,
    channel_from_settings,
    send_with_retry,
    validate_email,
)
from evservice.errors import ConfigurationError, DeliveryError, ValidationError

CLOCK = ManualClock(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))


def test_public_api_is_sorted_and_complete() -> None:
    def key(name: str) -> tuple[int, str]:  # ruff's order: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2), name

    assert delivery.__all__ == sorted(delivery.__all__, key=key)
    assert len(set(delivery.__all__)) == len(delivery.__all__)
    assert {n for n in vars(delivery) if not n.startswith("_")} == set(delivery.__all__)


def test_message_normalises_and_masks_the_destination() -> None:
    sms = Message(to="0912.345.678", kind="sms", text="xin chao")
    assert sms.to == "+84912345678"
    assert sms.masked_to == "+84 *** *** 678"
    assert "912345678" not in repr(sms)
    mail = Message(to=" Nam.Tran@Example.COM ", subject="Hi", text="Body")
    assert mail.to == "Nam.Tran@example.com"
    assert mail.masked_to == "N***@example.com"
    assert "Nam.Tran" not in repr(mail)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"to": "not a phone", "kind": "sms", "text": "x"}, "to"),
        ({"to": "nobody", "subject": "s", "text": "x"}, "to"),
        ({"to": "a@example.com", "subject": "s", "text": "  "}, "text"),
        ({"to": "a@example.com", "subject": "a\r\nBcc: x@evil.example", "text": "x"}, "subject"),
        ({"to": "a@example.com", "subject": "", "text": "x"}, "subject"),
        ({"to": "0912345678", "kind": "sms", "text": "x", "subject": "s"}, "kind"),
        ({"to": "a@example.com", "subject": "s", "text": "x", "kind": "fax"}, "kind"),
        ({"to": "a@example.com", "subject": "s", "text": "x", "tags": {"Bad Key": "v"}}, "tags"),
        ({"to": "a@example.com", "subject": "s", "text": "x", "id": "../../etc"}, "id"),
        (
            {
                "to": "a@example.com",
                "subject": "s",
                "text": "x",
                "attachments": [("../a", "a/b", b"")],
            },
            "attachments.0.filename",
        ),
        (
            {
                "to": "a@example.com",
                "subject": "s",
                "text": "x",
                "attachments": [("a", "pdf", b"")],
            },
            "attachments.0.content_type",
        ),
        ({"to": "a@example.com", "subject": "s", "text": "x", "attachments": [1]}, "attachments.0"),
    ],
)
def test_bad_messages_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Message(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert "evil" not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.sampled_from(["sms", "email"]))
def test_junk_destinations_raise_only_validation_errors(junk: str, kind: str) -> None:
    subject = "" if kind == "sms" else "s"
    try:
        message = Message(to=junk, kind=kind, subject=subject, text="t")  # type: ignore[arg-type]
    except ValidationError as exc:
        error: ValidationError | None = exc
    else:
        error = None
        assert message.masked_to
    if error is not None:
        assert error.field == "to"
        if len(junk.strip()) >= 6:  # the message never repeats the input
            assert junk.strip() not in str(error)


def test_validate_email() -> None:
    assert validate_email("An.Nguyen+hd@Mail.Example.VN") == "An.Nguyen+hd@mail.example.vn"
    for bad in ["", "a@", "@b.vn", "a b@c.vn", "a@b", "a@-b.vn", "a@b..vn", "a@b.vn\nBcc: c@d.vn"]:
        with pytest.raises(ValidationError):
            validate_email(bad)


def test_file_outbox_writes_an_eml_per_email(tmp_path: Path) -> None:
    channel = FileOutboxChannel(tmp_path / "outbox", mail_from="hd@evservice.example", clock=CLOCK)
    message = Message(
        to="an@example.com",
        subject="Hóa đơn điện tử",
        text="Kính gửi Quý khách",
        html="<p>Kính gửi</p>",
        attachments=[Attachment("hd.pdf", "application/pdf", b"%PDF-1.7 data")],
    )
    receipt = channel.send(message)
    path = tmp_path / "outbox" / "email" / f"{message.id}.eml"
    assert receipt.detail == str(path)
    assert receipt.status == "written"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Hóa đơn điện tử"
    assert parsed["To"] == "an@example.com"
    assert parsed["Date"] == "Sun, 01 Nov 2026 02:00:00 +0000"
    [att] = list(parsed.iter_attachments())
    assert att.get_content() == b"%PDF-1.7 data"
    assert list((tmp_path / "outbox" / "email").iterdir()) == [path]  # no temp files left


def test_file_outbox_writes_a_json_per_sms(tmp_path: Path) -> None:
    channel = FileOutboxChannel(tmp_path, clock=CLOCK)
    message = Message(to="0912345678", kind="sms", text="Ma OTP: 123456", tags={"k": "v"})
    channel.send(message)
    record = json.loads((tmp_path / "sms" / f"{message.id}.json").read_text())
    assert record == {
        "id": message.id,
        "to": "+84912345678",
        "text": "Ma OTP: 123456",
        "tags": {"k": "v"},
        "created_at": "2026-11-01T02:00:00+00:00",
    }


def test_file_outbox_failure_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(DeliveryError):
        FileOutboxChannel(blocker).send(Message(to="0912345678", kind="sms", text="x"))


def test_memory_channel_and_retry_with_backoff() -> None:
    channel = MemoryChannel()
    channel.fail_next(2)
    waits: list[float] = []
    message = Message(to="0912345678", kind="sms", text="x")
    receipt = send_with_retry(channel, message, policy=RetryPolicy(attempts=3), sleep=waits.append)
    assert receipt.provider_id == "mem-1"
    assert waits == [0.5, 1.0]
    assert channel.attempts == 3
    assert channel.sent == [message]


def test_retry_gives_up_after_the_last_attempt_and_on_permanent_errors() -> None:
    channel = MemoryChannel()
    channel.fail_next(5)
    waits: list[float] = []
    message = Message(to="0912345678", kind="sms", text="x")
    with pytest.raises(DeliveryError):
        send_with_retry(channel, message, policy=RetryPolicy(attempts=3), sleep=waits.append)
    assert channel.attempts == 3
    assert waits == [0.5, 1.0]
    channel = MemoryChannel()
    channel.fail_next(1, retryable=False)
    with pytest.raises(DeliveryError):
        send_with_retry(channel, message, sleep=waits.append)
    assert channel.attempts == 1


def test_retry_policy_delays_are_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay=60, factor=2, max_delay=3600)
    assert [policy.delay(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)


def test_routing_channel_sends_each_kind_its_way() -> None:
    mails, texts = MemoryChannel(["email"]), MemoryChannel(["sms"])
    router = RoutingChannel(email=mails, sms=texts)
    router.send(Message(to="a@example.com", subject="s", text="t"))
    router.send(Message(to="0912345678", kind="sms", text="t"))
    assert len(mails.sent) == 1
    assert len(texts.sent) == 1
    with pytest.raises(ValidationError):
        RoutingChannel(email=texts)
    only_mail = RoutingChannel(email=mails)
    with pytest.raises(DeliveryError):
        only_mail.send(Message(to="0912345678", kind="sms", text="t"))


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_factory_default_is_the_file_outbox(tmp_path: Path) -> None:
    channel = channel_from_settings(_settings(tmp_path))
    assert isinstance(channel, FileOutboxChannel)
    assert channel.directory == tmp_path / "outbox"


def test_factory_combines_smtp_and_an_sms_gateway(tmp_path: Path) -> None:
    channel = channel_from_settings(
        _settings(
            tmp_path,
            delivery_channel="smtp",
            smtp_host="smtp.example.com",
            smtp_user="u",
            smtp_password="p",
            sms_url="https://sms.example.com/hook",
            sms_auth_token="t",
        )
    )
    assert isinstance(channel, RoutingChannel)
    assert isinstance(channel.routes["email"], SmtpChannel)
    assert isinstance(channel.routes["sms"], WebhookSmsChannel)
    channel.close()
    twilio = channel_from_settings(
        _settings(
            tmp_path,
            delivery_channel="sms-twilio",
            sms_account_sid="AC" + "0" * 32,
            sms_auth_token="t",
            sms_from="+15005550006",
        )
    )
    assert isinstance(twilio, RoutingChannel)
    assert isinstance(twilio.routes["email"], FileOutboxChannel)
    assert isinstance(twilio.routes["sms"], TwilioSmsChannel)
    twilio.close()


def test_factory_reports_missing_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        channel_from_settings(_settings(tmp_path, delivery_channel="sms-webhook"))
    with pytest.raises(ConfigurationError):
        channel_from_settings(
            _settings(tmp_path, delivery_channel="sms-twilio", sms_account_sid="AC1")
        )
    with pytest.raises(ConfigurationError) as info:
        channel_from_settings(
            _settings(
                tmp_path,
                delivery_channel="sms-twilio",
                sms_account_sid="bad",
                sms_auth_token="t",
                sms_from="x",
            )
        )
    assert "sms_account_sid" in str(info.value)
