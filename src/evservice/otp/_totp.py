"""Authenticator apps (TOTP, RFC 6238): enrolment, recovery codes, and the ``totp`` challenge.

Enrolment, for a customer (by customer code) or the provider's representative:

1. :func:`enrol_totp` draws a 160-bit secret (:func:`pyotp.random_base32`),
   stores it encrypted (``_fieldcipher.py``) in a ``pending`` enrolment and
   returns it once with its ``otpauth://totp/`` URI and QR code (drawn by our
   own QR matrix, ``_qrimage.py``). The URI's account label is the issuer and
   the holder's code: never a phone number or e-mail address.
2. :func:`confirm_enrolment` takes the first code the app shows (±1 step);
   five wrong codes revoke the pending enrolment. The enrolment becomes
   ``active`` (an older one of the same holder is revoked) and ten recovery
   codes are returned, once; only their keyed hashes are kept.
3. :func:`regenerate_recovery_codes` replaces the unused ones.

Consent: :func:`open_totp_challenge` opens a challenge with channel ``totp``
bound to the document hash, exactly like an SMS or e-mail challenge but with
nothing sent; the per-holder and per-document limits and the lock cool-down
apply as to sent codes (the holder plays the recipient).
:func:`~evservice.otp.verify` checks it (``_totpcore.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import pyotp
from sqlmodel import Session, col, delete, select

from evservice import audit, vn
from evservice._context import Context, resolve
from evservice.errors import CodeMismatch, LifecycleError, NotFoundError, ValidationError
from evservice.otp._challenge import (
    Challenge,
    ChallengeHook,
    _audit,
    _destination_hash,
    _purpose,
    _record_send,
    _sha256,
    _subject,
)
from evservice.otp._fieldcipher import field_key, seal_field
from evservice.otp._key import server_key
from evservice.otp._link import link_token
from evservice.otp._policy import OtpPolicy
from evservice.otp._qrimage import qr_png, qr_svg, qr_text
from evservice.otp._rate import check_rate, serialise_on
from evservice.otp._tables import ChallengeRow, TotpEnrolmentRow, TotpRecoveryRow
from evservice.otp._totpcore import (
    ALGORITHMS,
    SECRET_COLUMN,
    format_recovery_code,
    matching_step,
    new_recovery_code,
    open_secret,
    recovery_hash,
)
from evservice.store import transaction

__all__ = [
    "ENROLMENT_LINK",
    "HolderKind",
    "NewEnrolment",
    "TotpEnrolment",
    "confirm_enrolment",
    "enrol_totp",
    "enrolment_link",
    "get_enrolment",
    "open_totp_challenge",
    "pending_enrolment",
    "regenerate_recovery_codes",
    "revoke_totp",
]

log = logging.getLogger("evservice.otp")

HolderKind = Literal["customer", "representative"]
_HOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENROLMENT_ID = re.compile(r"^[0-9a-f-]{36}$")
_ENROL_TRIES = 5
#: The ``purpose`` of portal enrolment links (:func:`link_token`): they open nothing else.
ENROLMENT_LINK = "portal-totp"


@dataclass(frozen=True)
class TotpEnrolment:
    """An enrolment as callers see it: no secret."""

    id: str
    holder_kind: str
    holder: str
    issuer: str
    status: str
    digits: int
    period: int
    algorithm: str
    created_at: datetime
    confirmed_at: datetime | None
    recovery_codes_left: int = 0

    @property
    def label(self) -> str:
        """What the authenticator app lists: ``issuer:holder``."""
        return f"{self.issuer}:{self.holder}"


@dataclass(frozen=True)
class NewEnrolment:
    """A pending enrolment with its secret, for showing to its holder only (never log it)."""

    enrolment: TotpEnrolment
    secret: str = field(repr=False)
    uri: str = field(repr=False)

    def qr_svg(self, size: int = 240) -> str:
        return qr_svg(self.uri, size=size)

    def qr_png(self, scale: int = 8) -> bytes:
        return qr_png(self.uri, scale=scale)

    def qr_text(self) -> str:
        return qr_text(self.uri)

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, for typing it into an app by hand."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _holder(value: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _HOLDER.fullmatch(text):
        raise ValidationError(
            "holder", "must be a customer or staff code: 1-64 letters, digits, '.', '_', '-'"
        )
    if (text.isdigit() and len(text) >= 9) or vn.phone.is_valid(text):
        raise ValidationError("holder", "looks like a phone number; use the customer code")
    return text


def _kind(value: str) -> HolderKind:
    if value == "customer":
        return "customer"
    if value == "representative":
        return "representative"
    raise ValidationError("kind", "must be 'customer' or 'representative'")


def _enrolment_id(value: str) -> str:
    if not isinstance(value, str) or not _ENROLMENT_ID.fullmatch(value):
        raise ValidationError("enrolment_id", "is not an enrolment id")
    return value


def _issuer(ctx: Context, issuer: str | None) -> str:
    text = (
        issuer or ctx.settings.otp_totp_issuer or ctx.settings.seller_name or "evservice"
    ).strip()
    if not text or ":" in text or len(text) > 100 or not text.isprintable():
        raise ValidationError("issuer", "must be 1-100 printable characters without ':'")
    return text


def _view(row: TotpEnrolmentRow, left: int = 0) -> TotpEnrolment:
    return TotpEnrolment(
        id=row.id,
        holder_kind=row.holder_kind,
        holder=row.holder,
        issuer=row.issuer,
        status=row.status,
        digits=row.digits,
        period=row.period,
        algorithm=row.algorithm,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        recovery_codes_left=left,
    )


def _uri(row: TotpEnrolmentRow, secret: str) -> str:
    totp = pyotp.TOTP(
        secret, digits=row.digits, digest=ALGORITHMS[row.algorithm], interval=row.period
    )
    return totp.provisioning_uri(name=row.holder, issuer_name=row.issuer)


def _event(
    session: Session, type_: str, row: TotpEnrolmentRow, at: datetime, **data: object
) -> None:
    """An enrolment's audit event: holder and parameters, never the secret or a code."""
    audit.record(
        session,
        type=type_,
        subject=row.id,
        actor=row.holder_kind,
        at=at,
        data={"holder_kind": row.holder_kind, "holder": row.holder, **data},
    )


