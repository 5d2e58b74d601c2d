"""Signed, expiring links to a challenge's page on the customer portal.

The OTP message carries ``<portal_url>/c/<token>``; the token names the
challenge and the instant the link stops working, and is signed with a key
derived from the OTP server key, so nobody can make a link to another
challenge or stretch a link's life. It is short enough for one SMS:
base64url(challenge id (16 bytes) || expiry (4 bytes, Unix seconds) || MAC (8
bytes)) is 38 characters. A 64-bit MAC is enough because every guess must be
sent to the portal, which rate-limits them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from datetime import UTC, datetime

from evservice.config import Settings
from evservice.errors import ValidationError
from evservice.otp._key import server_key

__all__ = ["derive_key", "link_token", "open_link_token"]

_MAC_BYTES = 8
_TOKEN_BYTES = 16 + 4 + _MAC_BYTES


def derive_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` (``"portal-link"``, ``"portal-csrf"``, ...) from the OTP key.

    Each use gets its own key, so a value made for one purpose is never valid for another.
    """
    if not purpose or not purpose.isascii():
        raise ValidationError("purpose", "must be a non-empty ASCII name")
    label = b"evservice-derived-key-v1\x00" + purpose.encode("ascii")
    return hmac.new(server_key(settings), label, hashlib.sha256).digest()


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"evservice-portal-link-v1\x00" + body, hashlib.sha256).digest()[
        :_MAC_BYTES
    ]


def link_token(
    challenge_id: str, expires_at: datetime, settings: Settings, *, purpose: str = "portal-link"
) -> str:
    """The signed token of a link to ``challenge_id``'s page, valid until ``expires_at``.

    ``purpose`` picks the derived key: a token made for one kind of page (say
    ``"portal-totp"``, an authenticator enrolment) never opens another.
    """
    try:
        raw_id = uuid.UUID(challenge_id).bytes
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValidationError("challenge_id", "is not a challenge id") from exc
    if expires_at.tzinfo is None:
        raise ValidationError("expires_at", "must be timezone-aware")
    seconds = int(expires_at.timestamp())
    if not 0 < seconds < 2**32:
        raise ValidationError("expires_at", "is out of range")
    body = raw_id + struct.pack(">I", seconds)
    mac = _mac(derive_key(settings, purpose), body)
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode("ascii")


def open_link_token(
    token: str, settings: Settings, *, purpose: str = "portal-link"
) -> tuple[str, datetime]:
    """The challenge id and expiry a token was signed for; ValidationError if it is not ours.

    Expiry is returned, not checked, so the caller can tell "expired" from "forged".
    """
    text = token.strip() if isinstance(token, str) else ""
    if not 30 <= len(text) <= 40 or not text.isascii():
        raise ValidationError("token", "is not a portal link")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("token", "is not a portal link") from exc
    if len(raw) != _TOKEN_BYTES:
        raise ValidationError("token", "is not a portal link")
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(derive_key(settings, purpose), body)):
        raise ValidationError("token", "is not a portal link")
    (seconds,) = struct.unpack(">I", body[16:])
    return str(uuid.UUID(bytes=body[:16])), datetime.fromtimestamp(seconds, UTC)
