"""Helpers of the authenticator-app tests: contexts at a time, enrolments with known secrets."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import sqlalchemy as sa

from evservice import otp
from evservice._context import Context
from evservice.clock import ManualClock


def b32(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def at(ctx: Context, unix: int) -> Context:
    """The same store and settings, the clock at Unix time ``unix``."""
    return Context(settings=ctx.settings, clock=ManualClock(datetime.fromtimestamp(unix, UTC)))


def enrol_with_secret(
    ctx: Context,
    holder: str,
    secret: str,
    *,
    digits: int = 6,
    algorithm: str = "SHA1",
    kind: str = "customer",
) -> otp.NewEnrolment:
    """A pending enrolment whose secret is ``secret`` (base32), sealed as the library seals it.

    The test vectors' secrets are fixed, so the drawn one is replaced, in the
    stored ciphertext, by the vector's (same cipher, same associated data).
    """
    new = otp.enrol_totp(holder, kind=kind, digits=digits, algorithm=algorithm, ctx=ctx)
    sealed = otp.seal_field(
        otp.field_key(ctx.settings),
        secret.encode("ascii"),
        table="otp_totp_enrolment",
        column="secret_sealed",
        primary_key=new.enrolment.id,
    )
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE otp_totp_enrolment SET secret_sealed = :s WHERE id = :i"),
            {"s": sealed, "i": new.enrolment.id},
        )
    return otp.pending_enrolment(new.enrolment.id, ctx)


def active(ctx: Context, holder: str, **kwargs: object) -> tuple[otp.NewEnrolment, list[str]]:
    """An active enrolment of ``holder`` (confirmed with the current code), its recovery codes."""
    new = otp.enrol_totp(holder, ctx=ctx, **kwargs)  # type: ignore[arg-type]
    codes = otp.confirm_enrolment(
        new.enrolment.id, otp.totp_code(new.secret, ctx.clock.now()), ctx=ctx
    )
    return new, codes
