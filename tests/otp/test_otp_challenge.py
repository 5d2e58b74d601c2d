"""OTP challenges on SQLite and PostgreSQL: single use, expiry, tries, binding, resends, limits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

import evservice.otp as otp
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.errors import (
    ChallengeExpired,
    ChallengeLocked,
    ChallengeUsed,
    CodeMismatch,
    DocumentChanged,
    NotFoundError,
    RateLimited,
    ValidationError,
)
from evservice.otp import OtpPolicy, create_challenge, get_challenge, resend, verify
from evservice.store import transaction

PHONE = "0912 345 678"


def _open(ctx: Context, doc: str, **kwargs: str) -> tuple[otp.Challenge, str]:
    values = {
        "subject": "HD2026-000123",
        "document_sha256": doc,
        "channel": "sms",
        "destination": PHONE,
        "purpose": "contract.sign",
    }
    values.update(kwargs)
    return create_challenge(ctx, **values)  # type: ignore[arg-type]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_public_api_is_sorted_and_complete() -> None:
    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2), name

    assert otp.__all__ == sorted(otp.__all__, key=key)
    assert {n for n in vars(otp) if not n.startswith("_")} == set(otp.__all__)


def test_create_and_verify_once(ctx: Context, doc: str, clock: ManualClock) -> None:
    challenge, code = _open(ctx, doc)
    assert re.fullmatch(r"[0-9]{6}", code)
    assert challenge.status == "pending"
    assert challenge.destination_masked == "+84 *** *** 678"
    assert challenge.expires_at == clock.now() + timedelta(minutes=5)
    assert challenge.remaining_attempts == 5

    clock.advance(299)
    consent = verify(
        challenge.id,
        code,
        document_sha256=doc.upper(),
        ctx=ctx,
        client_ip="2001:db8::1",
        user_agent="Mozilla/5.0\x00 test",
    )
    assert consent.document_sha256 == doc
    assert consent.confirmed_at == clock.now()
    assert consent.evidence() == {
        "challenge_id": challenge.id,
        "subject": "HD2026-000123",
        "purpose": "contract.sign",
        "document_sha256": doc,
        "channel": "sms",
        "destination": "+84 *** *** 678",
        "confirmed_at": clock.now().isoformat(),
        "client_ip": "2001:db8::1",
        "user_agent": "Mozilla/5.0 test",
    }
    assert get_challenge(challenge.id, ctx).status == "confirmed"
    with pytest.raises(ChallengeUsed):
        verify(challenge.id, code, document_sha256=doc, ctx=ctx)
    with pytest.raises(ChallengeUsed):
        verify(challenge.id, _wrong(code), document_sha256=doc, ctx=ctx)


def test_codes_are_random_and_stored_only_as_keyed_hashes(ctx: Context, doc: str) -> None:
    codes = {
        _open(ctx, doc, subject=f"HD-{n}", destination=f"09123456{n:02d}")[1] for n in range(8)
    }
    assert len(codes) >= 7  # 8 draws from a million: a repeat is a one-in-36,000 event
    with ctx.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM otp_challenge"))]
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", str(row["code_hash"]))
        visible = {k: v for k, v in row.items() if not str(k).endswith(("hash", "sha256"))}
        for code in codes:
            assert code not in str(visible)


def test_wrong_codes_count_down_then_lock(ctx: Context, doc: str) -> None:
    challenge, code = _open(ctx, doc)
    remaining = []
    for _ in range(5):
        with pytest.raises(CodeMismatch) as info:
            verify(challenge.id, _wrong(code), document_sha256=doc, ctx=ctx)
        remaining.append(info.value.remaining)
    assert remaining == [4, 3, 2, 1, 0]
    with pytest.raises(ChallengeLocked):
        verify(challenge.id, code, document_sha256=doc, ctx=ctx)
    locked = get_challenge(challenge.id, ctx)
    assert (locked.status, locked.attempts) == ("locked", 5)


def test_changed_document_confirms_nothing_and_uses_no_try(
    ctx: Context, doc: str, other_doc: str
) -> None:
    challenge, code = _open(ctx, doc)
    with pytest.raises(DocumentChanged):
        verify(challenge.id, code, document_sha256=other_doc, ctx=ctx)
    assert get_challenge(challenge.id, ctx).attempts == 0
    assert verify(challenge.id, code, document_sha256=doc, ctx=ctx).document_sha256 == doc


def test_expired_code(ctx: Context, doc: str, clock: ManualClock) -> None:
    challenge, code = _open(ctx, doc)
    clock.advance(300)
    with pytest.raises(ChallengeExpired):
        verify(challenge.id, code, document_sha256=doc, ctx=ctx)
    assert get_challenge(challenge.id, ctx).state_at(clock.now()) == "expired"


def test_code_of_one_challenge_does_not_open_another(ctx: Context, doc: str) -> None:
    first, first_code = _open(ctx, doc, channel="sms")
    second, second_code = _open(ctx, doc, channel="email", destination="an@example.com")
    while second_code == first_code:  # one in a million: draw again rather than pass by luck
        second, second_code = _open(ctx, doc, channel="email", destination="an@example.com")
    with pytest.raises(CodeMismatch):
        verify(second.id, first_code, document_sha256=doc, ctx=ctx)
    assert verify(second.id, second_code, document_sha256=doc, ctx=ctx).channel == "email"
    assert verify(first.id, first_code, document_sha256=doc, ctx=ctx).channel == "sms"


def test_malformed_codes_use_no_try(ctx: Context, doc: str) -> None:
    challenge, code = _open(ctx, doc)
    for bad in ["", "12345", "1234567", "12a456", "１２３４５６"]:
        with pytest.raises(ValidationError) as info:
            verify(challenge.id, bad, document_sha256=doc, ctx=ctx)
        assert info.value.field == "code"
    assert get_challenge(challenge.id, ctx).attempts == 0
    spaced = f"{code[:3]} {code[3:]}"
    assert verify(challenge.id, spaced, document_sha256=doc, ctx=ctx)


def test_unknown_and_malformed_ids(ctx: Context, doc: str) -> None:
    with pytest.raises(NotFoundError):
        verify(str(uuid.uuid4()), "123456", document_sha256=doc, ctx=ctx)
    with pytest.raises(ValidationError) as info:
        verify("'; DROP TABLE otp_challenge; --", "123456", document_sha256=doc, ctx=ctx)
    assert info.value.field == "challenge_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"document_sha256": "abc"}, "document_sha256"),
        ({"channel": "fax"}, "channel"),
        ({"destination": "12"}, "destination"),
        ({"channel": "email", "destination": "nobody"}, "destination"),
        ({"subject": "HD 2026"}, "subject"),
        ({"purpose": "Sign It"}, "purpose"),
    ],
)
def test_bad_input_names_the_field(
    sqlite_ctx: Context, doc: str, kwargs: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _open(sqlite_ctx, doc, **kwargs)
    assert info.value.field == field


def test_resend_after_cooldown_replaces_the_code(
    ctx: Context, doc: str, clock: ManualClock
) -> None:
    challenge, old = _open(ctx, doc)
    with pytest.raises(CodeMismatch):
        verify(challenge.id, _wrong(old), document_sha256=doc, ctx=ctx)
    with pytest.raises(RateLimited) as info:
        resend(challenge.id, ctx)
    assert info.value.retry_after == 60
    clock.advance(45)
    with pytest.raises(RateLimited) as info:
        resend(challenge.id, ctx)
    assert info.value.retry_after == 15
    clock.advance(15)
    renewed, new = resend(challenge.id, ctx, destination="+84912345678")
    assert renewed.send_count == 2
    assert renewed.expires_at == clock.now() + timedelta(minutes=5)
    assert renewed.attempts == 1  # a resend gives no new tries
    if new != old:
        with pytest.raises(CodeMismatch) as mismatch:
            verify(challenge.id, old, document_sha256=doc, ctx=ctx)
        assert mismatch.value.remaining == 3
    assert verify(challenge.id, new, document_sha256=doc, ctx=ctx)


def test_resend_revives_an_expired_challenge(ctx: Context, doc: str, clock: ManualClock) -> None:
    challenge, _ = _open(ctx, doc)
    clock.advance(600)
    _, code = resend(challenge.id, ctx)
    assert verify(challenge.id, code, document_sha256=doc, ctx=ctx)


def test_resends_are_capped(ctx: Context, doc: str, clock: ManualClock) -> None:
    challenge, _ = _open(ctx, doc)
    for _ in range(4):
        clock.advance(60)
        resend(challenge.id, ctx)
    clock.advance(60)
    with pytest.raises(RateLimited) as info:
        resend(challenge.id, ctx)
    assert info.value.retry_after is None
    assert get_challenge(challenge.id, ctx).send_count == 5


def test_resend_refuses_dead_challenges_and_foreign_destinations(
    ctx: Context, doc: str, clock: ManualClock
) -> None:
    used, code = _open(ctx, doc)
    verify(used.id, code, document_sha256=doc, ctx=ctx)
    clock.advance(60)
    with pytest.raises(ChallengeUsed):
        resend(used.id, ctx)
    locked, code = _open(ctx, doc)
    for _ in range(5):
        with pytest.raises(CodeMismatch):
            verify(locked.id, _wrong(code), document_sha256=doc, ctx=ctx)
    clock.advance(60)
    with pytest.raises(ChallengeLocked):
        resend(locked.id, ctx)
    clock.advance(900)  # the cool-down after a lock
    fresh, _ = _open(ctx, doc)
    clock.advance(60)
    with pytest.raises(ValidationError) as info:
        resend(fresh.id, ctx, destination="0987654321")
    assert info.value.field == "destination"
    assert "0987654321" not in str(info.value)


def test_rate_limit_per_recipient(
    with_settings: Callable[..., Context], doc: str, clock: ManualClock
) -> None:
    ctx = with_settings(otp_max_sends_per_recipient=3, otp_rate_window_seconds=600)
    for n, spelling in enumerate(["0912345678", "+84 912 345 678", "84912345678"]):
        _open(ctx, doc, subject=f"HD-{n}", destination=spelling)
    clock.advance(100)
    with pytest.raises(RateLimited) as info:
        _open(ctx, doc, subject="HD-9", destination="0912.345.678")
    assert info.value.retry_after == 500
    _open(ctx, doc, subject="HD-9", destination="0987654321")  # another recipient
    _open(ctx, doc, subject="HD-9", channel="email", destination="an@example.com")
    clock.advance(500)
    _open(ctx, doc, subject="HD-9", destination="0912345678")  # the window moved on


def test_rate_limit_per_document(
    with_settings: Callable[..., Context], doc: str, clock: ManualClock
) -> None:
    ctx = with_settings(otp_max_sends_per_subject=2, otp_rate_window_seconds=600)
    _open(ctx, doc, destination="0912345678")
    challenge, _ = _open(ctx, doc, destination="0987654321")
    with pytest.raises(RateLimited):
        _open(ctx, doc, destination="0977777777")
    clock.advance(60)
    with pytest.raises(RateLimited):
        resend(challenge.id, ctx)  # resends count too
    _open(ctx, doc, subject="HD2026-000124", destination="0977777777")


def test_create_joins_the_callers_transaction(ctx: Context, doc: str) -> None:
    class Boom(Exception):
        pass

    opened: list[otp.Challenge] = []

    def open_then_fail() -> None:
        with transaction(ctx.engine) as session:
            challenge, _ = create_challenge(
                ctx,
                subject="HD2026-000123",
                document_sha256=doc,
                channel="sms",
                destination=PHONE,
                purpose="contract.sign",
                session=session,
            )
            opened.append(challenge)
            raise Boom

    with pytest.raises(Boom):
        open_then_fail()
    with pytest.raises(NotFoundError):
        get_challenge(opened[0].id, ctx)


def test_policy_checks_its_values() -> None:
    with pytest.raises(ValidationError) as info:
        OtpPolicy(max_attempts=0)
    assert info.value.field == "otp_max_attempts"
    with pytest.raises(ValidationError):
        OtpPolicy(resend_cooldown_seconds=-1)


def test_default_limits_are_the_documented_ones(ctx: Context) -> None:
    """README: 5 minutes, 5 tries, 60 s between codes, 5 codes per challenge, and 5 codes
    per recipient and per document an hour, 15 minutes of cool-down after a lock."""
    policy = OtpPolicy.from_settings(ctx.settings)
    assert policy == OtpPolicy()
    assert (policy.ttl_seconds, policy.max_attempts, policy.resend_cooldown_seconds) == (
        300,
        5,
        60,
    )
    assert (policy.max_sends, policy.max_sends_per_recipient, policy.max_sends_per_subject) == (
        5,
        5,
        5,
    )
    assert (policy.rate_window_seconds, policy.lock_cooldown_seconds) == (3600, 900)


def test_sixth_code_to_one_recipient_within_the_hour_is_refused(
    ctx: Context, doc: str, clock: ManualClock
) -> None:
    for n in range(5):
        _open(ctx, doc, subject=f"HD-{n}")
        clock.advance(60)
    with pytest.raises(RateLimited) as info:
        _open(ctx, doc, subject="HD-5")
    assert info.value.retry_after == 3600 - 5 * 60
    clock.advance(3600 - 5 * 60 + 1)
    _open(ctx, doc, subject="HD-5")


def test_lock_starts_a_cool_down_for_the_recipient_and_the_document(
    ctx: Context, doc: str, clock: ManualClock
) -> None:
    locked, code = _open(ctx, doc)
    for _ in range(5):
        with pytest.raises(CodeMismatch):
            verify(locked.id, _wrong(code), document_sha256=doc, ctx=ctx)
    assert get_challenge(locked.id, ctx).status == "locked"
    clock.advance(1)
    with pytest.raises(RateLimited) as info:
        _open(ctx, doc)  # same recipient, same document
    assert info.value.retry_after == 899
    with pytest.raises(RateLimited):
        _open(ctx, doc, subject="HD-other")  # same recipient
    with pytest.raises(RateLimited):
        _open(ctx, doc, destination="0987654321")  # same document
    _open(ctx, doc, subject="HD-other", destination="0987654321")  # neither
    clock.advance(899)
    fresh, _ = _open(ctx, doc)
    assert fresh.status == "pending"


def test_lock_cool_down_blocks_resends_of_other_challenges(
    with_settings: Callable[..., Context], doc: str, clock: ManualClock
) -> None:
    ctx = with_settings(otp_lock_cooldown_seconds=300)
    other, _ = _open(ctx, doc, subject="HD-other")
    locked, code = _open(ctx, doc)
    for _ in range(5):
        with pytest.raises(CodeMismatch):
            verify(locked.id, _wrong(code), document_sha256=doc, ctx=ctx)
    clock.advance(60)
    with pytest.raises(RateLimited):
        resend(other.id, ctx)
    clock.advance(240)
    assert resend(other.id, ctx)[0].send_count == 2


def test_negative_lock_cool_down_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        OtpPolicy(lock_cooldown_seconds=-1)
    assert info.value.field == "otp_lock_cooldown_seconds"