def enrol_totp(
    holder: str,
    *,
    kind: str = "customer",
    issuer: str | None = None,
    digits: int = 6,
    algorithm: str = "SHA1",
    period: int = 30,
    ctx: Context | None = None,
) -> NewEnrolment:
    """Start an enrolment for ``holder`` (a customer code, or the representative's staff code).

    Returns the secret, URI and QR code once, for the holder's eyes; the
    enrolment is ``pending`` until :func:`confirm_enrolment`. SHA1, 6 digits
    and 30 s are what every authenticator app supports; RFC 6238 also allows
    SHA256/SHA512 and 8 digits.
    """
    ctx = resolve(ctx)
    holder, holder_kind = _holder(holder), _kind(kind)
    algorithm = str(algorithm).upper()
    if algorithm not in ALGORITHMS:
        raise ValidationError("algorithm", f"must be one of {', '.join(ALGORITHMS)}")
    if digits not in (6, 7, 8):
        raise ValidationError("digits", "must be 6, 7 or 8")
    if not 15 <= period <= 120:
        raise ValidationError("period", "must be 15 to 120 seconds")
    secret = pyotp.random_base32(32)  # 32 base32 characters: 160 bits (RFC 4226 section 4)
    now = ctx.clock.now()
    row = TotpEnrolmentRow(
        id=str(uuid.uuid4()),
        holder_kind=holder_kind,
        holder=holder,
        issuer=_issuer(ctx, issuer),
        secret_sealed="",
        digits=digits,
        period=period,
        algorithm=algorithm,
        status="pending",
        created_at=now,
    )
    table, column = SECRET_COLUMN
    row.secret_sealed = seal_field(
        field_key(ctx.settings),
        secret.encode("ascii"),
        table=table,
        column=column,
        primary_key=row.id,
    )
    with transaction(ctx.engine) as session:
        session.add(row)
        session.flush()
        _event(
            session,
            "otp.totp_enrolled",
            row,
            now,
            issuer=row.issuer,
            digits=digits,
            algorithm=algorithm,
            period=period,
        )
    log.info("TOTP enrolment %s started for %s %s", row.id, holder_kind, holder)
    return NewEnrolment(_view(row), secret, _uri(row, secret))


def enrolment_link(enrolment_id: str, ctx: Context | None = None) -> str | None:
    """``<portal_url>/totp/<token>``: the page that shows a pending enrolment's QR code.

    Valid for ``portal_link_ttl_seconds``; None without a portal. Whoever holds
    the link sees the secret until the enrolment is confirmed, so give it to the
    holder only (it is never sent by SMS or e-mail by the library).
    """
    ctx = resolve(ctx)
    base = ctx.settings.portal_url
    if not base:
        return None
    expires = ctx.clock.now() + timedelta(seconds=ctx.settings.portal_link_ttl_seconds)
    token = link_token(_enrolment_id(enrolment_id), expires, ctx.settings, purpose=ENROLMENT_LINK)
    return f"{base.rstrip('/')}/totp/{token}"


