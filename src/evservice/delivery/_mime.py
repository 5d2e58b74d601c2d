"""Build the RFC 5322 e-mail for a :class:`Message` (shared by SMTP and the file outbox)."""

from __future__ import annotations

import email.policy
import email.utils
from datetime import datetime
from email.message import EmailMessage

from evservice.delivery._message import Message
from evservice.vn import validate_email

__all__ = ["build_email"]


def build_email(message: Message, *, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message: text (and HTML alternative), then the attachments.

    Non-ASCII subjects and bodies (Vietnamese) are encoded by the ``email``
    package (RFC 2047 headers, UTF-8 bodies).
    """
    sender = validate_email(mail_from, "mail_from")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = f"<{message.id}@{sender.rpartition('@')[2]}>"
    msg.set_content(message.text)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
    for att in message.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype, filename=att.filename)
    return msg
