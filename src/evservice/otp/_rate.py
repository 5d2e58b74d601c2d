"""The limits across challenges: codes per recipient and per document, the cool-down after a lock.

Counted in the store, inside the transaction that sends the code; on
PostgreSQL, advisory locks make concurrent senders count one after the other.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from evservice.errors import RateLimited
from evservice.otp._policy import OtpPolicy
from evservice.otp._tables import ChallengeRow, SendRow

__all__ = ["check_rate", "lock", "serialise_on"]


def lock(row: ChallengeRow, policy: OtpPolicy, now: datetime) -> None:
    """Lock ``row`` (its last try is spent) and start the cool-down of its recipient and
    document: a locked challenge is never resent, so ``resend_after`` says until when
    no new code goes to them."""
    row.status = "locked"
    row.resend_after = now + timedelta(seconds=policy.lock_cooldown_seconds)


def serialise_on(session: Session, names: list[str]) -> None:
    """On PostgreSQL, take transaction-level advisory locks so that counts stay exact.

    SQLite needs nothing: its write transactions are already one at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted(
        int.from_bytes(hashlib.sha256(f"otp-rate:{n}".encode()).digest()[:8], "big", signed=True)
        for n in names
    )
    for key in keys:
        session.exec(select(func.pg_advisory_xact_lock(key))).one()


def check_rate(
    session: Session, policy: OtpPolicy, *, destination_hash: str, subject: str, now: datetime
) -> None:
    since = now - timedelta(seconds=policy.rate_window_seconds)
    checks = (
        (
            col(SendRow.destination_hash) == destination_hash,
            policy.max_sends_per_recipient,
            "this recipient",
        ),
        (col(SendRow.subject) == subject, policy.max_sends_per_subject, "this document"),
    )
    _check_lock_cooldown(session, destination_hash=destination_hash, subject=subject, now=now)
    for condition, limit, what in checks:
        count, oldest = session.exec(
            select(func.count(), func.min(SendRow.sent_at)).where(
                condition, col(SendRow.sent_at) > since
            )
        ).one()
        if count >= limit:
            retry_after = oldest + timedelta(seconds=policy.rate_window_seconds) - now
            raise RateLimited(
                f"too many codes sent to {what} (at most {limit} per "
                f"{policy.rate_window_seconds} s)",
                retry_after=max(1.0, retry_after.total_seconds()),
            )


def _check_lock_cooldown(
    session: Session, *, destination_hash: str, subject: str, now: datetime
) -> None:
    """Refuse a new code while a challenge to this destination or for this subject cools down.

    A challenge that locks gets ``resend_after`` = lock time + the policy's
    ``lock_cooldown_seconds`` (a locked challenge is never resent, so the
    column is free to mean "no new code before").
    """
    until = session.exec(
        select(func.max(ChallengeRow.resend_after)).where(
            col(ChallengeRow.status) == "locked",
            (col(ChallengeRow.destination_hash) == destination_hash)
            | (col(ChallengeRow.subject) == subject),
            col(ChallengeRow.resend_after) > now,
        )
    ).one()
    if until is not None:
        raise RateLimited(
            "a code for this recipient or document was locked after too many wrong tries; "
            "a new code can be requested later",
            retry_after=max(1.0, (until - now).total_seconds()),
        )
