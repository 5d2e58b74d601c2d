"""Destinations of messages: normalised for sending and hashing, masked for everyone else.

An SMS goes to an E.164 number (:func:`evservice.vn.phone.validate`, Vietnam as
the default region); an e-mail to an address that passes
:func:`evservice.vn.validate_email` (the one address rule; its domain is
lower-cased). Logs, errors, stored listings and audit events only ever see
:func:`mask_destination`.
"""

from __future__ import annotations

from typing import Literal

from evservice import vn
from evservice.errors import ValidationError
from evservice.vn import validate_email

__all__ = ["Kind", "mask_destination", "normalise_destination"]

Kind = Literal["email", "sms"]


def normalise_destination(kind: str, destination: str, field: str = "to") -> str:
    """The canonical destination for ``kind``: E.164 for SMS, the checked address for e-mail."""
    if kind == "sms":
        return vn.phone.validate(destination, field)
    if kind == "email":
        return validate_email(destination, field)
    raise ValidationError("kind", "must be 'email' or 'sms'")


def mask_destination(kind: str, destination: str) -> str:
    """The masked destination (``+84 *** *** 678``, ``n***@example.com``)."""
    if kind == "sms":
        return vn.phone.mask(destination, "to")
    return vn.mask_email(destination, "to")
