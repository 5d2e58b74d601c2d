"""Create or renew a challenge and deliver its code in one call.

The code goes straight to the channel (with a short in-process retry and
backoff), never through the durable outbox, because the outbox stores
message bodies and a code must not be stored in clear. If delivery still
fails, :class:`~evservice.errors.CodeNotDelivered` (a ``DeliveryError``)
names the challenge, which stays pending with its cooldown lifted
(:func:`mark_undelivered`), so the caller can offer "send again" at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evservice._context import Context, resolve
from evservice.delivery import (
    Attachment,
    Channel,
    Message,
    RetryPolicy,
    otp_email,
    otp_sms,
    send_with_retry,
)
from evservice.errors import CodeNotDelivered, DeliveryError
from evservice.otp._challenge import (
    CODE_DIGITS,
    Challenge,
    ChallengeHook,
    create_challenge,
    get_challenge,
    mark_undelivered,
    resend,
)
from evservice.otp._policy import OtpPolicy

__all__ = ["OTP_RETRY", "resend_challenge", "send_challenge"]

#: A person is waiting: three tries, 0.5 s then 1 s apart.
OTP_RETRY = RetryPolicy(attempts=3, base_delay=0.5, factor=2.0, max_delay=2.0)

AttachmentLike = Attachment | tuple[str, str, bytes]
#: Builds the link the message carries to the challenge's page (or None for no link).
LinkBuilder = Callable[[Challenge], str | None]


def _label_of(subject: str) -> str:
    """What the customer reads by default: the subject after its ``kind:`` prefix.

    ``contract:HD2026-000123`` -> ``HD2026-000123``.
    """
    return subject.rpartition(":")[2]


@dataclass(frozen=True)
class _OtpMessage:
    """Everything of the OTP message but the code, checked before a code is drawn."""

    kind: str
    destination: str = field(repr=False)
    label: str
    purpose: str
    document_sha256: str
    ttl_seconds: int
    locale: str
    attachments: Sequence[AttachmentLike] = ()

    def render(self, code: str, link: str | None = None) -> Message:
        if self.kind == "sms":
            return otp_sms(
                to=self.destination,
                code=code,
                document_label=self.label,
                purpose=self.purpose,
                ttl_seconds=self.ttl_seconds,
                locale=self.locale,
                link=link,
            )
        return otp_email(
            to=self.destination,
            code=code,
            document_label=self.label,
            document_sha256=self.document_sha256,
            purpose=self.purpose,
            ttl_seconds=self.ttl_seconds,
            locale=self.locale,
            attachments=self.attachments,
            link=link,
        )

    def check(self) -> None:
        """Render once with a dummy code: bad labels, locales or purposes fail here."""
        self.render("0" * CODE_DIGITS)


def _deliver(
    ctx: Context,
    challenge: Challenge,
    message: Message,
    channel: Channel,
    retry: RetryPolicy | None,
    sleep: Callable[[float], None],
) -> None:
    try:
        send_with_retry(channel, message, policy=retry or OTP_RETRY, sleep=sleep)
    except DeliveryError as exc:
        mark_undelivered(challenge.id, ctx)
        raise CodeNotDelivered(
            f"the code of challenge {challenge.id} was not delivered: {exc}",
            challenge_id=challenge.id,
            retryable=exc.retryable,
        ) from exc


def send_challenge(
    channel: Channel,
    *,
    subject: str,
    document_sha256: str,
    kind: str,
    destination: str,
    purpose: str = "contract.sign",
    document_label: str | None = None,
    locale: str = "vi",
    attachments: Sequence[AttachmentLike] = (),
    ctx: Context | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_created: ChallengeHook | None = None,
    link: LinkBuilder | None = None,
) -> Challenge:
    """Open a challenge for ``subject`` and send its code by ``kind`` (``sms``/``email``).

    ``document_label`` is what the customer reads (default: ``subject``
    without a ``kind:`` prefix, so ``contract:HD2026-000123`` reads
    ``HD2026-000123``);
    ``attachments`` (e-mail only) typically hold the contract PDF whose hash
    is ``document_sha256``. The message is checked before the challenge is
    created, so a label too long for one SMS costs no send. ``on_created``
    runs in the transaction that creates the challenge, before the send (see
    :func:`create_challenge`). ``link(challenge)`` gives the address of the
    challenge's page that the message carries (see :func:`link_token`).
    """
    ctx = resolve(ctx)
    policy = OtpPolicy.from_settings(ctx.settings)
    text = _OtpMessage(
        kind=kind,
        destination=destination,
        label=document_label or _label_of(subject),
        purpose=purpose,
        document_sha256=document_sha256,
        ttl_seconds=policy.ttl_seconds,
        locale=locale,
        attachments=attachments,
    )
    text.check()
    challenge, code = create_challenge(
        ctx,
        subject=subject,
        document_sha256=document_sha256,
        channel=kind,
        destination=destination,
        purpose=purpose,
        policy=policy,
        on_created=on_created,
    )
    _deliver(
        ctx, challenge, text.render(code, link(challenge) if link else None), channel, retry, sleep
    )
    return challenge


def resend_challenge(
    challenge_id: str,
    channel: Channel,
    *,
    destination: str,
    document_label: str | None = None,
    locale: str = "vi",
    attachments: Sequence[AttachmentLike] = (),
    ctx: Context | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_resent: ChallengeHook | None = None,
    link: LinkBuilder | None = None,
) -> Challenge:
    """Send a fresh code for ``challenge_id`` to ``destination`` (which must be its own)."""
    ctx = resolve(ctx)
    policy = OtpPolicy.from_settings(ctx.settings)
    current = get_challenge(challenge_id, ctx)
    text = _OtpMessage(
        kind=current.channel,
        destination=destination,
        label=document_label or _label_of(current.subject),
        purpose=current.purpose,
        document_sha256=current.document_sha256,
        ttl_seconds=policy.ttl_seconds,
        locale=locale,
        attachments=attachments,
    )
    text.check()
    challenge, code = resend(
        challenge_id, ctx, destination=destination, policy=policy, on_resent=on_resent
    )
    _deliver(
        ctx, challenge, text.render(code, link(challenge) if link else None), channel, retry, sleep
    )
    return challenge
