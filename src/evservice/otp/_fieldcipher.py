"""Encrypt one column value at rest: AES-256-GCM bound to its table, column and row.

This is the whole cipher the TOTP secrets use, kept apart on purpose so that it
can be swapped for the privacy package's field cipher (envelope keys, key ids,
rotation) without touching the enrolment code: :func:`seal_field` and
:func:`open_field` are the only two calls the rest of ``otp`` makes.

* Key: HKDF-SHA256 of the OTP server key (``otp/_key.py``), info
  ``evservice-otp-field-v1``; 32 bytes, so AES-256.
* Associated data: table, column and primary key, each length-prefixed, so a
  ciphertext copied into another row or column fails to open.
* Stored text: ``v1.`` + base64url(12-byte random nonce || ciphertext || tag).
"""

from __future__ import annotations

import base64
import binascii
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from evservice.config import Settings
from evservice.errors import StoreError
from evservice.otp._key import server_key

__all__ = ["field_key", "open_field", "seal_field"]

_PREFIX = "v1."
_NONCE = 12
_INFO = b"evservice-otp-field-v1"


def field_key(settings: Settings) -> bytes:
    """The 32-byte AES key derived from the OTP server key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        server_key(settings)
    )


def _aad(table: str, column: str, primary_key: str) -> bytes:
    parts = [p.encode() for p in (table, column, primary_key)]
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def seal_field(key: bytes, plaintext: bytes, *, table: str, column: str, primary_key: str) -> str:
    """``plaintext`` encrypted for ``table.column`` of the row ``primary_key``."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext, _aad(table, column, primary_key))
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_field(key: bytes, stored: str, *, table: str, column: str, primary_key: str) -> bytes:
    """The plaintext of a value made by :func:`seal_field` for the same place.

    Raises :class:`StoreError` (naming the place, never the value) when the text
    is not ours, was changed, was moved from another row or column, or the key
    is not the one it was sealed with.
    """
    where = f"{table}.{column} of row {primary_key}"
    if not isinstance(stored, str) or not stored.startswith(_PREFIX):
        raise StoreError(f"{where} is not an encrypted value")
    try:
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :].encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise StoreError(f"{where} is not an encrypted value") from exc
    if len(raw) < _NONCE + 16:
        raise StoreError(f"{where} is not an encrypted value")
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(table, column, primary_key))
    except InvalidTag as exc:
        raise StoreError(
            f"{where} does not decrypt: changed, moved from elsewhere, or another key"
        ) from exc
