"""Hooks run inside the challenge's transactions: they commit, or roll back, with it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.delivery import MemoryChannel
from evservice.errors import ChallengeLocked, CodeMismatch, LifecycleError
from evservice.otp import (
    Challenge,
    VerifiedConsent,
    get_challenge,
    resend_challenge,
    send_challenge,
    verify,
)


def _code(channel: MemoryChannel) -> str:
    return channel.sent[-1].text.split(": ")[1][:6]


def _send(ctx: Context, doc: str, channel: MemoryChannel, **kwargs: object) -> Challenge:
    return send_challenge(
        channel,
        subject="contract:HD2026-000123",
        document_label="HD2026-000123",
        document_sha256=doc,
        kind="sms",
        destination="0912345678",
        ctx=ctx,
        **kwargs,  # type: ignore[arg-type]
    )


def _challenges(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM otp_challenge")).scalar_one())


def test_created_hook_sees_the_session_and_can_veto(ctx: Context, doc: str) -> None:
    channel = MemoryChannel()
    seen: list[tuple[str, int]] = []

    def record(session: Session, challenge: Challenge) -> None:
        count = session.exec(sa.text("SELECT count(*) FROM otp_challenge")).scalar_one()  # type: ignore[call-overload]
        seen.append((challenge.destination_masked, int(count)))

    challenge = _send(ctx, doc, channel, on_created=record)
    assert seen == [("+84 *** *** 678", 1)]  # the hook runs after the insert, same transaction

    def veto(session: Session, challenge: Challenge) -> None:
        raise LifecycleError("contract", "voided", "sent")

    with pytest.raises(LifecycleError):
        _send(ctx, doc, channel, on_created=veto)
    assert _challenges(ctx) == 1
    assert len(channel.sent) == 1  # nothing was sent for the vetoed challenge
    assert get_challenge(challenge.id, ctx).status == "pending"


def test_confirmed_hook_failure_leaves_the_challenge_pending(ctx: Context, doc: str) -> None:
    channel = MemoryChannel()
    challenge = _send(ctx, doc, channel)
    code = _code(channel)

    def refuse(session: Session, consent: VerifiedConsent) -> None:
        raise LifecycleError("contract", "voided", "consented")

    with pytest.raises(LifecycleError):
        verify(challenge.id, code, document_sha256=doc, ctx=ctx, on_confirmed=refuse)
    assert get_challenge(challenge.id, ctx).status == "pending"

    confirmed: list[VerifiedConsent] = []
    consent = verify(
        challenge.id,
        code,
        document_sha256=doc,
        ctx=ctx,
        on_confirmed=lambda session, c: confirmed.append(c),
    )
    assert confirmed == [consent]


def test_refused_and_resent_hooks(ctx: Context, doc: str, clock: ManualClock) -> None:
    channel = MemoryChannel()
    challenge = _send(ctx, doc, channel)
    resent: list[int] = []
    clock.advance(60)
    resend_challenge(
        challenge.id,
        channel,
        destination="0912345678",
        ctx=ctx,
        on_resent=lambda session, c: resent.append(c.send_count),
    )
    assert resent == [2]
    wrong = f"{(int(_code(channel)) + 1) % 10**6:06d}"
    states: list[tuple[str, int]] = []
    for _ in range(5):
        with pytest.raises(CodeMismatch):
            verify(
                challenge.id,
                wrong,
                document_sha256=doc,
                ctx=ctx,
                on_refused=lambda session, c: states.append((c.status, c.attempts)),
            )
    assert states == [("pending", 1), ("pending", 2), ("pending", 3), ("pending", 4), ("locked", 5)]
    with pytest.raises(ChallengeLocked):
        verify(challenge.id, wrong, document_sha256=doc, ctx=ctx)
