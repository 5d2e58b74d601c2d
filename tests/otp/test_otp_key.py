"""The OTP HMAC key: created for development with 0600, loaded once, checked."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from evservice._context import Context
from evservice.config import Settings
from evservice.errors import CodeMismatch, ConfigurationError
from evservice.otp import create_challenge, verify
from evservice.otp._key import _cache, server_key


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_development_key_is_created_private_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = server_key(settings)
    path = settings.keys_dir / "otp-hmac.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert bytes.fromhex(path.read_text().strip()) == key
    assert server_key(settings) is key  # cached
    _cache.clear()
    assert server_key(settings) == key  # read back from the file


def test_configured_key_must_exist_and_be_long_enough(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    with pytest.raises(ConfigurationError):
        server_key(_settings(tmp_path, otp_key_path=missing))
    assert not missing.exists()  # a configured key is never invented
    short = tmp_path / "short.key"
    short.write_text("00" * 16)
    with pytest.raises(ConfigurationError) as info:
        server_key(_settings(tmp_path, otp_key_path=short))
    assert "00" * 16 not in str(info.value)
    raw = tmp_path / "raw.key"
    raw.write_bytes(bytes(range(40)))
    assert server_key(_settings(tmp_path, otp_key_path=raw)) == bytes(range(40))


def test_codes_do_not_survive_a_key_change(sqlite_ctx: Context, tmp_path: Path) -> None:
    doc = hashlib.sha256(b"doc").hexdigest()
    challenge, code = create_challenge(
        sqlite_ctx,
        subject="HD1",
        document_sha256=doc,
        channel="sms",
        destination="0912345678",
        purpose="contract.sign",
    )
    other = tmp_path / "other.key"
    other.write_text("ab" * 32)
    rotated = Context(
        settings=sqlite_ctx.settings.model_copy(update={"otp_key_path": other}),
        clock=sqlite_ctx.clock,
    )
    with pytest.raises(CodeMismatch):
        verify(challenge.id, code, document_sha256=doc, ctx=rotated)
    assert verify(challenge.id, code, document_sha256=doc, ctx=sqlite_ctx)
