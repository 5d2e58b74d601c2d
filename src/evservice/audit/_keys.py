"""The log's Ed25519 key: loaded once per process, made on first use in development.

``Settings.audit_key_path`` names a PEM (PKCS#8) Ed25519 private key. When it is
unset, a development key is created under ``settings.keys_dir`` with 0600
permissions, atomically (so that concurrent workers agree on one key).

The public side is published as a C2SP verifier key string
``<name>+<hex key id>+<base64(0x01 || public key)>``, with the log origin as the
key name, as C2SP checkpoints recommend.
"""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evservice._files import create_once
from evservice.audit._offline import key_id
from evservice.config import Settings
from evservice.errors import ConfigurationError

__all__ = [
    "DEV_KEY_NAME",
    "check_origin",
    "ensure_log_key",
    "log_key_path",
    "log_public_key_string",
    "verifier_key_string",
]

DEV_KEY_NAME = "audit-log-ed25519.pem"

_lock = threading.Lock()
_cache: dict[tuple[int, str], Ed25519PrivateKey] = {}


def log_key_path(settings: Settings) -> Path:
    """Where the log key is (the configured path, or the development key)."""
    return settings.audit_key_path or settings.keys_dir / DEV_KEY_NAME


def check_origin(origin: str) -> str:
    """The origin doubles as the key name: non-empty, no spaces, no '+'."""
    if not origin or any(ch.isspace() or ch == "+" for ch in origin) or len(origin) > 255:
        raise ConfigurationError(
            "audit_origin must be non-empty, at most 255 characters, without spaces or '+'"
        )
    return origin


def _create_dev_key(path: Path) -> None:
    """Write a new key to ``path`` (0600) unless another process did it first."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_once(path, pem)


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot load the audit log key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"the audit log key {path} is not an Ed25519 key")
    return key


def ensure_log_key(settings: Settings) -> Ed25519PrivateKey:
    """The log's signing key (once per process per path).

    A configured ``audit_key_path`` must exist; without one, a development key is
    created under ``keys_dir`` on first use.
    """
    path = log_key_path(settings).resolve()
    cache_key = (os.getpid(), str(path))
    with _lock:
        key = _cache.get(cache_key)
        if key is None:
            if settings.audit_key_path is None and not path.exists():
                try:
                    _create_dev_key(path)
                except OSError as exc:
                    raise ConfigurationError(
                        f"cannot create the development audit key in {path.parent}: {exc}"
                    ) from exc
            elif not path.exists():
                raise ConfigurationError(f"the audit log key {path} does not exist")
            key = _cache[cache_key] = _load(path)
        return key


def verifier_key_string(name: str, key: Ed25519PrivateKey) -> str:
    """The C2SP verifier key string of ``key`` under ``name``."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    encoded = base64.b64encode(b"\x01" + raw).decode()
    return f"{name}+{key_id(name, raw).hex()}+{encoded}"


def log_public_key_string(settings: Settings) -> str:
    """The verifier key string auditors need: ``origin+keyid+base64(0x01||key)``."""
    return verifier_key_string(check_origin(settings.audit_origin), ensure_log_key(settings))
