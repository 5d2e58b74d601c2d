"""The key-encryption key (KEK): it wraps the data keys and never touches a row itself.

Where it comes from, first match wins:

1. ``privacy_kek_pkcs11_label``: an AES key on the PKCS#11 token named by
   ``pkcs11_module``, ``pkcs11_token_label`` and ``pkcs11_pin`` (the signing
   token's settings). Data keys are wrapped and unwrapped by the token with
   AES-GCM; the KEK never leaves it.
2. ``privacy_kek`` (``EVSERVICE_PRIVACY_KEK``): 64 hex digits.
3. ``privacy_kek_path``: a file holding 64 hex digits (or 32 raw bytes).
4. Development: ``keys_dir/privacy-kek.key``, created 0600 on first use, atomically
   (temporary file hard-linked into place), so concurrent first uses agree.

A KEK is loaded once per process and source. Its ``kek_id`` (a hash of the key,
or of the token and label) is stored with each wrapped data key, so a store
opened with the wrong KEK says so instead of failing on every row.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import secrets
import threading
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evservice._files import create_once
from evservice.config import Settings
from evservice.errors import ConfigurationError, StoreError

__all__ = ["KEK_BYTES", "KeyEncryptionKey", "LocalKek", "Pkcs11Kek", "load_kek"]

KEK_BYTES = 32
_NONCE = 12
_cache: dict[tuple[Any, ...], KeyEncryptionKey] = {}
_lock = threading.Lock()


class KeyEncryptionKey(Protocol):
    """What wraps data keys: a local AES key or one on a PKCS#11 token."""

    @property
    def kek_id(self) -> str:
        """16 hex digits naming this KEK (not secret)."""
        ...

    def wrap(self, key: bytes, label: bytes) -> bytes:
        """``key`` encrypted and authenticated, bound to ``label`` (the data key's id)."""
        ...

    def unwrap(self, blob: bytes, label: bytes) -> bytes:
        """The key :meth:`wrap` gave ``blob`` for; :class:`StoreError` if it does not open."""
        ...


class LocalKek:
    """A 256-bit KEK held in memory; wrapping is AES-256-GCM (nonce || ciphertext || tag)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEK_BYTES:
            raise ConfigurationError(f"the privacy KEK must be {KEK_BYTES} bytes (64 hex digits)")
        self._aead = AESGCM(key)
        self._id = hashlib.sha256(b"evservice privacy kek\x00" + key).hexdigest()[:16]

    @property
    def kek_id(self) -> str:
        return self._id

    def wrap(self, key: bytes, label: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, key, label)

    def unwrap(self, blob: bytes, label: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], label)
        except (InvalidTag, ValueError) as exc:
            raise StoreError(
                "a data key does not open with this KEK (wrong KEK, or the key row was edited)"
            ) from exc


class Pkcs11Kek:
    """An AES key on a PKCS#11 token (SoftHSM in tests): wraps with the token's AES-GCM.

    The session stays open for the process; calls are serialised by a lock
    (a PKCS#11 session is not for concurrent use).
    """

    def __init__(self, module: Path, token_label: str, key_label: str, pin: str | None) -> None:
        try:
            import pkcs11
            from pkcs11 import KeyType, ObjectClass
        except ImportError as exc:  # the 'hsm' extra
            raise ConfigurationError("a PKCS#11 KEK needs python-pkcs11 (evservice[hsm])") from exc
        self._mechanism = pkcs11.Mechanism.AES_GCM
        self._params = pkcs11.GCMParams
        try:
            token = pkcs11.lib(str(module)).get_token(token_label=token_label)
            self._session = token.open(user_pin=pin)
            self._key: Any = self._session.get_key(
                object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=key_label
            )
        except Exception as exc:  # python-pkcs11's own tree; its messages hold no PIN
            raise ConfigurationError(
                f"cannot use AES key {key_label!r} on PKCS#11 token {token_label!r} "
                f"as the privacy KEK: {type(exc).__name__}"
            ) from exc
        self._id = hashlib.sha256(
            f"evservice privacy kek pkcs11\x00{token_label}\x00{key_label}".encode()
        ).hexdigest()[:16]
        self._lock = threading.Lock()

    @property
    def kek_id(self) -> str:
        return self._id

    def wrap(self, key: bytes, label: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        with self._lock:
            sealed = self._key.encrypt(
                key, mechanism=self._mechanism, mechanism_param=self._params(nonce, label, 128)
            )
        return nonce + bytes(sealed)

    def unwrap(self, blob: bytes, label: bytes) -> bytes:
        try:
            with self._lock:
                return bytes(
                    self._key.decrypt(
                        blob[_NONCE:],
                        mechanism=self._mechanism,
                        mechanism_param=self._params(blob[:_NONCE], label, 128),
                    )
                )
        except Exception as exc:  # the token says only that the tag did not verify
            raise StoreError(
                "a data key does not open with the PKCS#11 KEK (wrong key, or the row was edited)"
            ) from exc


def _parse(raw: bytes, where: str) -> bytes:
    text = raw.strip()
    try:
        key = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        key = raw
    if len(key) != KEK_BYTES:
        raise ConfigurationError(f"the privacy KEK in {where} must be 64 hex digits (32 bytes)")
    return key


def _create(path: Path) -> None:
    create_once(path, (secrets.token_hex(KEK_BYTES) + "\n").encode())


def _read_file(path: Path, *, create: bool) -> bytes:
    try:
        if create and not path.exists():
            _create(path)
        return _parse(path.read_bytes(), str(path))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"privacy KEK file {path} does not exist") from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot read the privacy KEK {path}: {exc.strerror}") from exc


def _source(settings: Settings) -> tuple[Any, ...]:
    if settings.privacy_kek_pkcs11_label:
        return (
            "pkcs11",
            settings.pkcs11_module,
            settings.pkcs11_token_label,
            settings.privacy_kek_pkcs11_label,
        )
    if settings.privacy_kek is not None:
        digest = hashlib.sha256(settings.privacy_kek.get_secret_value().encode()).hexdigest()
        return ("env", digest)
    if settings.privacy_kek_path is not None:
        return ("file", settings.privacy_kek_path.resolve())
    return ("dev", (settings.keys_dir / "privacy-kek.key").resolve())


def _open(settings: Settings, source: tuple[Any, ...]) -> KeyEncryptionKey:
    kind = source[0]
    if kind == "pkcs11":
        if settings.pkcs11_module is None or not settings.pkcs11_token_label:
            raise ConfigurationError(
                "privacy_kek_pkcs11_label needs pkcs11_module and pkcs11_token_label"
            )
        pin = None if settings.pkcs11_pin is None else settings.pkcs11_pin.get_secret_value()
        return Pkcs11Kek(
            settings.pkcs11_module,
            settings.pkcs11_token_label,
            settings.privacy_kek_pkcs11_label or "",
            pin,
        )
    if kind == "env":
        assert settings.privacy_kek is not None  # noqa: S101 - chosen by _source
        return LocalKek(
            _parse(settings.privacy_kek.get_secret_value().encode(), "EVSERVICE_PRIVACY_KEK")
        )
    return LocalKek(_read_file(source[1], create=kind == "dev"))


def load_kek(settings: Settings) -> KeyEncryptionKey:
    """The KEK the settings name (loaded once per process and source)."""
    source = _source(settings)
    key = (os.getpid(), *source)
    found = _cache.get(key)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _open(settings, source)
            _cache[key] = found
        return found
