"""SMS over HTTP (httpx): a generic JSON webhook and a Twilio-compatible REST adapter.

Both classify failures the same way: timeouts, refused connections, HTTP 429
and 5xx are retryable; other 4xx answers are not (the request itself is
wrong). Error messages name the gateway host and the HTTP status, never the
phone number, the text or a credential, and never echo the gateway's reply
(gateways like to quote the number back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import httpx
from pydantic import SecretStr

from evservice.delivery._channel import Channel
from evservice.delivery._message import DeliveryReceipt, Message
from evservice.errors import DeliveryError, ValidationError

__all__ = ["TwilioSmsChannel", "WebhookSmsChannel"]

SIGNATURE_HEADER = "X-Evservice-Signature"
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_TWILIO_FAILED = {"failed", "undelivered", "canceled"}


def _secret(value: SecretStr | str | None, field: str) -> SecretStr:
    if value is None or not (value.get_secret_value() if isinstance(value, SecretStr) else value):
        raise ValidationError(field, "must be set")
    return value if isinstance(value, SecretStr) else SecretStr(value)


def _origin(url: httpx.URL) -> str:
    """Scheme, host and port only: a URL's path or query may carry a token."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


class _HttpSmsChannel(Channel):
    kinds = frozenset({"sms"})

    def __init__(
        self, url: str, *, timeout: float, transport: httpx.BaseTransport | None, field: str
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValidationError(field, "is not a URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValidationError(field, "must be an http(s) URL")
        self.url = parsed
        self._client = httpx.Client(timeout=timeout, transport=transport)

    def _post(self, message: Message, **kwargs: Any) -> httpx.Response:
        where = _origin(self.url)
        try:
            response = self._client.post(self.url, **kwargs)
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"SMS gateway {where} timed out on message {message.id}", retryable=True
            ) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(
                f"SMS gateway {where} unreachable ({type(exc).__name__}) for message {message.id}",
                retryable=True,
            ) from exc
        if response.status_code >= 400:
            code = self._error_code(response)
            detail = f", gateway error {code}" if code else ""
            raise DeliveryError(
                f"SMS gateway {where} answered HTTP {response.status_code}{detail} "
                f"for message {message.id}",
                retryable=response.status_code == 429 or response.status_code >= 500,
            )
        return response

    def _error_code(self, response: httpx.Response) -> str | None:
        return None

    def close(self) -> None:
        self._client.close()


class WebhookSmsChannel(_HttpSmsChannel):
    """POSTs ``{"id", "to", "text", "sender", "tags"}`` as JSON to a gateway URL.

    The body is authenticated by a shared secret: the header
    ``X-Evservice-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` (the secret
    itself never travels). ``Idempotency-Key`` carries the message id so a
    gateway can drop a retried duplicate. A JSON reply may name the gateway's
    id as ``id`` or ``message_id``.
    """

    name = "sms-webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: SecretStr | str,
        sender: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._secret = _secret(secret, "sms_auth_token")
        self.sender = sender
        super().__init__(url, timeout=timeout, transport=transport, field="sms_url")

    def signature(self, body: bytes) -> str:
        """The value of the signature header for ``body``."""
        key = self._secret.get_secret_value().encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    def _send(self, message: Message) -> DeliveryReceipt:
        body = json.dumps(
            {
                "id": message.id,
                "to": message.to,
                "text": message.text,
                "sender": self.sender,
                "tags": dict(message.tags),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: self.signature(body),
            "Idempotency-Key": message.id,
        }
        response = self._post(message, content=body, headers=headers)
        provider_id: str | None = None
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if isinstance(reply, dict):
            found = reply.get("id") or reply.get("message_id")
            provider_id = str(found)[:100] if found is not None else None
        return DeliveryReceipt(
            channel=self.name,
            message_id=message.id,
            to_masked=message.masked_to,
            status="accepted",
            provider_id=provider_id,
        )


class TwilioSmsChannel(_HttpSmsChannel):
    """Twilio's Messages API (or a compatible gateway at ``base_url``).

    ``POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP
    basic auth (account SID, auth token) and the form fields ``To``, ``From``,
    ``Body``. A 201 reply carries ``sid`` and ``status``; an error reply carries
    Twilio's ``code`` (named in our message), ``message`` and ``more_info``.
    """

    name = "sms-twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: SecretStr | str,
        from_: str,
        *,
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(account_sid, str) or not _ACCOUNT_SID.fullmatch(account_sid):
            raise ValidationError("sms_account_sid", "must be 'AC' and 32 hex digits")
        if not from_:
            raise ValidationError("sms_from", "must be set (a number or sender id)")
        self.account_sid = account_sid
        self._token = _secret(auth_token, "sms_auth_token")
        self.from_ = from_
        url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        super().__init__(url, timeout=timeout, transport=transport, field="sms_url")

    def _error_code(self, response: httpx.Response) -> str | None:
        try:
            reply = response.json()
        except ValueError:
            return None
        code = reply.get("code") if isinstance(reply, dict) else None
        return str(code) if isinstance(code, int | str) and str(code).isdigit() else None

    def _send(self, message: Message) -> DeliveryReceipt:
        response = self._post(
            message,
            data={"To": message.to, "From": self.from_, "Body": message.text},
            auth=(self.account_sid, self._token.get_secret_value()),
            headers={"Accept": "application/json"},
        )
        try:
            reply = response.json()
        except ValueError as exc:
            raise DeliveryError(
                f"SMS gateway {_origin(self.url)} sent a reply that is not JSON "
                f"for message {message.id}",
                retryable=False,
            ) from exc
        sid = reply.get("sid") if isinstance(reply, dict) else None
        status = reply.get("status") if isinstance(reply, dict) else None
        if not isinstance(sid, str) or not sid:
            raise DeliveryError(
                f"SMS gateway {_origin(self.url)} accepted message {message.id} without a sid",
                retryable=False,
            )
        if status in _TWILIO_FAILED:
            raise DeliveryError(
                f"SMS gateway {_origin(self.url)} reports message {message.id} as {status}",
                retryable=False,
            )
        return DeliveryReceipt(
            channel=self.name,
            message_id=message.id,
            to_masked=message.masked_to,
            status=str(status or "queued"),
            provider_id=sid[:100],
        )
