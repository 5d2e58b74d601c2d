"""The server's HMAC key for OTP hashes: loaded once per process, created for development.

``settings.otp_key_path`` names the key file (hex text of at least 32 bytes,
or at least 32 raw bytes). When it is unset, a development key is created on
first use as ``keys_dir/otp-hmac.key`` with mode 0600. Creation is atomic
(a temporary file hard-linked into place), so concurrent first uses in
several processes agree on one key.
"""

from __future__ import annotations

import binascii
import os
import secrets
import threading
from pathlib import Path

from evservice._files import create_once
from evservice.config import Settings
from evservice.errors import ConfigurationError

__all__ = ["server_key"]

KEY_BYTES = 32
_cache: dict[tuple[int, Path | None, Path], bytes] = {}
_lock = threading.Lock()


def _parse(raw: bytes, path: Path) -> bytes:
    text = raw.strip()
    try:
        key = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        key = raw
    if len(key) < KEY_BYTES:
        raise ConfigurationError(
            f"OTP key {path} is too short: need at least {KEY_BYTES} bytes (64 hex digits)"
        )
    return key


def _create(path: Path) -> None:
    create_once(path, (secrets.token_hex(KEY_BYTES) + "\n").encode())


def server_key(settings: Settings) -> bytes:
    """The HMAC key (cached per process and path)."""
    configured = settings.otp_key_path
    cache_key = (os.getpid(), configured, settings.keys_dir)
    key = _cache.get(cache_key)
    if key is not None:
        return key
    path = (configured or settings.keys_dir / "otp-hmac.key").resolve()
    with _lock:
        key = _cache.get(cache_key)
        if key is not None:
            return key
        try:
            if configured is None and not path.exists():
                _create(path)
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise ConfigurationError(f"OTP key file {path} does not exist") from exc
        except OSError as exc:
            raise ConfigurationError(f"cannot read the OTP key {path}: {exc.strerror}") from exc
        key = _parse(raw, path)
        _cache[cache_key] = key
        return key
