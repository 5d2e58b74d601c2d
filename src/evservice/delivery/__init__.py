"""Delivery of e-mail and SMS: channels, a durable outbox and message templates.

A :class:`Channel` sends one :class:`Message` and returns a
:class:`DeliveryReceipt` or raises :class:`~evservice.errors.DeliveryError`
(``retryable`` tells whether to try again). Channels:

* :class:`FileOutboxChannel`, the embedded default: one ``.eml``/``.json``
  file per message under ``data_dir/outbox``;
* :class:`SmtpChannel`: e-mail with STARTTLS, login and attachments;
* :class:`WebhookSmsChannel` and :class:`TwilioSmsChannel`: SMS over HTTP;
* :class:`MemoryChannel` for tests, :class:`RoutingChannel` to combine an
  e-mail channel and an SMS channel; :func:`channel_from_settings` builds
  what the settings ask for.

The durable outbox (:func:`enqueue` in the caller's transaction,
:func:`dispatch` with retries and backoff, :func:`retry_failed`) makes sure a
gateway outage loses nothing. Templates in Vietnamese and English:
:func:`otp_sms`, :func:`otp_email`, :func:`invoice_email`, :func:`invoice_sms`.
"""

from evservice.delivery._address import mask_destination, normalise_destination
from evservice.delivery._channel import (
    Channel,
    MemoryChannel,
    RetryPolicy,
    RoutingChannel,
    send_with_retry,
)
from evservice.delivery._factory import channel_from_settings
from evservice.delivery._file import (
    FileOutboxChannel,
    OutboxFile,
    list_outbox_files,
    read_outbox_file,
)
from evservice.delivery._message import Attachment, DeliveryReceipt, Message
from evservice.delivery._outbox import (
    OUTBOX_POLICY,
    DispatchReport,
    OutboxEntry,
    dispatch,
    enqueue,
    list_outbox,
    retry_failed,
)
from evservice.delivery._sealed import SEALED_TABLES
from evservice.delivery._sms import TwilioSmsChannel, WebhookSmsChannel
from evservice.delivery._smtp import SmtpChannel
from evservice.delivery._templates import (
    MAX_LABEL,
    OTP_PURPOSES,
    SMS_MAX_SEPTETS,
    invoice_email,
    invoice_sms,
    otp_email,
    otp_sms,
    sms_text,
)
from evservice.vn import validate_email  # the one address rule, also under this name

__all__ = [
    "MAX_LABEL",
    "OTP_PURPOSES",
    "OUTBOX_POLICY",
    "SEALED_TABLES",
    "SMS_MAX_SEPTETS",
    "Attachment",
    "Channel",
    "DeliveryReceipt",
    "DispatchReport",
    "FileOutboxChannel",
    "MemoryChannel",
    "Message",
    "OutboxEntry",
    "OutboxFile",
    "RetryPolicy",
    "RoutingChannel",
    "SmtpChannel",
    "TwilioSmsChannel",
    "WebhookSmsChannel",
    "channel_from_settings",
    "dispatch",
    "enqueue",
    "invoice_email",
    "invoice_sms",
    "list_outbox",
    "list_outbox_files",
    "mask_destination",
    "normalise_destination",
    "otp_email",
    "otp_sms",
    "read_outbox_file",
    "retry_failed",
    "send_with_retry",
    "sms_text",
    "validate_email",
]
