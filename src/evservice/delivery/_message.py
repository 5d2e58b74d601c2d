"""What a channel sends (:class:`Message`) and what it says back (:class:`DeliveryReceipt`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from evservice.delivery._address import Kind, mask_destination, normalise_destination
from evservice.errors import ValidationError

__all__ = ["Attachment", "DeliveryReceipt", "Message"]

_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_TAG_KEY = re.compile(r"^[a-z0-9_.-]{1,40}$")
_FORBIDDEN_IN_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail, such as the contract PDF or the invoice XML."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.filename, str)
            or not self.filename.strip()
            or len(self.filename) > 200
            or _FORBIDDEN_IN_FILENAME.search(self.filename)
            or self.filename in {".", ".."}
        ):
            raise ValidationError(
                "attachments.filename", "must be a plain file name (no path, at most 200)"
            )
        if not isinstance(self.content_type, str) or not _CONTENT_TYPE.fullmatch(self.content_type):
            raise ValidationError("attachments.content_type", "must be a MIME type like type/sub")
        if not isinstance(self.data, bytes | bytearray):
            raise ValidationError("attachments.data", "must be bytes")
        object.__setattr__(self, "data", bytes(self.data))


def _attachment(item: Any, index: int) -> Attachment:
    if isinstance(item, Attachment):
        return item
    if isinstance(item, tuple | list) and len(item) == 3:
        try:
            return Attachment(*item)
        except ValidationError as exc:
            field_name = exc.field.replace("attachments.", f"attachments.{index}.")
            raise ValidationError(field_name, exc.reason) from None
    raise ValidationError(
        f"attachments.{index}", "must be an Attachment or (filename, content_type, bytes)"
    )


@dataclass(frozen=True)
class Message:
    """One e-mail or SMS. ``to`` is normalised on creation (E.164 or a checked address).

    ``id`` identifies the message end to end (outbox row, file name, gateway
    idempotency key). ``sensitive`` marks messages that carry a one-time code:
    they are sent directly and never written to the durable outbox table.
    ``repr`` shows the masked destination only.
    """

    to: str = field(repr=False)
    text: str = field(repr=False)
    kind: Kind = "email"
    subject: str = ""
    html: str | None = field(default=None, repr=False)
    attachments: tuple[Attachment, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    sensitive: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.kind not in ("email", "sms"):
            raise ValidationError("kind", "must be 'email' or 'sms'")
        object.__setattr__(self, "to", normalise_destination(self.kind, self.to, "to"))
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValidationError("text", "must not be empty")
        if not isinstance(self.subject, str) or "\n" in self.subject or "\r" in self.subject:
            raise ValidationError("subject", "must be one line of text")
        if len(self.subject) > 900:
            raise ValidationError("subject", "must be at most 900 characters")
        if not isinstance(self.id, str) or not _MESSAGE_ID.fullmatch(self.id):
            raise ValidationError("id", "must be 8-64 letters, digits, '-' or '_'")
        items = self.attachments
        if not isinstance(items, Iterable) or isinstance(items, str | bytes):
            raise ValidationError("attachments", "must be a sequence of attachments")
        attachments = tuple(_attachment(item, i) for i, item in enumerate(items))
        object.__setattr__(self, "attachments", attachments)
        tags = dict(self.tags)
        for key, value in tags.items():
            if not isinstance(key, str) or not _TAG_KEY.fullmatch(key):
                raise ValidationError("tags", "keys must be 1-40 of a-z, 0-9, '_', '.', '-'")
            if not isinstance(value, str) or len(value) > 200:
                raise ValidationError(f"tags.{key}", "must be text of at most 200 characters")
        object.__setattr__(self, "tags", tags)
        if self.kind == "sms":
            if self.attachments or self.html is not None or self.subject:
                raise ValidationError("kind", "an SMS has no subject, HTML or attachments")
        elif not self.subject.strip():
            raise ValidationError("subject", "an e-mail needs a subject")

    @property
    def masked_to(self) -> str:
        """The destination as logs and listings may show it."""
        return mask_destination(self.kind, self.to)


@dataclass(frozen=True)
class DeliveryReceipt:
    """What a channel reports after accepting a message.

    ``provider_id`` is the gateway's id (Twilio ``sid``, SMTP queue id, file
    name); ``status`` is the gateway's word for the state (``sent``, ``queued``,
    ``written``...). Only the masked destination is kept.
    """

    channel: str
    message_id: str
    to_masked: str
    status: str
    provider_id: str | None = None
    detail: str | None = None
