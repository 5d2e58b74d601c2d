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

Authenticator apps (TOTP, RFC 6238, pyotp): :func:`enrol_totp` gives a
customer or the provider's representative a secret, its ``otpauth://`` URI
and QR code; :func:`confirm_enrolment` activates it with the first code and
returns the recovery codes; :func:`open_totp_challenge` opens a ``totp``
challenge (nothing is sent) that :func:`verify` checks with ±1 time step,
each code once per enrolment, five tries, a recovery code in place of a code.
The secret is stored with AES-256-GCM (:func:`seal_field`).

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
from evservice.otp._fieldcipher import field_key, open_field, seal_field
from evservice.otp._key import server_key
from evservice.otp._link import derive_key, link_token, open_link_token
from evservice.otp._policy import OtpPolicy
from evservice.otp._qrimage import qr_png, qr_svg, qr_text
from evservice.otp._send import OTP_RETRY, resend_challenge, send_challenge
from evservice.otp._totp import (
    ENROLMENT_LINK,
    HolderKind,
    NewEnrolment,
    TotpEnrolment,
    confirm_enrolment,
    enrol_totp,
    enrolment_link,
    get_enrolment,
    open_totp_challenge,
    pending_enrolment,
    regenerate_recovery_codes,
    revoke_totp,
)
from evservice.otp._totpcore import TOTP_WINDOW, matching_step, totp_code

__all__ = [
    "CODE_DIGITS",
    "ENROLMENT_LINK",
    "OTP_RETRY",
    "TOTP_WINDOW",
    "Challenge",
    "ChallengeHook",
    "ConsentHook",
    "HolderKind",
    "NewEnrolment",
    "OtpPolicy",
    "TotpEnrolment",
    "VerifiedConsent",
    "confirm_enrolment",
    "create_challenge",
    "derive_key",
    "enrol_totp",
    "enrolment_link",
    "field_key",
    "get_challenge",
    "get_enrolment",
    "link_token",
    "mark_undelivered",
    "matching_step",
    "open_field",
    "open_link_token",
    "open_totp_challenge",
    "pending_enrolment",
    "qr_png",
    "qr_svg",
    "qr_text",
    "regenerate_recovery_codes",
    "resend",
    "resend_challenge",
    "revoke_totp",
    "seal_field",
    "send_challenge",
    "server_key",
    "totp_code",
    "verify",
]
