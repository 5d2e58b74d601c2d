"""Audit events: what one leaf of the log says, and its canonical bytes.

Event schema, version 1. The bytes of an event are the RFC 8785 (JSON
Canonicalization Scheme) serialisation of this object::

    {"v": 1,                      schema version
     "id": "<uuid4>",             unique event id, given by the log
     "type": "invoice.issued",    dotted lower-case name (see EVENT_TYPES)
     "subject": "<document or challenge id>",
     "actor": "system" | "operator:<name>" | "customer" | ...,
     "at": "2026-11-01T02:00:00.000000Z",   RFC 3339, UTC, always 6 decimals
     "data": {...}}               hashes and masked values only

and its leaf hash is SHA-256(0x00 || bytes) (RFC 6962). Anyone holding the
fields can recompute both without evservice: any RFC 8785 implementation gives
the same bytes.

Data carries hashes and masked values, never personal data or secrets: values
that look like an e-mail address or a phone number, digit codes under keys such
as ``otp``/``code``/``pin``, and keys naming passwords or secrets are refused
with a :class:`~evservice.errors.ValidationError` naming the key.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import rfc8785

from evservice.audit._offline import leaf_hash
from evservice.clock import ensure_aware
from evservice.errors import ValidationError

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "EVENT_TYPES",
    "JSON",
    "AuditRecord",
    "canonical_data_bytes",
    "canonical_event_bytes",
    "format_event_time",
    "normalise_data",
    "normalised_data_bytes",
    "parse_event_time",
]

EVENT_SCHEMA_VERSION = 1

#: Event types of the built-in workflows. Later features add their own names;
#: any dotted lower-case name is accepted.
EVENT_TYPES: Mapping[str, str] = {
    "invoice.issued": "an invoice was numbered and stored (label, total, hash of the draft)",
    "invoice.signed": "the invoice's signed XML and PDF were stored (their SHA-256)",
    "invoice.replaced": "a replacement invoice superseded this one",
    "invoice.adjusted": "an adjustment invoice amended this one",
    "invoice.delivered": "the invoice's e-mail and SMS were queued in the outbox",
    "invoice.anomaly_notified": "the customer was told of an unusual bill (spike or zero)",
    "otp.sent": "a one-time code was issued for sending (masked destination, channel)",
    "otp.resent": "a fresh code replaced the previous one",
    "otp.undelivered": "the channel could not deliver the code",
    "otp.failed": "a wrong code was entered (attempts left)",
    "otp.locked": "the last allowed wrong code was entered: the challenge is dead",
    "otp.confirmed": "the code was accepted for the document hash (method: totp or recovery "
    "for the authenticator channel)",
    "otp.totp_opened": "a challenge for the authenticator app (TOTP) was opened; nothing is sent",
    "otp.totp_enrolled": "an authenticator app enrolment was started (parameters; no secret)",
    "otp.totp_enrolment_failed": "a wrong first code for a pending enrolment (attempts left)",
    "otp.totp_activated": "the enrolment was proved by a first valid code and is active",
    "otp.totp_revoked": "an enrolment was withdrawn or replaced by a newer one",
    "otp.totp_recovery_generated": "recovery codes were made for an enrolment (count; no code)",
    "otp.totp_recovery_used": "a recovery code was accepted in place of the app's code",
    "contract.created": "a contract was numbered and the document shown was stored",
    "contract.amended": "the terms changed before anyone signed (new document hash)",
    "contract.sent": "a code for the document shown went to the next signer",
    "contract.consented": "the customer consented with an OTP",
    "contract.countersigned": "the provider's representative signed after the customer",
    "contract.sealed": "the final contract PDF was sealed by the provider",
    "contract.declined": "the customer declined the contract",
    "contract.expired": "no consent came in time",
    "contract.voided": "the contract was voided",
    "tax.summary.built": "a data summary table (01/TH-HĐĐT) was signed and stored (SHA-256)",
    "tax.notice.built": "a notice of an invoice with errors (04/SS-HĐĐT) was signed and stored",
    "tax.message.queued": "a message to the tax authority was queued (type, envelope SHA-256)",
    "tax.message.submitted": "the gateway took the message (or already held it)",
    "tax.message.deferred": "an attempt to send the message failed; it is retried later",
    "tax.message.rejected": "the gateway refused the message",
    "tax.message.failed": "the message could not be sent in the attempts allowed",
    "tax.message.answered": "an answer of the tax authority was applied (type, accepted or not)",
    "tax.invoice.coded": "the authority's code came back; the coded XML was stored (SHA-256)",
    "tax.invoice.delivered": "a coded invoice's e-mail and SMS were queued in the outbox",
    "privacy.forgotten": "a person's data keys were destroyed on request (blind index, counts)",
    "privacy.rotated": "the data keys were rotated (values sealed again, keys retired)",
}

JSON: TypeAlias = (
    str | int | bool | Decimal | datetime | date | Sequence["JSON"] | Mapping[str, "JSON"] | None
)

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_EMAIL_RE = re.compile(r"([^\s@<>(),;:\"']+)@([^\s@<>(),;:\"']+\.[^\s@<>(),;:\"']+)")
_PHONE_CHARS_RE = re.compile(r"^[0-9+ ().\-]+$")
_PHONE_RE = re.compile(r"^(?:\+\d{8,15}|0\d{9,10}|84\d{9,10})$")
_DIGIT_CODE_RE = re.compile(r"^\d{4,10}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f]")
_CODE_TOKENS = frozenset({"otp", "code", "pin", "passcode", "totp", "hotp", "tan"})
_SECRET_TOKENS = frozenset({"password", "passwd", "secret", "private", "privkey"})
_PHONE_KEY_TOKENS = frozenset({"phone", "msisdn", "mobile", "tel", "sdt", "sms"})
_TAX_CODE_KEYS = re.compile(r"(?:^|_)(?:mst|tax_?code|taxcode)$", re.IGNORECASE)
_MASK_CHARS = ("*", "\u2022", "\u2026", "x" * 3, "X" * 3)
_MAX_TEXT = 4096
_MAX_DEPTH = 8
_MAX_EVENT_BYTES = 32 * 1024
_MAX_SAFE_INT = 2**53 - 1


def format_event_time(when: datetime) -> str:
    """RFC 3339 in UTC with exactly six decimals: ``2026-11-01T02:00:00.000000Z``."""
    return ensure_aware(when).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_event_time(text: str) -> datetime:
    """Inverse of :func:`format_event_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@functools.lru_cache(maxsize=1024)
def _tokens(key: str) -> tuple[str, ...]:
    """``"otpCode"`` / ``"otp_code"`` -> ``("otp", "code")``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()
    return tuple(t for t in re.split(r"[^a-z0-9]+", spaced) if t)


def _names_code(tokens: Sequence[str]) -> bool:
    """A key whose last word is a code word (``otp``, ``otp_code``, ``pin``) holds a code."""
    return bool(tokens) and tokens[-1] in _CODE_TOKENS


def _is_masked(text: str) -> bool:
    return any(mark in text for mark in _MASK_CHARS)


def _check_text(value: str, field: str, key_tokens: Sequence[str], key: str) -> None:
    """Refuse raw personal data in one string (never echoing the value)."""
    if len(value) > _MAX_TEXT:
        raise ValidationError(field, f"is longer than {_MAX_TEXT} characters")
    if _CONTROL_RE.search(value):
        raise ValidationError(field, "contains control characters")
    if "@" in value:
        for match in _EMAIL_RE.finditer(value):
            if not _is_masked(match.group(1)):
                raise ValidationError(
                    field, "looks like an e-mail address; record a masked value or a hash instead"
                )
    if len(value) <= 24 and _PHONE_CHARS_RE.match(value) and not _TAX_CODE_KEYS.search(key):
        digits = re.sub(r"[ ().\-]", "", value)
        phone_key = not _PHONE_KEY_TOKENS.isdisjoint(key_tokens)
        if _PHONE_RE.match(digits) or (phone_key and len(digits) >= 8):
            raise ValidationError(
                field, "looks like a phone number; record a masked value or a hash instead"
            )
    is_tax_code = bool(_TAX_CODE_KEYS.search(key))
    if _names_code(key_tokens) and not is_tax_code and _DIGIT_CODE_RE.match(value.strip()):
        raise ValidationError(field, "looks like a one-time code; codes are never recorded")


def _normalise(value: Any, field: str, key: str, depth: int) -> Any:
    tokens = _tokens(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise ValidationError(field, "integer is too large for JSON; give it as a string")
        if (
            _names_code(tokens)
            and not _TAX_CODE_KEYS.search(key)
            and _DIGIT_CODE_RE.match(str(abs(value)))
        ):
            raise ValidationError(field, "looks like a one-time code; codes are never recorded")
        if not _PHONE_KEY_TOKENS.isdisjoint(tokens) and len(str(abs(value))) >= 8:
            raise ValidationError(field, "looks like a phone number; record a masked value")
        return value
    if isinstance(value, float):
        raise ValidationError(field, "floats are not allowed; give amounts as strings")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(field, "must be a finite number")
        return format(value, "f")
    if isinstance(value, datetime):
        return format_event_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        _check_text(value, field, tokens, key)
        return value
    if depth >= _MAX_DEPTH:
        raise ValidationError(field, f"is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return _normalise_mapping(value, field, depth + 1)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_normalise(v, f"{field}.{i}", key, depth + 1) for i, v in enumerate(value)]
    raise ValidationError(field, f"{type(value).__name__} is not a JSON value")


def _normalise_mapping(data: Mapping[Any, Any], prefix: str, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = f"{prefix}.{key}"
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ValidationError(
                f"{prefix}.{key!s:.40}", "keys must be identifiers (letters, digits, _)"
            )
        if not _SECRET_TOKENS.isdisjoint(_tokens(key)):
            raise ValidationError(field, "secrets are never recorded in the audit log")
        out[key] = _normalise(value, field, key, depth)
    return out


def normalise_data(data: Mapping[str, Any], prefix: str = "data") -> dict[str, Any]:
    """Check event data and turn it into plain JSON (Decimal and dates become strings)."""
    if not isinstance(data, Mapping):
        raise ValidationError(prefix, "must be a mapping of names to JSON values")
    return _normalise_mapping(data, prefix, 0)


def _check_label(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValidationError(field, "must be non-empty text without surrounding spaces")
    if len(value) > limit:
        raise ValidationError(field, f"is longer than {limit} characters")
    _check_text(value, field, (), field)
    return value


def check_event_fields(type: str, subject: str, actor: str) -> None:
    """Validate the envelope fields of an event (type, subject, actor)."""
    if not isinstance(type, str) or len(type) > 64 or not _TYPE_RE.match(type):
        raise ValidationError("type", "must be a dotted lower-case name such as 'invoice.issued'")
    _check_label(subject, "subject", 128)
    _check_label(actor, "actor", 128)


_PLAIN_RE = re.compile(r"[A-Za-z0-9_.:\-]*\Z")  # \Z: no trailing newline


def _plain(text: str) -> bytes:
    """A JSON string of characters that need no escaping (ids, times, type names)."""
    return b'"' + text.encode("ascii") + b'"'


def canonical_data_bytes(data: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of normalised event data (also what the store keeps)."""
    try:
        return rfc8785.dumps(data)
    except rfc8785.CanonicalizationError as exc:
        raise ValidationError("data", f"cannot be canonicalised: {exc}") from exc


#: The C JSON encoder, set up so that its output for *normalised* data is RFC 8785:
#: members sorted (keys are ASCII identifiers, so code-point order is UTF-16 order),
#: no spaces, UTF-8 as is, the same short escapes and lower-case \u00xx for other
#: controls, integers within 2**53 written the same way; floats never reach it.
_JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


def normalised_data_bytes(data: Mapping[str, Any]) -> bytes:
    """:func:`canonical_data_bytes` of what :func:`normalise_data` returned, about ten
    times faster (tested equal on generated data); anything unusual (a lone surrogate)
    goes to the RFC 8785 library, which decides."""
    try:
        return _JSON_ENCODER.encode(data).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError):
        return canonical_data_bytes(data)


def canonical_event_bytes(
    *,
    id: str,
    type: str,
    subject: str,
    actor: str,
    at: datetime,
    data: Mapping[str, Any],
    data_bytes: bytes | None = None,
    version: int = EVENT_SCHEMA_VERSION,
) -> bytes:
    """The RFC 8785 bytes of an event (schema version 1); ``data`` must be normalised.

    The envelope's members are written in RFC 8785 order (actor, at, data, id,
    subject, type, v) around the canonical data, so the data is serialised only
    once; the result equals ``rfc8785.dumps`` of the whole object (tested).
    ``version`` is only ever given by verification, which re-hashes the stored
    schema version too.
    """
    if data_bytes is None:
        data_bytes = canonical_data_bytes(data)
    text = rfc8785.dumps
    raw = b"".join(
        (
            b'{"actor":',
            _plain(actor) if _PLAIN_RE.match(actor) else text(actor),
            b',"at":',
            _plain(format_event_time(at)),
            b',"data":',
            data_bytes,
            b',"id":',
            _plain(id) if _PLAIN_RE.match(id) else text(id),
            b',"subject":',
            _plain(subject) if _PLAIN_RE.match(subject) else text(subject),
            b',"type":',
            _plain(type) if _PLAIN_RE.match(type) else text(type),
            b',"v":%d}' % version,
        )
    )
    if len(raw) > _MAX_EVENT_BYTES:
        raise ValidationError("data", f"the event is larger than {_MAX_EVENT_BYTES} bytes")
    return raw


@dataclass(frozen=True)
class AuditRecord:
    """One event as stored in the log, with its position and leaf hash."""

    index: int
    id: str
    type: str
    subject: str
    actor: str
    at: datetime
    data: Mapping[str, Any]
    leaf_hash: bytes

    @property
    def canonical_bytes(self) -> bytes:
        """The bytes the leaf hash is computed over (RFC 8785 JSON, schema version 1)."""
        return canonical_event_bytes(
            id=self.id,
            type=self.type,
            subject=self.subject,
            actor=self.actor,
            at=self.at,
            data=self.data,
        )

    def check(self) -> bool:
        """True if the leaf hash matches the fields (recomputed, never trusted)."""
        return leaf_hash(self.canonical_bytes) == self.leaf_hash
