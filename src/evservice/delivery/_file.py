"""The embedded default channel: one file per message, so a demo shows what would be sent.

One-time codes never enter the durable outbox (they are sent at once), so in
the embedded set-up the files are where a developer finds them:
:func:`list_outbox_files` lists them with masked destinations, and
:func:`read_outbox_file` gives one message's text (the CLI's ``outbox show
--reveal``, allowed only while the file outbox is the configured channel).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from evservice._files import write_atomically
from evservice.clock import Clock, SystemClock
from evservice.delivery._address import Kind, mask_destination
from evservice.delivery._channel import Channel
from evservice.delivery._message import DeliveryReceipt, Message
from evservice.delivery._mime import build_email
from evservice.errors import DeliveryError, NotFoundError, StoreError, ValidationError

__all__ = ["FileOutboxChannel", "OutboxFile", "list_outbox_files", "read_outbox_file"]

_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_SUFFIXES: dict[str, Kind] = {".eml": "email", ".json": "sms"}
#: Headers the file outbox adds to an e-mail it writes: the message's tags.
_TAG_HEADER = "x-evservice-"


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
            mail = build_email(message, mail_from=self.mail_from, now=now)
            for name, value in sorted(message.tags.items()):
                mail[f"X-Evservice-{name.capitalize()}"] = value
            data = mail.as_bytes()
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


@dataclass(frozen=True)
class OutboxFile:
    """A message the file outbox wrote: never its raw destination, never its text."""

    id: str
    kind: Kind
    to_masked: str
    created_at: datetime | None
    subject: str | None
    path: Path
    tags: dict[str, str] = field(default_factory=dict)


def _parse(path: Path) -> tuple[OutboxFile, str]:
    kind = _SUFFIXES[path.suffix]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read {path.name}: {exc.strerror}") from exc
    try:
        if kind == "sms":
            record = json.loads(raw)
            to, text, subject = str(record["to"]), str(record["text"]), None
            created: datetime | None = datetime.fromisoformat(record["created_at"])
            tags = {str(k): str(v) for k, v in dict(record.get("tags") or {}).items()}
        else:
            mail = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(mail, EmailMessage)  # noqa: S101 - the default policy makes one
            body = mail.get_body(preferencelist=("plain",))
            text = body.get_content() if isinstance(body, EmailMessage) else ""
            to, subject = str(mail["To"]), str(mail["Subject"])
            date = mail["Date"]
            created = date.datetime if date is not None else None
            prefix = "x-evservice-"
            tags = {
                k[len(prefix) :].lower(): str(v)
                for k, v in mail.items()
                if k.lower().startswith(prefix)
            }
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path.name} is not a message the file outbox wrote") from exc
    try:
        masked = mask_destination(kind, to)
    except ValidationError:
        masked = "***"
    return OutboxFile(path.stem, kind, masked, created, subject, path, tags), text


def list_outbox_files(directory: Path, *, limit: int | None = None) -> list[OutboxFile]:
    """The messages under ``directory`` (``email/*.eml``, ``sms/*.json``), newest first."""
    paths = [
        p
        for sub in ("email", "sms")
        for p in (Path(directory) / sub).glob("*")
        if p.suffix in _SUFFIXES and p.is_file()
    ]
    paths.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    found = []
    for path in paths[:limit]:
        try:
            found.append(_parse(path)[0])
        except StoreError:
            continue  # not ours (a stray file); listing never fails on it
    return found


def read_outbox_file(directory: Path, message_id: str) -> tuple[OutboxFile, str]:
    """One message and its full text (which may hold a one-time code)."""
    if not isinstance(message_id, str) or not _ID.fullmatch(message_id):
        raise ValidationError("id", "is not a message id")
    for sub, suffix in (("email", ".eml"), ("sms", ".json")):
        path = Path(directory) / sub / f"{message_id}{suffix}"
        if path.is_file():
            return _parse(path)
    raise NotFoundError(f"no message {message_id} in the file outbox")
