"""The sealed text of one field: AES-256-GCM bound to its table, column and row.

A sealed value is text, so it fits the columns it replaces::

    ev1:<key id, 16 hex>:<base64url(nonce[12] || ciphertext || tag[16])>

``ev1`` is the format's version; the key id names the data key, so a reader
(and ``evservice keys verify``) can tell ciphertext from plaintext and which key
opens it without trying. The associated data is the version, the key id and
the field's place (table, column, primary key), so a value copied to another
row or column, or relabelled with another key id, fails to open.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evservice.errors import StoreError

__all__ = ["VERSION", "FieldPlace", "is_sealed", "key_id_of", "open_text", "seal_text"]

VERSION = "ev1"
_NONCE = 12
_SEALED = re.compile(r"^ev1:([0-9a-f]{16}):([A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class FieldPlace:
    """Where a value lives: table, column and the row's primary key (as text)."""

    table: str
    column: str
    pk: str

    def associated_data(self, key_id: str) -> bytes:
        return "\x00".join((VERSION, key_id, self.table, self.column, self.pk)).encode()

    def __str__(self) -> str:  # names the place, never the value
        return f"{self.table}.{self.column} of row {self.pk}"


def is_sealed(value: str | None) -> bool:
    """Whether ``value`` is in the sealed format (plaintext and None are not)."""
    return value is not None and _SEALED.match(value) is not None


def key_id_of(value: str) -> str | None:
    """The key id of a sealed value, or None for plaintext."""
    found = _SEALED.match(value)
    return None if found is None else found.group(1)


def seal_text(aead: AESGCM, key_id: str, place: FieldPlace, plaintext: str) -> str:
    """``plaintext`` sealed under the data key ``aead`` (id ``key_id``) for ``place``."""
    nonce = secrets.token_bytes(_NONCE)
    sealed = aead.encrypt(nonce, plaintext.encode("utf-8"), place.associated_data(key_id))
    body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
    return f"{VERSION}:{key_id}:{body}"


def open_text(aead: AESGCM, place: FieldPlace, value: str) -> str:
    """The plaintext of a sealed ``value``; :class:`StoreError` if it does not open here."""
    found = _SEALED.match(value)
    if found is None:
        raise StoreError(f"{place} is not a sealed value")
    key_id, body = found.groups()
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = aead.decrypt(raw[:_NONCE], raw[_NONCE:], place.associated_data(key_id))
        return plain.decode("utf-8")
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise StoreError(
            f"{place} does not decrypt: it was edited, or copied from another row or column"
        ) from exc
