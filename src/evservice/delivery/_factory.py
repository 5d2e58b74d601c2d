"""Build the configured channel from :class:`~evservice.config.Settings`."""

from __future__ import annotations

from evservice.clock import Clock
from evservice.config import Settings
from evservice.delivery._channel import Channel, RoutingChannel
from evservice.delivery._file import FileOutboxChannel
from evservice.delivery._sms import TwilioSmsChannel, WebhookSmsChannel
from evservice.delivery._smtp import SmtpChannel
from evservice.errors import ConfigurationError, ValidationError

__all__ = ["channel_from_settings"]


def channel_from_settings(settings: Settings, *, clock: Clock | None = None) -> Channel:
    """A channel for e-mail and SMS as the settings say.

    * e-mail goes through SMTP when ``delivery_channel`` is ``smtp``, else to
      the file outbox (``data_dir/outbox``);
    * SMS goes through the webhook or Twilio when ``delivery_channel`` names
      one; otherwise, when ``sms_url`` is set, through Twilio if
      ``sms_account_sid`` is set and the webhook if not; else to the file outbox.

    So ``delivery_channel=smtp`` with ``sms_url`` set sends both for real, and
    the zero-configuration default writes files only.
    """
    try:
        return _build(settings, clock)
    except ValidationError as exc:
        raise ConfigurationError(f"delivery settings: {exc}") from exc


def _build(settings: Settings, clock: Clock | None) -> Channel:
    outbox = FileOutboxChannel(
        settings.data_dir / "outbox", mail_from=settings.mail_from, clock=clock
    )
    email: Channel = outbox
    if settings.delivery_channel == "smtp":
        email = SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            clock=clock,
        )
    gateway = settings.delivery_channel
    if gateway not in ("sms-webhook", "sms-twilio") and settings.sms_url:
        gateway = "sms-twilio" if settings.sms_account_sid else "sms-webhook"
    sms: Channel = outbox
    if gateway == "sms-webhook":
        if not settings.sms_url or settings.sms_auth_token is None:
            raise ConfigurationError("the SMS webhook needs sms_url and sms_auth_token")
        sms = WebhookSmsChannel(
            settings.sms_url, secret=settings.sms_auth_token, sender=settings.sms_from
        )
    elif gateway == "sms-twilio":
        if not settings.sms_account_sid or settings.sms_auth_token is None:
            raise ConfigurationError("Twilio needs sms_account_sid and sms_auth_token")
        if not settings.sms_from:
            raise ConfigurationError("Twilio needs sms_from (the sending number or name)")
        sms = TwilioSmsChannel(
            settings.sms_account_sid,
            settings.sms_auth_token,
            settings.sms_from,
            base_url=settings.sms_url or "https://api.twilio.com",
        )
    if email is sms:
        return outbox
    return RoutingChannel(email=email, sms=sms)
