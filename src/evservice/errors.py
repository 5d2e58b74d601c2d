"""The one error tree of evservice.

Every error the library raises on purpose is an :class:`EvServiceError`.
Errors from the libraries we call (lxml, pyHanko, SQLAlchemy, smtplib, an SMS
gateway, ...) are caught where we call them and re-raised as one of ours, with
the original chained as ``__cause__``.

::

    EvServiceError
    ├── ConfigurationError          settings or key material missing / unusable
    ├── ValidationError             bad input; names the field and the reason
    │   └── PaymentCodeError        a QR payload or its parts are invalid
    ├── StoreError                  the database failed or disagrees with us
    │   ├── NotFoundError           no such invoice / contract / challenge / event
    │   │   └── DataErased          its personal data was erased on request (crypto-shredded)
    │   └── AuditPendingError       an audit event is still queued after the bounded wait
    ├── NumberingError              a series is exhausted or used out of order
    │   └── SeriesOrderError        an issue date earlier than the series' last one
    │                               (also a ValidationError naming ``issue_date``)
    ├── DocumentError               an XML or PDF cannot be built or parsed
    ├── SigningError                a signature cannot be made
    │   └── TimestampError          the time-stamp authority failed
    ├── ConsentError                an OTP challenge refuses the attempt
    │   ├── ChallengeExpired
    │   ├── ChallengeLocked         too many wrong codes; the challenge is dead
    │   ├── ChallengeUsed           the code was already accepted once
    │   ├── CodeMismatch            wrong code (attempts left in ``.remaining``)
    │   ├── CodeReused              an authenticator code already accepted once (no try used)
    │   ├── DocumentChanged         the document is not the one the code was sent for
    │   └── RateLimited             too many sends for a recipient or document
    ├── LifecycleError              an illegal state transition
    ├── DeliveryError               a channel (SMTP, SMS gateway, outbox) failed
    │   └── CodeNotDelivered        an OTP code did not go out; ``.challenge_id`` may resend
    ├── AuditIntegrityError         the audit log disagrees with itself
    └── BatchError                  a batch cannot start or continue

Messages never contain secrets: no private keys, OTP codes, raw phone numbers
or e-mail addresses. Pass masked values only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pydantic

__all__ = [
    "AuditIntegrityError",
    "AuditPendingError",
    "BatchError",
    "ChallengeExpired",
    "ChallengeLocked",
    "ChallengeUsed",
    "CodeMismatch",
    "CodeNotDelivered",
    "CodeReused",
    "ConfigurationError",
    "ConsentError",
    "DataErased",
    "DeliveryError",
    "DocumentChanged",
    "DocumentError",
    "EvServiceError",
    "LifecycleError",
    "NotFoundError",
    "NumberingError",
    "PaymentCodeError",
    "RateLimited",
    "SeriesOrderError",
    "SigningError",
    "StoreError",
    "TimestampError",
    "ValidationError",
]


class EvServiceError(Exception):
    """Root of every error evservice raises on purpose."""


class ConfigurationError(EvServiceError):
    """Settings or key material are missing or unusable."""


class ValidationError(EvServiceError, ValueError):
    """Bad input. ``field`` is a dotted path (``lines.2.vat_rate``), ``reason`` a sentence.

    ``problems`` holds every (field, reason) pair found; the message names the
    first one and counts the rest. Never put a secret or a raw personal value in
    ``reason``.
    """

    def __init__(
        self, field: str, reason: str, *, problems: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.field = field
        self.reason = reason
        self.problems: list[tuple[str, str]] = list(problems) or [(field, reason)]
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(f"{field}: {reason}{suffix}")

    @classmethod
    def from_pydantic(cls, exc: pydantic.ValidationError, *, prefix: str = "") -> ValidationError:
        """Turn pydantic's error into ours, keeping every problem, without input values."""
        problems: list[tuple[str, str]] = []
        for err in exc.errors(include_input=False, include_url=False):
            original = (err.get("ctx") or {}).get("error")
            loc = ".".join(str(p) for p in err["loc"])
            if isinstance(original, ValidationError):
                loc = _join_field(loc, original.field)
            loc = loc or "(root)"
            field = f"{prefix}.{loc}" if prefix and loc != "(root)" else (prefix or loc)
            if isinstance(original, ValidationError):
                msg = original.reason  # our own validator already said it well
            elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                field, msg = _tag_problem(field, err.get("ctx") or {})
            else:
                # pydantic prefixes messages of plain ValueErrors with "Value error, ".
                msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append((field, msg))
        first = problems[0] if problems else (prefix or "(root)", "invalid")
        new = cls(first[0], first[1], problems=problems)
        new.__cause__ = exc
        return new


