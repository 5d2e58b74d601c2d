"""Security properties: brute force, concurrency (PostgreSQL), and nothing secret leaks."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.delivery import FileOutboxChannel, MemoryChannel
from evservice.errors import (
    ChallengeLocked,
    ChallengeUsed,
    CodeMismatch,
    CodeNotDelivered,
    ConsentError,
    DocumentChanged,
    EvServiceError,
    RateLimited,
)
from evservice.otp import create_challenge, get_challenge, resend_challenge, send_challenge, verify

PHONE = "0912 345 678"
PHONE_FORMS = ("0912345678", "912345678", "+84912345678", "0912 345 678")
EMAIL = "nguyen.van.an@example.com"


def _open(ctx: Context, doc: str) -> tuple[str, str]:
    challenge, code = create_challenge(
        ctx,
        subject="HD2026-000123",
        document_sha256=doc,
        channel="sms",
        destination=PHONE,
        purpose="contract.sign",
    )
    return challenge.id, code


def test_brute_force_is_blocked_after_five_guesses(ctx: Context, doc: str) -> None:
    challenge_id, code = _open(ctx, doc)
    guesses = [f"{n:06d}" for n in range(10_000) if f"{n:06d}" != code][:10_000]
    outcomes: Counter[str] = Counter()
    for guess in guesses:
        try:
            verify(challenge_id, guess, document_sha256=doc, ctx=ctx)
        except ConsentError as exc:
            outcomes[type(exc).__name__] += 1
        else:  # pragma: no cover - would be the failure
            outcomes["accepted"] += 1
    assert outcomes == {"CodeMismatch": 5, "ChallengeLocked": len(guesses) - 5}
    with pytest.raises(ChallengeLocked):
        verify(challenge_id, code, document_sha256=doc, ctx=ctx)
    assert get_challenge(challenge_id, ctx).attempts == 5


def _run_concurrently(count: int, work: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _kinds(results: list[object]) -> Counter[str]:
    return Counter(type(r).__name__ for r in results)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_fifty_concurrent_correct_codes_give_one_success(ctx: Context, doc: str) -> None:
    challenge_id, code = _open(ctx, doc)
    results = _run_concurrently(
        50, lambda: verify(challenge_id, code, document_sha256=doc, ctx=ctx)
    )
    assert _kinds(results) == {"VerifiedConsent": 1, "ChallengeUsed": 49}
    assert all(isinstance(r, ChallengeUsed) for r in results if isinstance(r, Exception))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_wrong_codes_never_exceed_five_tries(ctx: Context, doc: str) -> None:
    challenge_id, code = _open(ctx, doc)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    results = _run_concurrently(
        30, lambda: verify(challenge_id, wrong, document_sha256=doc, ctx=ctx)
    )
    assert _kinds(results) == {"CodeMismatch": 5, "ChallengeLocked": 25}
    remaining = sorted(r.remaining for r in results if isinstance(r, CodeMismatch))
    assert remaining == [0, 1, 2, 3, 4]
    assert get_challenge(challenge_id, ctx).attempts == 5


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_sends_respect_the_recipient_limit(
    with_settings: Callable[..., Context], doc: str
) -> None:
    ctx = with_settings(otp_max_sends_per_recipient=10)
    counter = iter(range(1000))
    lock = threading.Lock()

    def open_one() -> object:
        with lock:
            n = next(counter)
        return create_challenge(
            ctx,
            subject=f"HD2026-{n:06d}",
            document_sha256=doc,
            channel="sms",
            destination=PHONE,
            purpose="contract.sign",
        )

    results = _run_concurrently(20, open_one)
    assert _kinds(results) == {"tuple": 10, "RateLimited": 10}
    assert all(isinstance(r, RateLimited) for r in results if isinstance(r, Exception))


def _secrets_in(text: str, codes: set[str]) -> list[str]:
    found = [c for c in codes if re.search(rf"(?<![0-9a-f]){c}(?![0-9a-f])", text)]
    found += [p for p in PHONE_FORMS if p in text]
    found += [s for s in (EMAIL, "nguyen.van.an") if s in text]
    return found


def test_no_code_phone_or_email_in_logs_errors_or_rows(
    ctx: Context,
    doc: str,
    other_doc: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[EvServiceError] = []
    sms = MemoryChannel()
    mail = FileOutboxChannel(tmp_path / "outbox", clock=clock)

    def expect(kind: type[EvServiceError], call: Callable[[], object]) -> None:
        with pytest.raises(kind) as info:
            call()
        errors.append(info.value)

    # SMS: a gateway outage, an immediate resend, wrong codes, a changed document, success, replay.
    sms.fail_next(3)
    with pytest.raises(CodeNotDelivered) as outage:
        send_challenge(
            sms,
            subject="HD2026-000123",
            document_sha256=doc,
            kind="sms",
            destination=PHONE,
            ctx=ctx,
            sleep=lambda _: None,
        )
    errors.append(outage.value)
    challenge = resend_challenge(
        outage.value.challenge_id, sms, destination=PHONE, ctx=ctx, sleep=lambda _: None
    )
    code = sms.sent[-1].text.split(": ")[1][:6]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    expect(CodeMismatch, lambda: verify(challenge.id, wrong, document_sha256=doc, ctx=ctx))
    expect(DocumentChanged, lambda: verify(challenge.id, code, document_sha256=other_doc, ctx=ctx))
    expect(RateLimited, lambda: resend_challenge(challenge.id, sms, destination=PHONE, ctx=ctx))
    verify(challenge.id, code, document_sha256=doc, ctx=ctx, client_ip="203.0.113.9")
    expect(ChallengeUsed, lambda: verify(challenge.id, code, document_sha256=doc, ctx=ctx))

    # E-mail with the contract attached, through the file outbox.
    mailed = send_challenge(
        mail,
        subject="HD2026-000123",
        document_sha256=doc,
        kind="email",
        destination=EMAIL,
        attachments=[("HD2026-000123.pdf", "application/pdf", b"%PDF-1.7")],
        ctx=ctx,
    )
    [eml] = (tmp_path / "outbox" / "email").iterdir()
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"\n\s+([0-9]{6})\s*\n", body.get_content())
    assert found is not None
    mail_code = found.group(1)
    verify(mailed.id, mail_code, document_sha256=doc, ctx=ctx)

    codes = {code, wrong, mail_code}
    log_text = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    assert "evservice.otp" in log_text
    assert "+84 *** *** 678" in log_text
    assert "n***@example.com" in log_text
    assert _secrets_in(log_text, codes) == []
    for error in errors:
        assert _secrets_in(str(error), codes) == [], error

    with ctx.engine.connect() as conn:
        for table in ("otp_challenge", "otp_send", "delivery_outbox"):
            rows = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
            dump = repr(rows)
            assert _secrets_in(dump, codes) == [], table
