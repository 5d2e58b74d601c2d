"""E-mail over SMTP (smtplib): STARTTLS, login, attachments."""

from __future__ import annotations

import smtplib
import ssl

from pydantic import SecretStr

from evservice.clock import Clock, SystemClock
from evservice.delivery._channel import Channel
from evservice.delivery._message import DeliveryReceipt, Message
from evservice.delivery._mime import build_email
from evservice.errors import DeliveryError, ValidationError

__all__ = ["SmtpChannel"]


class SmtpChannel(Channel):
    """Sends e-mail through an SMTP submission server (port 587, STARTTLS, AUTH).

    With ``starttls=True`` (the default) the channel refuses to log in or send
    over a server that does not offer STARTTLS; it never falls back to plain
    text. ``ssl_context`` defaults to the system trust store with hostname
    checking. A new connection is made per message: the outbox sends in
    batches small enough that this costs nothing that matters, and a broken
    connection cannot poison later sends.
    """

    name = "smtp"
    kinds = frozenset({"email"})

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        mail_from: str,
        username: str | None = None,
        password: SecretStr | str | None = None,
        starttls: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if not host:
            raise ValidationError("smtp_host", "must not be empty")
        if not 0 < port < 65536:
            raise ValidationError("smtp_port", "must be a TCP port (1-65535)")
        if username and password is None:
            raise ValidationError("smtp_password", "is required when smtp_user is set")
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.username = username
        self._password = SecretStr(password) if isinstance(password, str) else password
        self.starttls = starttls
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.clock = clock or SystemClock()

    def _where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def _send(self, message: Message) -> DeliveryReceipt:
        mime = build_email(message, mail_from=self.mail_from, now=self.clock.now())
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    context = self.ssl_context or ssl.create_default_context()
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.username and self._password is not None:
                    smtp.login(self.username, self._password.get_secret_value())
                smtp.send_message(mime)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            # The refusal maps raw addresses to replies: do not chain it.
            raise DeliveryError(
                f"{self._where()} refused the recipient {message.masked_to} ({codes})",
                retryable=all(400 <= c < 500 for c in codes),
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{self._where()} refused the login (SMTP {exc.smtp_code})", retryable=False
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"{self._where()} does not offer {'STARTTLS' if self.starttls else 'AUTH'}",
                retryable=False,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{self._where()} answered SMTP {exc.smtp_code} for message {message.id}",
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"{self._where()}: TLS certificate not trusted ({exc.verify_message})",
                retryable=False,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"{self._where()} unreachable or dropped the connection: {type(exc).__name__}",
                retryable=True,
            ) from exc
        return DeliveryReceipt(
            channel=self.name,
            message_id=message.id,
            to_masked=message.masked_to,
            status="sent",
            provider_id=str(mime["Message-ID"]),
        )
