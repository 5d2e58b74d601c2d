"""OTP challenges: create, resend and verify a one-time code bound to a document.

The code is six digits drawn with :func:`secrets.randbelow` (a CSPRNG, NIST
SP 800-63B 5.1.3). pyotp's HOTP/TOTP are not used for sent codes: they derive
codes from a shared secret the server would have to keep recoverable. Here the
server only mails or texts a random code, so a fresh random draw per send is
the simplest correct generator, and the server keeps nothing but a keyed hash
of it. (The authenticator-app channel, where a secret is shared, is TOTP.)

Stored: HMAC-SHA256(server key, challenge id || document SHA-256 || code),
compared with :func:`hmac.compare_digest`. The hash binds the code to the
challenge and to the exact document shown (PSD2 RTS art. 5 dynamic linking):
a code of another challenge, or for a changed document, confirms nothing.

A ``totp`` challenge (the authenticator app, ``_totp.py``) sends nothing: its
code comes from the app's RFC 6238 secret and is checked by ``_totpcore.py``
in the same locked transaction, with the same tries, lock and cool-down.

A challenge that is confirmed or locked stays so for good; each process
remembers the last few thousand of them (:data:`_dead`), so a script
hammering a dead challenge is answered without touching the store.

Verification runs in one transaction holding the challenge's row lock
(``SELECT ... FOR UPDATE`` on PostgreSQL, the IMMEDIATE write lock on
SQLite): concurrent correct submissions give exactly one success, and
concurrent wrong guesses never count past ``max_attempts``. Failed attempts
are committed before the error is raised, so a caller cannot roll them back;
that is also why :func:`verify` takes no caller session.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, select

from evservice import audit
from evservice._context import Context, resolve
from evservice.delivery import mask_destination, normalise_destination
from evservice.errors import (
    ChallengeExpired,
    ChallengeLocked,
    ChallengeUsed,
    CodeMismatch,
    CodeReused,
    ConsentError,
    DocumentChanged,
    NotFoundError,
    RateLimited,
    ValidationError,
)
from evservice.otp._key import server_key
from evservice.otp._policy import OtpPolicy
from evservice.otp._rate import check_rate, lock, serialise_on
from evservice.otp._tables import ChallengeRow, SendRow
from evservice.otp._totpcore import check_totp, is_recovery_form
from evservice.store import transaction

__all__ = [
    "CODE_DIGITS",
    "Challenge",
    "VerifiedConsent",
    "create_challenge",
    "get_challenge",
    "mark_undelivered",
    "resend",
    "verify",
]

log = logging.getLogger("evservice.otp")

CODE_DIGITS = 6
ChannelKind = Literal["sms", "email", "totp"]
_KINDS: dict[str, ChannelKind] = {"sms": "sms", "email": "email", "totp": "totp"}

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SUBJECT = re.compile(r"^[\w.:/-]{1,100}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
_CODE = re.compile(rf"^[0-9]{{{CODE_DIGITS}}}$")
_APP_CODE = re.compile(r"^[0-9]{6,8}$")
_CHALLENGE_ID = re.compile(r"^[0-9a-f-]{36}$")

#: (store URL, challenge id) -> (final status, max attempts), for challenges that can
#: never change again (confirmed or locked). Bounded; the oldest entries drop out.
_dead: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
_dead_lock = threading.Lock()
_DEAD_MAX = 10_000


def _terminal_error(challenge_id: str, status: str, max_attempts: int) -> ConsentError:
    if status == "confirmed":
        return ChallengeUsed(
            f"challenge {challenge_id} was already confirmed; a code is accepted once"
        )
    return ChallengeLocked(f"challenge {challenge_id} is locked after {max_attempts} wrong codes")


def _remember_dead(store: str, row: ChallengeRow) -> None:
    with _dead_lock:
        _dead[(store, row.id)] = (row.status, row.max_attempts)
        _dead.move_to_end((store, row.id))
        while len(_dead) > _DEAD_MAX:
            _dead.popitem(last=False)


def _known_dead(store: str, challenge_id: str) -> ConsentError | None:
    with _dead_lock:
        known = _dead.get((store, challenge_id))
    return _terminal_error(challenge_id, *known) if known else None


@dataclass(frozen=True)
class Challenge:
    """A challenge as callers see it: no code, no hash, the destination masked."""

    id: str
    subject: str
    purpose: str
    document_sha256: str
    channel: ChannelKind
    destination_masked: str
    status: str
    attempts: int
    max_attempts: int
    send_count: int
    max_sends: int
    created_at: datetime
    code_issued_at: datetime
    expires_at: datetime
    resend_after: datetime
    confirmed_at: datetime | None

    @property
    def remaining_attempts(self) -> int:
        return max(0, self.max_attempts - self.attempts)

    def state_at(self, now: datetime) -> str:
        """``pending``, ``confirmed``, ``locked`` or ``expired`` at the instant ``now``."""
        if self.status == "pending" and now >= self.expires_at:
            return "expired"
        return self.status

    @classmethod
    def _from_row(cls, row: ChallengeRow) -> Challenge:
        return cls(
            id=row.id,
            subject=row.subject,
            purpose=row.purpose,
            document_sha256=row.document_sha256,
            channel=_KINDS[row.channel],
            destination_masked=row.destination_masked,
            status=row.status,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            send_count=row.send_count,
            max_sends=row.max_sends,
            created_at=row.created_at,
            code_issued_at=row.code_issued_at,
            expires_at=row.expires_at,
            resend_after=row.resend_after,
            confirmed_at=row.confirmed_at,
        )


@dataclass(frozen=True)
class VerifiedConsent:
    """Proof that the holder of the destination confirmed this exact document.

    :meth:`evidence` is what goes on the evidence page and into the audit log:
    who (subject, masked destination), what (document hash, purpose), when,
    by which channel, and the client's IP address and user agent when given.
    ``method`` is ``totp`` or ``recovery`` (a recovery code in place of the
    app's code) for the ``totp`` channel, None for a code sent by SMS or e-mail.
    """

    challenge_id: str
    subject: str
    purpose: str
    document_sha256: str
    channel: ChannelKind
    destination_masked: str
    confirmed_at: datetime
    client_ip: str | None = None
    user_agent: str | None = None
    method: str | None = None

    def evidence(self) -> dict[str, str]:
        """The consent as JSON-ready text fields (masked; no code, no raw destination)."""
        out = {
            "challenge_id": self.challenge_id,
            "subject": self.subject,
            "purpose": self.purpose,
            "document_sha256": self.document_sha256,
            "channel": self.channel,
            "destination": self.destination_masked,
            "confirmed_at": self.confirmed_at.isoformat(),
        }
        if self.client_ip:
            out["client_ip"] = self.client_ip
        if self.user_agent:
            out["user_agent"] = self.user_agent
        if self.method:
            out["method"] = self.method
        return out


#: Hooks run inside the transaction of a state change, with its session, so that
#: a caller's own rows and audit events commit (or roll back) together with it.
ChallengeHook = Callable[[Session, Challenge], None]
ConsentHook = Callable[[Session, VerifiedConsent], None]


# -- validation and hashing ---------------------------------------------------


def _sha256(value: str, field: str = "document_sha256") -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not _SHA256.fullmatch(text):
        raise ValidationError(field, "must be a SHA-256 digest: 64 hexadecimal digits")
    return text


def _subject(value: str) -> str:
    if not isinstance(value, str) or not _SUBJECT.fullmatch(value):
        raise ValidationError(
            "subject", "must be 1-100 letters, digits or '.', ':', '/', '-', '_' (no spaces)"
        )
    return value


def _purpose(value: str) -> str:
    if not isinstance(value, str) or not _PURPOSE.fullmatch(value):
        raise ValidationError("purpose", "must be a short lower-case name like 'contract.sign'")
    return value


def _channel(value: str) -> ChannelKind:
    if value == "sms":
        return "sms"
    if value == "email":
        return "email"
    raise ValidationError("channel", "must be 'sms' or 'email'")


def _challenge_id(value: str) -> str:
    if not isinstance(value, str) or not _CHALLENGE_ID.fullmatch(value):
        raise ValidationError("challenge_id", "is not a challenge id")
    return value


def _code(value: str) -> str:
    """Six digits; or, for a ``totp`` challenge only, 6-8 digits or a recovery code."""
    text = "".join(value.split()) if isinstance(value, str) else ""
    if not (_APP_CODE.fullmatch(text) or is_recovery_form(text)):
        raise ValidationError("code", f"must be {CODE_DIGITS} digits")
    return text


def _sent_code(row: ChallengeRow, given: str) -> None:
    if row.channel != "totp" and not _CODE.fullmatch(given):
        raise ValidationError("code", f"must be {CODE_DIGITS} digits")


def _client(client_ip: str | None, user_agent: str | None) -> tuple[str | None, str | None]:
    ip = None
    if client_ip is not None:
        try:
            ip = str(ipaddress.ip_address(client_ip.strip()))
        except (ValueError, AttributeError) as exc:
            raise ValidationError("client_ip", "is not an IP address") from exc
    agent = None
    if user_agent is not None:
        agent = "".join(c for c in str(user_agent) if c.isprintable())[:400] or None
    return ip, agent


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _code_hash(key: bytes, challenge_id: str, document_sha256: str, code: str) -> str:
    data = b"\x00".join(
        (b"evservice-otp-code-v1", challenge_id.encode(), document_sha256.encode(), code.encode())
    )
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _destination_hash(key: bytes, channel: str, destination: str) -> str:
    data = b"\x00".join((b"evservice-otp-recipient-v1", channel.encode(), destination.encode()))
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _record_send(session: Session, row: ChallengeRow, now: datetime) -> None:
    session.add(
        SendRow(
            id=str(uuid.uuid4()),
            challenge_id=row.id,
            destination_hash=row.destination_hash,
            subject=row.subject,
            sent_at=now,
            status="issued",
        )
    )


# -- the operations -----------------------------------------------------------------


def _audit(session: Session, type_: str, row: ChallengeRow, at: datetime, **data: Any) -> None:
    """Append the challenge's event last in its transaction (after the caller's hooks,
    which may lock the caller's rows: the log's head is always the last lock taken).

    The event carries the masked destination and hashes, never the code or the
    raw destination.
    """
    audit.record(
        session,
        type=type_,
        subject=row.id,
        actor="system",
        at=at,
        data={
            "subject": row.subject,
            "purpose": row.purpose,
            "channel": row.channel,
            "destination": row.destination_masked,
            "document_sha256": row.document_sha256,
            **data,
        },
    )


def _client_data(ip: str | None, agent: str | None) -> dict[str, str]:
    return {k: v for k, v in (("client_ip", ip), ("user_agent", agent)) if v}


def create_challenge(
    ctx: Context | None = None,
    *,
    subject: str,
    document_sha256: str,
    channel: str,
    destination: str,
    purpose: str,
    session: Session | None = None,
    policy: OtpPolicy | None = None,
    on_created: ChallengeHook | None = None,
) -> tuple[Challenge, str]:
    """Open a challenge and return it with its code, for the sending step only.

    The code is never stored or logged; ``destination`` (phone number or
    e-mail address) is kept only masked and as a keyed hash. With ``session``
    the challenge joins the caller's transaction; ``on_created(session,
    challenge)`` runs inside it (to record an audit event, say), and if it
    raises, no challenge is made. Raises
    :class:`~evservice.errors.RateLimited` when too many codes went to this
    destination or for this subject within the window.
    """
    ctx = resolve(ctx)
    policy = policy or OtpPolicy.from_settings(ctx.settings)
    kind = _channel(channel)
    target = normalise_destination(kind, destination, "destination")
    subject = _subject(subject)
    purpose = _purpose(purpose)
    document = _sha256(document_sha256)
    key = server_key(ctx.settings)
    destination_hash = _destination_hash(key, kind, target.lower())
    challenge_id = str(uuid.uuid4())
    code = _new_code()

    def _create(s: Session) -> ChallengeRow:
        serialise_on(s, [f"recipient:{destination_hash}", f"subject:{subject}"])
        now = ctx.clock.now()
        check_rate(s, policy, destination_hash=destination_hash, subject=subject, now=now)
        row = ChallengeRow(
            id=challenge_id,
            subject=subject,
            purpose=purpose,
            document_sha256=document,
            channel=kind,
            destination_masked=mask_destination(kind, target),
            destination_hash=destination_hash,
            code_hash=_code_hash(key, challenge_id, document, code),
            status="pending",
            attempts=0,
            max_attempts=policy.max_attempts,
            send_count=1,
            max_sends=policy.max_sends,
            created_at=now,
            code_issued_at=now,
            expires_at=now + timedelta(seconds=policy.ttl_seconds),
            resend_after=now + timedelta(seconds=policy.resend_cooldown_seconds),
        )
        s.add(row)
        s.flush()
        _record_send(s, row, now)
        s.flush()
        if on_created is not None:
            on_created(s, Challenge._from_row(row))
        _audit(s, "otp.sent", row, now, expires_at=row.expires_at)
        return row

    if session is not None:
        row = _create(session)
    else:
        with transaction(ctx.engine) as own:
            row = _create(own)
    log.info(
        "challenge %s for %s (%s) created; code goes by %s to %s",
        row.id,
        row.subject,
        row.purpose,
        row.channel,
        row.destination_masked,
    )
    return Challenge._from_row(row), code


def _locked_row(session: Session, challenge_id: str) -> ChallengeRow:
    row = session.exec(
        select(ChallengeRow).where(col(ChallengeRow.id) == challenge_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no OTP challenge {challenge_id}")
    return row


def _state_error(row: ChallengeRow, now: datetime) -> ConsentError | None:
    if row.status in ("confirmed", "locked"):
        return _terminal_error(row.id, row.status, row.max_attempts)
    if row.attempts >= row.max_attempts:
        return _terminal_error(row.id, "locked", row.max_attempts)
    if now >= row.expires_at:
        return ChallengeExpired(f"the code of challenge {row.id} has expired")
    return None


def get_challenge(challenge_id: str, ctx: Context | None = None) -> Challenge:
    """The challenge ``challenge_id`` (raises :class:`NotFoundError`)."""
    ctx = resolve(ctx)
    challenge_id = _challenge_id(challenge_id)
    with transaction(ctx.engine) as session:
        row = session.get(ChallengeRow, challenge_id)
        if row is None:
            raise NotFoundError(f"no OTP challenge {challenge_id}")
        return Challenge._from_row(row)


def resend(
    challenge_id: str,
    ctx: Context | None = None,
    *,
    destination: str | None = None,
    policy: OtpPolicy | None = None,
    on_resent: ChallengeHook | None = None,
) -> tuple[Challenge, str]:
    """A fresh code for a pending challenge; the previous code stops working.

    Allowed after the cooldown and up to ``max_sends`` codes per challenge,
    within the per-recipient and per-subject limits (else
    :class:`RateLimited` with ``retry_after``). Wrong tries are not reset. When
    ``destination`` is given it must be the challenge's destination.
    ``on_resent(session, challenge)`` runs in the same transaction.
    """
    ctx = resolve(ctx)
    policy = policy or OtpPolicy.from_settings(ctx.settings)
    challenge_id = _challenge_id(challenge_id)
    key = server_key(ctx.settings)
    code = _new_code()
    with transaction(ctx.engine) as session:
        row = _locked_row(session, challenge_id)
        if destination is not None:
            target = normalise_destination(row.channel, destination, "destination")
            given = _destination_hash(key, row.channel, target.lower())
            if not hmac.compare_digest(given, row.destination_hash):
                raise ValidationError("destination", "is not the destination of this challenge")
        now = ctx.clock.now()
        error = _state_error(row, now)
        if error is not None and not isinstance(error, ChallengeExpired):
            raise error
        if row.send_count >= row.max_sends:
            raise RateLimited(
                f"challenge {row.id} already sent {row.max_sends} codes; start a new one",
                retry_after=None,
            )
        if now < row.resend_after:
            raise RateLimited(
                f"challenge {row.id}: wait before asking for another code",
                retry_after=(row.resend_after - now).total_seconds(),
            )
        serialise_on(session, [f"recipient:{row.destination_hash}", f"subject:{row.subject}"])
        check_rate(
            session, policy, destination_hash=row.destination_hash, subject=row.subject, now=now
        )
        row.code_hash = _code_hash(key, row.id, row.document_sha256, code)
        row.send_count += 1
        row.code_issued_at = now
        row.expires_at = now + timedelta(seconds=policy.ttl_seconds)
        row.resend_after = now + timedelta(seconds=policy.resend_cooldown_seconds)
        session.add(row)
        _record_send(session, row, now)
        session.flush()
        challenge = Challenge._from_row(row)
        if on_resent is not None:
            on_resent(session, challenge)
        _audit(session, "otp.resent", row, now, send=row.send_count, expires_at=row.expires_at)
    log.info(
        "challenge %s: code %d of %d goes by %s to %s",
        challenge.id,
        challenge.send_count,
        challenge.max_sends,
        challenge.channel,
        challenge.destination_masked,
    )
    return challenge, code


def mark_undelivered(challenge_id: str, ctx: Context | None = None) -> Challenge:
    """Record that the last code could not be delivered: a resend is allowed at once.

    The failed send still counts towards the caps (``max_sends`` and the rate
    limits), so a flaky gateway cannot be used to send codes without end.
    """
    ctx = resolve(ctx)
    challenge_id = _challenge_id(challenge_id)
    with transaction(ctx.engine) as session:
        row = _locked_row(session, challenge_id)
        now = ctx.clock.now()
        row.resend_after = min(row.resend_after, now)
        session.add(row)
        last = session.exec(
            select(SendRow)
            .where(col(SendRow.challenge_id) == row.id)
            .order_by(col(SendRow.sent_at).desc())
            .limit(1)
        ).first()
        if last is not None:
            last.status = "failed"
            session.add(last)
        session.flush()
        challenge = Challenge._from_row(row)
        _audit(session, "otp.undelivered", row, now, send=row.send_count)
    log.warning(
        "challenge %s: code not delivered to %s", challenge.id, challenge.destination_masked
    )
    return challenge


def _confirm(
    session: Session,
    row: ChallengeRow,
    now: datetime,
    client: tuple[str | None, str | None],
    method: str,
) -> VerifiedConsent:
    """Mark ``row`` confirmed (in the verifying transaction) and return the consent."""
    ip, agent = client
    row.status = "confirmed"
    row.confirmed_at = now
    row.client_ip = ip
    row.user_agent = agent
    session.add(row)
    session.flush()
    return VerifiedConsent(
        challenge_id=row.id,
        subject=row.subject,
        purpose=row.purpose,
        document_sha256=row.document_sha256,
        channel=_KINDS[row.channel],
        destination_masked=row.destination_masked,
        confirmed_at=now,
        client_ip=ip,
        user_agent=agent,
        method=None if method == "code" else method,
    )


def _count_wrong(
    session: Session,
    row: ChallengeRow,
    now: datetime,
    ctx: Context,
    on_refused: ChallengeHook | None,
) -> CodeMismatch:
    """Count a wrong code (locking after the last try) and audit it; the error to raise."""
    row.attempts += 1
    if row.attempts >= row.max_attempts:
        lock(row, OtpPolicy.from_settings(ctx.settings), now)
    session.add(row)
    session.flush()
    remaining = row.max_attempts - row.attempts
    if on_refused is not None:
        on_refused(session, Challenge._from_row(row))
    kind = "otp.locked" if row.status == "locked" else "otp.failed"
    _audit(session, kind, row, now, attempts_left=remaining)
    return CodeMismatch(
        f"wrong code for challenge {row.id}; {remaining} tries left", remaining=remaining
    )


def verify(
    challenge_id: str,
    code: str,
    *,
    document_sha256: str,
    ctx: Context | None = None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    on_confirmed: ConsentHook | None = None,
    on_refused: ChallengeHook | None = None,
) -> VerifiedConsent:
    """Check ``code`` for the document whose SHA-256 is ``document_sha256``.

    Returns the consent once; raises :class:`ChallengeUsed` on replay,
    :class:`ChallengeExpired`, :class:`ChallengeLocked` (after ``max_attempts``
    wrong codes), :class:`DocumentChanged` (the document is not the one the
    code was sent for; no try is used) or :class:`CodeMismatch` with the tries
    left. A malformed code (not six digits) is a :class:`ValidationError` and
    uses no try. A ``totp`` challenge takes the authenticator app's code (±1
    time step, each step once per enrolment: :class:`CodeReused`, no try used)
    or one of the enrolment's recovery codes.

    ``on_confirmed(session, consent)`` runs in the confirming transaction (the
    caller's state change and audit event commit with the consent; if the hook
    raises, the challenge stays pending and the error propagates).
    ``on_refused(session, challenge)`` runs in the transaction that counts a
    wrong code (``challenge.status`` is ``locked`` after the last try); it
    must not fail, because a failing hook rolls the count back.
    """
    ctx = resolve(ctx)
    challenge_id = _challenge_id(challenge_id)
    document = _sha256(document_sha256)
    given = _code(code)
    ip, agent = _client(client_ip, user_agent)
    store = str(ctx.engine.url)
    known = _known_dead(store, challenge_id)
    if known is not None:
        log.warning("challenge %s refused: %s", challenge_id, known)
        raise known
    expected = _code_hash(server_key(ctx.settings), challenge_id, document, given)
    outcome: VerifiedConsent | ConsentError
    with transaction(ctx.engine) as session:
        row = _locked_row(session, challenge_id)
        _sent_code(row, given)
        now = ctx.clock.now()
        error = _state_error(row, now)
        method: str | None = None
        if error is None and not hmac.compare_digest(row.document_sha256, document):
            error = DocumentChanged(
                f"challenge {row.id} was sent for another document; this code confirms nothing"
            )
        if error is None and row.channel == "totp":
            try:
                method = check_totp(session, ctx.settings, row, given, now)
            except CodeReused as exc:
                error = exc
        elif error is None and hmac.compare_digest(expected, row.code_hash):
            method = "code"
        if error is not None:
            outcome = error
        elif method is not None:
            outcome = _confirm(session, row, now, (ip, agent), method)
            if on_confirmed is not None:
                on_confirmed(session, outcome)
            extra = _client_data(ip, agent) | ({"method": method} if method != "code" else {})
            _audit(session, "otp.confirmed", row, now, **extra)
        else:
            outcome = _count_wrong(session, row, now, ctx, on_refused)
    if row.status in ("confirmed", "locked"):
        _remember_dead(store, row)
    if isinstance(outcome, VerifiedConsent):
        log.info(
            "challenge %s confirmed for %s by %s",
            outcome.challenge_id,
            outcome.subject,
            outcome.destination_masked,
        )
        return outcome
    log.warning("challenge %s refused: %s", challenge_id, outcome)
    raise outcome
