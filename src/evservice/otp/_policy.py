"""The rules a challenge follows, read from the settings once."""

from __future__ import annotations

from dataclasses import dataclass

from evservice.config import Settings
from evservice.errors import ValidationError

__all__ = ["OtpPolicy"]


@dataclass(frozen=True)
class OtpPolicy:
    """Validity, tries, resends and rate limits (NIST SP 800-63B, PSD2 RTS art. 4).

    * ``ttl_seconds``: how long a code is valid (5 minutes);
    * ``max_attempts``: wrong codes per challenge before it is dead (5); a
      resend does not give new tries;
    * ``resend_cooldown_seconds`` and ``max_sends``: spacing and cap of codes
      per challenge (the first send counts);
    * ``max_sends_per_recipient`` and ``max_sends_per_subject`` within
      ``rate_window_seconds``: codes sent to one destination, or for one
      document, across all challenges (5 each per hour, as Twilio Verify caps
      sends per verification);
    * ``lock_cooldown_seconds``: after a challenge locks (``max_attempts``
      wrong codes), no new code goes to that destination or for that document
      for this long (15 minutes), so that a guesser cannot simply open a fresh
      challenge and get five more tries at once (PSD2 RTS art. 4(3)(b): the
      lock lasts a set time). The locked challenge's ``resend_after`` records
      the end of the cool-down.
    """

    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_cooldown_seconds: int = 60
    max_sends: int = 5
    rate_window_seconds: int = 3600
    max_sends_per_recipient: int = 5
    max_sends_per_subject: int = 5
    lock_cooldown_seconds: int = 900

    def __post_init__(self) -> None:
        for name in (
            "ttl_seconds",
            "max_attempts",
            "max_sends",
            "rate_window_seconds",
            "max_sends_per_recipient",
            "max_sends_per_subject",
        ):
            if getattr(self, name) < 1:
                raise ValidationError(f"otp_{name}", "must be at least 1")
        for name in ("resend_cooldown_seconds", "lock_cooldown_seconds"):
            if getattr(self, name) < 0:
                raise ValidationError(f"otp_{name}", "must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> OtpPolicy:
        return cls(
            ttl_seconds=settings.otp_ttl_seconds,
            max_attempts=settings.otp_max_attempts,
            resend_cooldown_seconds=settings.otp_resend_cooldown_seconds,
            max_sends=settings.otp_max_sends,
            rate_window_seconds=settings.otp_rate_window_seconds,
            max_sends_per_recipient=settings.otp_max_sends_per_recipient,
            max_sends_per_subject=settings.otp_max_sends_per_subject,
            lock_cooldown_seconds=settings.otp_lock_cooldown_seconds,
        )