def _locked(session: Session, enrolment_id: str) -> TotpEnrolmentRow:
    row = session.exec(
        select(TotpEnrolmentRow)
        .where(col(TotpEnrolmentRow.id) == enrolment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no TOTP enrolment {enrolment_id}")
    return row


def pending_enrolment(enrolment_id: str, ctx: Context | None = None) -> NewEnrolment:
    """The secret, URI and QR code of an enrolment not yet confirmed (to show it again).

    Once active, the secret is never shown again: LifecycleError.
    """
    ctx = resolve(ctx)
    enrolment_id = _enrolment_id(enrolment_id)
    with transaction(ctx.engine) as session:
        row = session.get(TotpEnrolmentRow, enrolment_id)
        if row is None:
            raise NotFoundError(f"no TOTP enrolment {enrolment_id}")
    if row.status != "pending":
        raise LifecycleError("TOTP enrolment", row.status, "shown")
    secret = open_secret(ctx.settings, row)
    return NewEnrolment(_view(row), secret, _uri(row, secret))


def _new_recovery_codes(
    session: Session, ctx: Context, row: TotpEnrolmentRow, now: datetime
) -> list[str]:
    session.exec(delete(TotpRecoveryRow).where(col(TotpRecoveryRow.enrolment_id) == row.id))
    codes = [new_recovery_code() for _ in range(ctx.settings.otp_totp_recovery_codes)]
    for code in codes:
        session.add(
            TotpRecoveryRow(
                id=str(uuid.uuid4()),
                enrolment_id=row.id,
                code_hash=recovery_hash(ctx.settings, row.id, code),
                created_at=now,
            )
        )
    session.flush()
    _event(session, "otp.totp_recovery_generated", row, now, count=len(codes))
    return [format_recovery_code(c) for c in codes]


def confirm_enrolment(enrolment_id: str, code: str, *, ctx: Context | None = None) -> list[str]:
    """Activate a pending enrolment with the app's first code; return its recovery codes (once).

    The code's time step becomes the enrolment's ``last_step`` (so it cannot
    then sign anything). A wrong code raises :class:`CodeMismatch` with the
    tries left; the fifth revokes the enrolment (start again with
    :func:`enrol_totp`). An older active enrolment of the holder is revoked.
    """
    ctx = resolve(ctx)
    enrolment_id = _enrolment_id(enrolment_id)
    given = "".join(code.split()) if isinstance(code, str) else ""
    if not given.isdigit() or not 6 <= len(given) <= 8:
        raise ValidationError("code", "must be the 6 to 8 digits the app shows")
    outcome: list[str] | CodeMismatch
    with transaction(ctx.engine) as session:
        row = _locked(session, enrolment_id)
        if row.status != "pending":
            raise LifecycleError("TOTP enrolment", row.status, "active")
        now = ctx.clock.now()
        step = None
        if len(given) == row.digits:
            step = matching_step(
                open_secret(ctx.settings, row),
                given,
                now,
                digits=row.digits,
                period=row.period,
                algorithm=row.algorithm,
            )
        if step is None:
            row.attempts += 1
            left = max(0, _ENROL_TRIES - row.attempts)
            if left == 0:
                row.status, row.revoked_at = "revoked", now
            session.add(row)
            _event(session, "otp.totp_enrolment_failed", row, now, attempts_left=left)
            outcome = CodeMismatch(
                f"wrong code for TOTP enrolment {row.id}; {left} tries left", remaining=left
            )
        else:
            for old in session.exec(
                select(TotpEnrolmentRow)
                .where(
                    col(TotpEnrolmentRow.holder_kind) == row.holder_kind,
                    col(TotpEnrolmentRow.holder) == row.holder,
                    col(TotpEnrolmentRow.status) == "active",
                )
                .with_for_update()
            ):
                old.status, old.revoked_at = "revoked", now
                session.add(old)
                _event(session, "otp.totp_revoked", old, now, replaced_by=row.id)
            row.status, row.confirmed_at, row.last_step = "active", now, step
            session.add(row)
            session.flush()
            _event(session, "otp.totp_activated", row, now)
            outcome = _new_recovery_codes(session, ctx, row, now)
    if isinstance(outcome, CodeMismatch):
        log.warning("TOTP enrolment %s refused: %s", enrolment_id, outcome)
        raise outcome
    log.info("TOTP enrolment %s active", enrolment_id)
    return outcome


def _active(session: Session, holder: str, kind: str) -> TotpEnrolmentRow:
    holder, holder_kind = _holder(holder), _kind(kind)
    row = session.exec(
        select(TotpEnrolmentRow).where(
            col(TotpEnrolmentRow.holder_kind) == holder_kind,
            col(TotpEnrolmentRow.holder) == holder,
            col(TotpEnrolmentRow.status) == "active",
        )
    ).first()
    if row is None:
        raise NotFoundError(f"{holder_kind} {holder} has no active authenticator app")
    return row


def get_enrolment(
    holder: str, *, kind: str = "customer", ctx: Context | None = None
) -> TotpEnrolment:
    """The active enrolment of ``holder`` (NotFoundError if none), with its recovery codes left."""
    with transaction(resolve(ctx).engine) as session:
        row = _active(session, holder, kind)
        left = len(
            session.exec(
                select(TotpRecoveryRow.id).where(
                    col(TotpRecoveryRow.enrolment_id) == row.id,
                    col(TotpRecoveryRow.used_at).is_(None),
                )
            ).all()
        )
        return _view(row, left)


def regenerate_recovery_codes(
    holder: str, *, kind: str = "customer", ctx: Context | None = None
) -> list[str]:
    """New recovery codes for the active enrolment of ``holder``; the old ones stop working."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = _locked(session, _active(session, holder, kind).id)
        return _new_recovery_codes(session, ctx, row, ctx.clock.now())


def revoke_totp(
    holder: str, *, kind: str = "customer", ctx: Context | None = None
) -> TotpEnrolment:
    """Withdraw the active enrolment of ``holder`` (a lost phone); its codes confirm nothing."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = _locked(session, _active(session, holder, kind).id)
        now = ctx.clock.now()
        row.status, row.revoked_at = "revoked", now
        session.add(row)
        _event(session, "otp.totp_revoked", row, now)
    log.info("TOTP enrolment %s revoked", row.id)
    return _view(row)


def _holder_hash(key: bytes, row: TotpEnrolmentRow) -> str:
    return _destination_hash(key, "totp", f"{row.holder_kind}:{row.holder}")


def open_totp_challenge(
    ctx: Context | None = None,
    *,
    subject: str,
    document_sha256: str,
    holder: str,
    kind: str = "customer",
    purpose: str = "contract.sign",
    session: Session | None = None,
    policy: OtpPolicy | None = None,
    on_created: ChallengeHook | None = None,
) -> Challenge:
    """A challenge for ``subject``'s document that ``holder`` confirms with the app's code.

    Nothing is sent. Limits as for sent codes: at most ``max_sends_per_recipient``
    challenges per holder and ``max_sends_per_subject`` per document within the
    window, none during a lock's cool-down (:class:`RateLimited`). The
    challenge's ``destination_masked`` names the app, not the holder.
    NotFoundError when the holder has no active enrolment.
    """
    ctx = resolve(ctx)
    policy = policy or OtpPolicy.from_settings(ctx.settings)
    subject, purpose, document = _subject(subject), _purpose(purpose), _sha256(document_sha256)
    key = server_key(ctx.settings)

    def _open(s: Session) -> ChallengeRow:
        enrolment = _active(s, holder, kind)
        destination_hash = _holder_hash(key, enrolment)
        serialise_on(s, [f"recipient:{destination_hash}", f"subject:{subject}"])
        now = ctx.clock.now()
        check_rate(s, policy, destination_hash=destination_hash, subject=subject, now=now)
        row = ChallengeRow(
            id=str(uuid.uuid4()),
            subject=subject,
            purpose=purpose,
            document_sha256=document,
            channel="totp",
            destination_masked=f"authenticator app {enrolment.id[:8]}",
            destination_hash=destination_hash,
            code_hash=hmac.new(
                key, uuid.uuid4().bytes, hashlib.sha256
            ).hexdigest(),  # matches nothing
            status="pending",
            attempts=0,
            max_attempts=policy.max_attempts,
            send_count=1,
            max_sends=1,
            created_at=now,
            code_issued_at=now,
            expires_at=now + timedelta(seconds=policy.ttl_seconds),
            resend_after=now + timedelta(seconds=policy.ttl_seconds),
            enrolment_id=enrolment.id,
        )
        s.add(row)
        s.flush()
        _record_send(s, row, now)
        s.flush()
        if on_created is not None:
            on_created(s, Challenge._from_row(row))
        _audit(s, "otp.totp_opened", row, now, enrolment=enrolment.id, expires_at=row.expires_at)
        return row

    if session is not None:
        row = _open(session)
    else:
        with transaction(ctx.engine) as own:
            row = _open(own)
    log.info(
        "challenge %s for %s (%s) opened for the authenticator app",
        row.id,
        row.subject,
        row.purpose,
    )
    return Challenge._from_row(row)
