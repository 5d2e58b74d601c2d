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
      document, across all challenges.
    """

    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_cooldown_seconds: int = 60
    max_sends: int = 5
    rate_window_seconds: int = 3600
    max_sends_per_recipient: int = 10
    max_sends_per_subject: int = 10

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
        if self.resend_cooldown_seconds < 0:
            raise ValidationError("otp_resend_cooldown_seconds", "must not be negative")

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
        )
