"""The portal's own knobs: upload size, rate limits, proxies. Frozen; defaults fit one server."""

from __future__ import annotations

from dataclasses import dataclass

from evservice.errors import ValidationError

__all__ = ["PortalSettings"]


@dataclass(frozen=True)
class PortalSettings:
    """How the customer portal behaves (the deployment's ``Settings`` stay in the ``Context``).

    * ``max_upload_bytes``: largest file the verify page accepts (larger: 413);
    * ``requests_per_minute``: every request of one client IP (pages, API, downloads);
    * ``lookups_per_minute``: invoice look-ups of one IP (guessing codes costs time);
    * ``confirms_per_window`` / ``confirm_window_seconds``: code submissions of one IP,
      and separately of one challenge (the OTP policy still locks it after 5 wrong codes);
    * ``uploads_per_minute``: verify uploads of one IP (each costs a verification);
    * ``verification_cache_seconds``: how long the verification of a stored invoice
      (immutable bytes) is reused by its page;
    * ``trust_forwarded_for``: take the client IP from ``X-Forwarded-For`` (only behind
      a proxy you run; otherwise anyone picks their own IP).
    """

    max_upload_bytes: int = 5 * 1024 * 1024
    requests_per_minute: int = 600
    lookups_per_minute: int = 30
    confirms_per_window: int = 10
    confirm_window_seconds: int = 900
    uploads_per_minute: int = 10
    verification_cache_seconds: int = 300
    trust_forwarded_for: bool = False

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "requests_per_minute",
            "lookups_per_minute",
            "confirms_per_window",
            "confirm_window_seconds",
            "uploads_per_minute",
        ):
            if getattr(self, name) < 1:
                raise ValidationError(f"portal.{name}", "must be at least 1")
        if self.verification_cache_seconds < 0:
            raise ValidationError("portal.verification_cache_seconds", "must not be negative")
