"""Signed portal links: round trip, tamper, forgery, length; and the SMS that carries one."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice import Settings
from evservice.delivery import SMS_MAX_SEPTETS, otp_email, otp_sms
from evservice.errors import ValidationError
from evservice.otp import derive_key, link_token, open_link_token

WHEN = datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def link_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("link"), _env_file=None)  # type: ignore[call-arg]


def test_round_trip_and_length(link_settings: Settings) -> None:
    challenge = str(uuid.uuid4())
    token = link_token(challenge, WHEN, link_settings)
    assert len(token) == 38
    assert open_link_token(token, link_settings) == (challenge, WHEN)


def test_another_key_refuses(link_settings: Settings, tmp_path: Path) -> None:
    token = link_token(str(uuid.uuid4()), WHEN, link_settings)
    other = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="token"):
        open_link_token(token, other)


@given(position=st.integers(0, 27), bit=st.integers(0, 7))
def test_every_flipped_bit_is_refused(link_settings: Settings, position: int, bit: int) -> None:
    token = link_token("8c3e5a4e-8a55-4d55-9a4e-1f0e2b3c4d5e", WHEN, link_settings)
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    raw[position] ^= 1 << bit
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(ValidationError):
        open_link_token(forged, link_settings)


@given(junk=st.text(max_size=60))
def test_junk_is_refused_without_other_errors(link_settings: Settings, junk: str) -> None:
    with pytest.raises(ValidationError):
        open_link_token(junk, link_settings)


def test_bad_inputs(link_settings: Settings) -> None:
    with pytest.raises(ValidationError, match="challenge_id"):
        link_token("nope", WHEN, link_settings)
    with pytest.raises(ValidationError, match="expires_at"):
        link_token(str(uuid.uuid4()), datetime(2026, 1, 1), link_settings)
    with pytest.raises(ValidationError, match="purpose"):
        derive_key(link_settings, "")
    assert derive_key(link_settings, "a") != derive_key(link_settings, "b")


def test_sms_carries_the_link_when_it_fits() -> None:
    link = "http://127.0.0.1:8000/c/" + "A" * 38
    message = otp_sms(to="0912345678", code="123456", document_label="HD2026-000123", link=link)
    assert message.text.endswith("Xem tai: " + link)
    assert len(message.text) <= SMS_MAX_SEPTETS
    english = otp_sms(
        to="0912345678", code="123456", document_label="HD2026-000123", link=link, locale="en"
    )
    assert english.text.endswith("View: " + link)


def test_sms_leaves_a_long_link_out() -> None:
    link = "https://a-very-long-portal-name.example.vn/customers/sign/c/" + "A" * 38
    message = otp_sms(to="0912345678", code="123456", document_label="HD2026-000123", link=link)
    assert "http" not in message.text
    assert message.text.endswith("Khong chia se ma nay.")


def test_email_carries_the_link_and_refuses_junk() -> None:
    link = "http://127.0.0.1:8000/c/" + "B" * 38
    message = otp_email(
        to="a@example.com",
        code="123456",
        document_label="HD2026-000123",
        document_sha256="0" * 64,
        link=link,
    )
    assert message.text is not None
    assert link in message.text
    assert message.html is not None
    assert f'href="{link}"' in message.html
    with pytest.raises(ValidationError, match="link"):
        otp_sms(to="0912345678", code="123456", document_label="X", link="javascript:alert(1)")
