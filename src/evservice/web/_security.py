"""Security pieces of the portal: headers, rate limits, CSRF tokens, signed download links.

* Every response gets the headers (a CSP without inline script or style,
  ``frame-ancestors 'none'``, ``nosniff``, no referrer); an inline PDF may be
  framed by our own pages only.
* Rate limits are sliding windows in memory, per key (client IP, challenge);
  one process holds them, so with several workers each counts its own share.
* CSRF: a random cookie (``SameSite=Strict``, ``HttpOnly``) and, in each form,
  an HMAC of it under a key derived from the OTP server key, so several
  workers agree without sharing state.
* Download links of a looked-up invoice are signed and expire, so the lookup
  code never appears in a URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CSRF_COOKIE",
    "PAGE_CSP",
    "PDF_CSP",
    "RateLimiter",
    "SecurityHeaders",
    "csrf_ok",
    "csrf_token",
    "new_csrf_cookie",
    "open_download_token",
    "sign_download_token",
]

CSRF_COOKIE = "evs_csrf"

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "object-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: A PDF shown inside our contract page: framed by ourselves only, no active content.
PDF_CSP = "default-src 'none'; frame-ancestors 'self'"

_COMMON: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every HTTP response.

    A response that sets its own ``content-security-policy`` (the framed PDF)
    keeps it and gets ``X-Frame-Options: SAMEORIGIN`` instead of ``DENY``.
    Pages are ``no-store`` (they show a person's invoice or contract); the
    stylesheet may be cached for an hour.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" in names:
                    headers.append((b"x-frame-options", b"SAMEORIGIN"))
                else:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                if b"cache-control" not in names:
                    static = scope["path"].startswith("/static/")
                    headers.append((b"cache-control", b"max-age=3600" if static else b"no-store"))
                headers.extend(_COMMON)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key (a sliding window).

    :meth:`hit` records an event and returns 0 when it is allowed, or the
    seconds to wait (then the event is not recorded). Keys that went quiet are
    dropped as the table grows, so memory stays bounded by the active keys.
    """

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        now = self._clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) > 100_000:
                    self._sweep(now)
                events = self._events[key] = deque()
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.001, events[0] + self.window - now)
            events.append(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        stale = [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]
        for key in stale:
            del self._events[key]


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(key: bytes, cookie: str) -> str:
    """The form token that goes with the CSRF cookie ``cookie``."""
    return hmac.new(key, b"evservice-csrf-v1\x00" + cookie.encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def csrf_ok(key: bytes, cookie: str | None, token: str | None) -> bool:
    if not cookie or not token or len(cookie) > 100:
        return False
    return hmac.compare_digest(csrf_token(key, cookie), token)


def sign_download_token(key: bytes, document_id: str, expires_at: datetime) -> str:
    """base64url(id (16 bytes) || expiry (4) || MAC (12)) for a document's download links."""
    body = uuid.UUID(document_id).bytes + struct.pack(">I", int(expires_at.timestamp()))
    mac = hmac.new(key, b"evservice-download-v1\x00" + body, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()


def open_download_token(key: bytes, token: str, now: datetime) -> str | None:
    """The document id of a valid, unexpired token, else None (the caller answers 404)."""
    if not 40 <= len(token) <= 48 or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32:
        return None
    body, mac = raw[:20], raw[20:]
    good = hmac.new(key, b"evservice-download-v1\x00" + body, hashlib.sha256).digest()[:12]
    if not hmac.compare_digest(mac, good):
        return None
    (seconds,) = struct.unpack(">I", body[16:])
    if datetime.fromtimestamp(seconds, UTC) <= now:
        return None
    return str(uuid.UUID(bytes=body[:16]))
