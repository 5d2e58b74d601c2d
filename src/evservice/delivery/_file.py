"""The embedded default channel: one file per message, so a demo shows what would be sent."""

from __future__ import annotations

import json
from pathlib import Path

from evservice._files import write_atomically
from evservice.clock import Clock, SystemClock
from evservice.delivery._channel import Channel
from evservice.delivery._message import DeliveryReceipt, Message
from evservice.delivery._mime import build_email
from evservice.errors import DeliveryError, StoreError

__all__ = ["FileOutboxChannel"]


class FileOutboxChannel(Channel):
    """Writes ``<directory>/email/<id>.eml`` or ``<directory>/sms/<id>.json`` per message.

    The files hold exactly what a real channel would send, including one-time
    codes and the raw destination; they are created readable by the owner
    only (0600). Writes are atomic (temporary file, then rename), so a reader
    never sees half a message.
    """

    name = "outbox"

    def __init__(
        self,
        directory: Path,
        *,
        mail_from: str = "hoadon@evservice.example",
        clock: Clock | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.mail_from = mail_from
        self.clock = clock or SystemClock()

    def _send(self, message: Message) -> DeliveryReceipt:
        now = self.clock.now()
        if message.kind == "email":
            data = build_email(message, mail_from=self.mail_from, now=now).as_bytes()
            path = self.directory / "email" / f"{message.id}.eml"
        else:
            record = {
                "id": message.id,
                "to": message.to,
                "text": message.text,
                "tags": dict(message.tags),
                "created_at": now.isoformat(),
            }
            data = (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()
            path = self.directory / "sms" / f"{message.id}.json"
        try:
            write_atomically(path, data, mode=0o600)
        except StoreError as exc:
            raise DeliveryError(f"cannot write message {message.id} to the outbox: {exc}") from exc
        return DeliveryReceipt(
            channel=self.name,
            message_id=message.id,
            to_masked=message.masked_to,
            status="written",
            provider_id=path.name,
            detail=str(path),
        )
