"""SmtpChannel against a real aiosmtpd server on loopback (STARTTLS + AUTH)."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

from evservice.delivery import Message, SmtpChannel, otp_email
from evservice.errors import DeliveryError

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


if TYPE_CHECKING:
    from conftest import SmtpServer


def _channel(server: SmtpServer, **kwargs: object) -> SmtpChannel:
    options: dict[str, object] = {
        "mail_from": "hopdong@evservice.example",
        "username": server.user,
        "password": server.password,
        "ssl_context": server.tls.client_context(),
        "timeout": 5.0,
    }
    options.update(kwargs)
    return SmtpChannel(server.host, server.port, **options)  # type: ignore[arg-type]


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_sends_over_starttls_with_auth_and_attachment(smtp_server: SmtpServer) -> None:
    message = otp_email(
        to="Khach.Hang@Example.COM",
        code="482913",
        document_label="HD2026-000123",
        document_sha256="ab" * 32,
        attachments=[("HD2026-000123.pdf", "application/pdf", PDF)],
    )
    receipt = _channel(smtp_server).send(message)

    assert receipt.channel == "smtp"
    assert receipt.to_masked == "K***@example.com"
    assert smtp_server.handler.auth_logins == [smtp_server.user.encode()]
    [envelope] = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["Khach.Hang@example.com"]
    assert envelope.mail_from == "hopdong@evservice.example"
    assert envelope.original_content is not None
    msg = _parse(envelope.original_content)
    assert msg["Subject"] == "Mã OTP ký hợp đồng HD2026-000123"
    assert msg["Message-ID"] == f"<{message.id}@evservice.example>"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    assert "482913" in body.get_content()
    html = msg.get_body(preferencelist=("html",))
    assert html is not None
    assert "<strong>482913</strong>" in html.get_content()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "HD2026-000123.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_wrong_password_is_not_retryable_and_names_no_secret(smtp_server: SmtpServer) -> None:
    message = Message(to="nam@example.com", subject="Hi", text="Body")
    with pytest.raises(DeliveryError) as info:
        _channel(smtp_server, password="wrong-password").send(message)
    assert info.value.retryable is False
    assert "535" in str(info.value)
    assert "wrong-password" not in str(info.value)
    assert smtp_server.handler.envelopes == []


def test_refuses_to_send_without_tls_when_the_server_requires_it(
    smtp_server: SmtpServer,
) -> None:
    message = Message(to="nam@example.com", subject="Hi", text="Body")
    with pytest.raises(DeliveryError) as info:
        _channel(smtp_server, starttls=False).send(message)
    assert info.value.retryable is False
    assert smtp_server.handler.envelopes == []


def test_untrusted_certificate_is_not_retryable(smtp_server: SmtpServer) -> None:
    message = Message(to="nam@example.com", subject="Hi", text="Body")
    import ssl

    with pytest.raises(DeliveryError) as info:
        _channel(smtp_server, ssl_context=ssl.create_default_context()).send(message)
    assert info.value.retryable is False
    assert "certificate" in str(info.value)


def test_connection_refused_is_retryable(free_port: int) -> None:
    channel = SmtpChannel("127.0.0.1", free_port, mail_from="a@evservice.example", timeout=2.0)
    with pytest.raises(DeliveryError) as info:
        channel.send(Message(to="nam@example.com", subject="Hi", text="Body"))
    assert info.value.retryable is True
    assert "nam@example.com" not in str(info.value)


def test_server_that_hangs_times_out_as_retryable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection but never greets
        port = listener.getsockname()[1]
        channel = SmtpChannel("127.0.0.1", port, mail_from="a@evservice.example", timeout=0.5)
        with pytest.raises(DeliveryError) as info:
            channel.send(Message(to="nam@example.com", subject="Hi", text="Body"))
    assert info.value.retryable is True


def test_sms_is_refused_by_an_email_channel(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as info:
        _channel(smtp_server).send(Message(to="0912345678", kind="sms", text="hello"))
    assert info.value.retryable is False


def test_server_without_starttls_is_refused_not_downgraded(free_port: int) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self) -> None:
            self.count = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
            self.count += 1
            return "250 OK"

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port)
    controller.start()
    try:
        channel = SmtpChannel("127.0.0.1", free_port, mail_from="a@evservice.example", timeout=5)
        with pytest.raises(DeliveryError) as info:
            channel.send(Message(to="nam@example.com", subject="Hi", text="Body"))
    finally:
        controller.stop()
    assert info.value.retryable is False
    assert "STARTTLS" in str(info.value)
    assert sink.count == 0
