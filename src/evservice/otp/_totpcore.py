"""The authenticator-app (TOTP, RFC 6238) check itself: codes, steps, replay, recovery codes.

What :func:`~evservice.otp.verify` calls for a ``totp`` challenge, inside the
transaction that holds the challenge's row lock:

* the code is compared with pyotp's RFC 6238 codes of the enrolment's secret
  for the current time step and one step either side (``valid_window=1``: a
  phone clock 30 s off still works, 60 s off does not);
* the matching step must be later than the enrolment's ``last_step``, which is
  then raised by a conditional ``UPDATE ... WHERE last_step < :step``: of two
  processes (or two challenges) given the same code, exactly one UPDATE changes
  the row, on PostgreSQL (row lock, re-checked after the other commits) as on
  SQLite (one writer at a time). The loser gets :class:`CodeReused`;
* a recovery code is accepted in place of a code, once: its keyed hash is
  marked used by a conditional UPDATE too.

The secret is opened from its AES-GCM column only here and at enrolment; it is
never logged, returned in an error or put in an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Literal

import pyotp
import sqlalchemy as sa
from pyotp.utils import strings_equal
from sqlmodel import Session

from evservice import audit
from evservice.config import Settings
from evservice.errors import CodeReused, ValidationError
from evservice.otp._fieldcipher import field_key, open_field
from evservice.otp._link import derive_key
from evservice.otp._tables import ChallengeRow, TotpEnrolmentRow, TotpRecoveryRow

__all__ = [
    "ALGORITHMS",
    "RECOVERY_ALPHABET",
    "TOTP_WINDOW",
    "check_totp",
    "format_recovery_code",
    "is_recovery_form",
    "matching_step",
    "new_recovery_code",
    "normalise_recovery_code",
    "open_secret",
    "recovery_hash",
    "totp_code",
]

#: HMAC digests RFC 6238 names (SHA1 is what every authenticator app supports).
ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
#: Steps accepted either side of the current one.
TOTP_WINDOW = 1
#: 31 symbols without 0/o, 1/l/i: 10 of them are 49.5 bits, shown ``abcde-fghjk``.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
_RECOVERY_RE = re.compile(rf"^[{RECOVERY_ALPHABET}]{{{_RECOVERY_LENGTH}}}$")
SECRET_COLUMN = ("otp_totp_enrolment", "secret_sealed")

Method = Literal["totp", "recovery"]


def _totp(secret: str, digits: int, period: int, algorithm: str) -> pyotp.TOTP:
    try:
        digest = ALGORITHMS[algorithm.upper()]
    except KeyError as exc:
        raise ValidationError("algorithm", f"must be one of {', '.join(ALGORITHMS)}") from exc
    try:
        return pyotp.TOTP(secret, digits=digits, digest=digest, interval=period)
    except ValueError as exc:  # the secret is not base32 or is under 112 bits, or bad digits
        raise ValidationError(
            "secret", f"is not a usable TOTP secret: {type(exc).__name__}"
        ) from exc


def totp_code(
    secret: str,
    for_time: datetime | int,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
) -> str:
    """The RFC 6238 code of base32 ``secret`` at ``for_time`` (aware datetime or Unix seconds)."""
    return _totp(secret, digits, period, algorithm).at(for_time)


def matching_step(
    secret: str,
    code: str,
    for_time: datetime | int,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
    window: int = TOTP_WINDOW,
) -> int | None:
    """The time step within ``window`` steps of ``for_time`` whose code is ``code``, or None.

    Every step of the window is computed and compared in constant time, so the
    answer's timing does not tell which step matched.
    """
    totp = _totp(secret, digits, period, algorithm)
    now = totp.timecode(for_time)
    found = None
    for step in range(max(0, now - window), now + window + 1):
        if strings_equal(code, totp.generate_otp(step)) and found is None:
            found = step
    return found


def open_secret(settings: Settings, row: TotpEnrolmentRow) -> str:
    """The base32 secret of an enrolment (decrypted; keep it in memory only)."""
    table, column = SECRET_COLUMN
    return open_field(
        field_key(settings), row.secret_sealed, table=table, column=column, primary_key=row.id
    ).decode("ascii")


# -- recovery codes -------------------------------------------------------------------


def new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))


def format_recovery_code(code: str) -> str:
    """``abcdefghjk`` -> ``abcde-fghjk`` (how it is shown; either form is accepted)."""
    return f"{code[:5]}-{code[5:]}"


def normalise_recovery_code(text: str) -> str:
    return "".join(c for c in text.lower() if c not in " -")


def is_recovery_form(text: str) -> bool:
    return bool(_RECOVERY_RE.fullmatch(normalise_recovery_code(text)))


def recovery_hash(settings: Settings, enrolment_id: str, code: str) -> str:
    """HMAC-SHA256 of a recovery code (key derived from the OTP key), bound to its enrolment."""
    data = b"\x00".join(
        (
            b"evservice-totp-recovery-v1",
            enrolment_id.encode(),
            normalise_recovery_code(code).encode(),
        )
    )
    return hmac.new(derive_key(settings, "totp-recovery"), data, hashlib.sha256).hexdigest()


# -- the check ------------------------------------------------------------------------


def _use_recovery(
    session: Session, settings: Settings, enrolment: TotpEnrolmentRow, code: str, now: datetime
) -> bool:
    table = TotpRecoveryRow.__table__  # type: ignore[attr-defined]
    done = session.execute(
        sa.update(table)
        .where(
            table.c.enrolment_id == enrolment.id,
            table.c.code_hash == recovery_hash(settings, enrolment.id, code),
            table.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def _advance_step(session: Session, enrolment_id: str, step: int) -> bool:
    table = TotpEnrolmentRow.__table__  # type: ignore[attr-defined]
    done = session.execute(
        sa.update(table)
        .where(
            table.c.id == enrolment_id,
            table.c.status == "active",
            sa.or_(table.c.last_step.is_(None), table.c.last_step < step),
        )
        .values(last_step=step)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def check_totp(
    session: Session, settings: Settings, row: ChallengeRow, given: str, now: datetime
) -> Method | None:
    """``"totp"`` or ``"recovery"`` when ``given`` confirms the ``totp`` challenge ``row``.

    None for a wrong code (the caller counts the try); raises
    :class:`CodeReused` for a right code of a step already used (no try used).
    An enrolment revoked since the challenge opened confirms nothing.
    """
    enrolment = session.get(TotpEnrolmentRow, row.enrolment_id or "")
    if enrolment is None or enrolment.status != "active":
        return None
    if is_recovery_form(given):
        if not _use_recovery(session, settings, enrolment, given, now):
            return None
        audit.record(
            session,
            type="otp.totp_recovery_used",
            subject=enrolment.id,
            actor=enrolment.holder_kind,
            at=now,
            data={"challenge": row.id, "holder": enrolment.holder},
        )
        return "recovery"
    if not given.isdigit() or len(given) != enrolment.digits:
        return None
    secret = open_secret(settings, enrolment)
    step = matching_step(
        secret,
        given,
        now,
        digits=enrolment.digits,
        period=enrolment.period,
        algorithm=enrolment.algorithm,
    )
    if step is None:
        return None
    if not _advance_step(session, enrolment.id, step):
        raise CodeReused(
            f"challenge {row.id}: this authenticator code was already used; "
            "wait for the next one (no try was counted)"
        )
    return "totp"
