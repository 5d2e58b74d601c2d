"""OTP consent: one-time codes bound to the exact document the customer saw.

:func:`create_challenge` draws a six-digit code (returned once, to the sending
step) and stores only its keyed hash; :func:`verify` accepts it once, within
five minutes, for the same document hash, with at most five wrong tries;
:func:`resend` gives a fresh code after a cooldown, within caps and per
recipient / per document rate limits. :func:`send_challenge` and
:func:`resend_challenge` do the same and deliver the code through a
:class:`~evservice.delivery.Channel`; :func:`link_token` signs the expiring
link to the challenge's page on the customer portal that the message carries.
A successful :func:`verify` returns a
:class:`VerifiedConsent` whose :meth:`~VerifiedConsent.evidence` is what the
evidence page and the audit log carry.

Hooks (``on_created``, ``on_resent``, ``on_confirmed``, ``on_refused``) run
inside the transaction of each state change with its session, so a caller's
rows and audit events commit together with the challenge's.
"""

from evservice.otp._challenge import (
    CODE_DIGITS,
    Challenge,
    ChallengeHook,
    ConsentHook,
    VerifiedConsent,
    create_challenge,
    get_challenge,
    mark_undelivered,
    resend,
    verify,
)
from evservice.otp._key import server_key
from evservice.otp._link import derive_key, link_token, open_link_token
from evservice.otp._policy import OtpPolicy
from evservice.otp._send import OTP_RETRY, resend_challenge, send_challenge

__all__ = [
    "CODE_DIGITS",
    "OTP_RETRY",
    "Challenge",
    "ChallengeHook",
    "ConsentHook",
    "OtpPolicy",
    "VerifiedConsent",
    "create_challenge",
    "derive_key",
    "get_challenge",
    "link_token",
    "mark_undelivered",
    "open_link_token",
    "resend",
    "resend_challenge",
    "send_challenge",
    "server_key",
    "verify",
]