def _tag_problem(field: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """Our wording for a tagged union's tag (a draft's ``terms.kind``) that is wrong or missing.

    pydantic names the union and quotes enum reprs ("Input tag 'water' found using
    'kind' does not match any of the expected tags: <ContractKind...>"); we name
    the tag's own field and the kinds allowed, and never repeat the input.
    """
    tag = str(ctx.get("discriminator", "kind")).strip("'")
    allowed = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
    where = f"{field}.{tag}" if field != "(root)" else tag
    if not allowed:
        return where, "is missing: say which kind this is"
    return where, "must be one of: " + ", ".join(allowed)


def _join_field(loc: str, field: str) -> str:
    """Where pydantic says the error is (``loc``) joined with the field our check named.

    A field validator names the field itself (``seller.tax_code`` + ``tax_code``); a
    model validator names a field inside its model (``customer`` + ``phone``) or an
    absolute path (``customer`` + ``customer.phone``).
    """
    if not loc or field.startswith(loc + ".") or field == loc:
        return field or loc
    if loc.rsplit(".", 1)[-1] == field.rsplit(".", 1)[-1]:
        return loc
    return f"{loc}.{field}"


class PaymentCodeError(ValidationError):
    """A payment QR payload, or one of its fields, is invalid."""


class StoreError(EvServiceError):
    """The database failed, or its content disagrees with what we expect."""


class NotFoundError(StoreError, LookupError):
    """No such record."""


class DataErased(NotFoundError):
    """The record's personal data was erased on request: its data key is destroyed."""


class AuditPendingError(StoreError):
    """An audit event is still in the unsequenced queue when a bounded wait ran out.

    Nothing is lost: the event committed with its change and a sequencer will
    integrate it; the caller may wait again.
    """


class NumberingError(EvServiceError):
    """A series cannot give the next number (exhausted, wrong year, ...)."""


class SeriesOrderError(NumberingError, ValidationError):
    """The issue date is earlier than the last one in the series: numbers must follow dates.

    Both a numbering problem and bad input, so it names its field like every
    :class:`ValidationError`.
    """


class DocumentError(EvServiceError):
    """An XML or PDF document cannot be built or parsed."""


class SigningError(EvServiceError):
    """A signature cannot be made."""


class TimestampError(SigningError):
    """The RFC 3161 time-stamp authority failed or answered nonsense."""


class ConsentError(EvServiceError):
    """An OTP challenge refuses the attempt."""


class ChallengeExpired(ConsentError):
    """The challenge's validity window has passed."""


class ChallengeLocked(ConsentError):
    """Too many wrong codes: the challenge is dead for good."""


class ChallengeUsed(ConsentError):
    """The challenge was already confirmed; a code is accepted once."""


class CodeMismatch(ConsentError):
    """The code is wrong. ``remaining`` tells how many tries are left."""

    def __init__(self, message: str, *, remaining: int) -> None:
        self.remaining = remaining
        super().__init__(message)


class CodeReused(ConsentError):
    """An authenticator-app (TOTP) code that was already accepted once; the next one will do.

    No try is used: whoever replays a code learns nothing they did not know.
    """


class DocumentChanged(ConsentError):
    """The document differs from the one the code was sent for."""


class RateLimited(ConsentError):
    """Too many sends for this recipient or document; ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class LifecycleError(EvServiceError):
    """A state transition that the lifecycle does not allow."""

    def __init__(self, kind: str, current: str, wanted: str, *args: Any) -> None:
        self.kind = kind
        self.current = current
        self.wanted = wanted
        super().__init__(f"{kind} cannot go from {current!r} to {wanted!r}", *args)


class DeliveryError(EvServiceError):
    """A delivery channel failed. ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class CodeNotDelivered(DeliveryError):
    """An OTP code could not be delivered; the challenge stays pending.

    ``challenge_id`` names it: it may be resent at once (its cooldown is lifted).
    """

    def __init__(self, message: str, *, challenge_id: str, retryable: bool = True) -> None:
        self.challenge_id = challenge_id
        super().__init__(message, retryable=retryable)


class AuditIntegrityError(EvServiceError):
    """The audit log disagrees with itself (edited, deleted or inserted events)."""


class BatchError(EvServiceError):
    """A batch cannot start or continue."""
