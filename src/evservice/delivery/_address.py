"""Destinations of messages: normalised for sending and hashing, masked for everyone else.

An SMS goes to an E.164 number (:func:`evservice.vn.phone.validate`, Vietnam as
the default region); an e-mail to an address whose domain is lower-cased.
Logs, errors, stored listings and audit events only ever see :func:`mask`.
"""

from __future__ import annotations

import re
from typing import Literal

from evservice import vn
from evservice.errors import ValidationError

__all__ = ["Kind", "mask", "normalise", "validate_email"]

Kind = Literal["email", "sms"]

# Deliberately plain: one "@", a local part without spaces or controls, and a
# dotted domain of letters, digits and hyphens (IDNs must come punycoded).
_LOCAL = re.compile(r"^[^\s@\x00-\x1f\x7f\"(),:;<>\[\\\]]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def validate_email(address: str, field: str = "email") -> str:
    """Return the address with its domain in lower case, or raise naming ``field``.

    The message never repeats the address.
    """
    if not isinstance(address, str):
        raise ValidationError(field, "must be text")
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain.lower()):
        raise ValidationError(field, "is not an e-mail address")
    return f"{local}@{domain.lower()}"


def normalise(kind: str, destination: str, field: str = "to") -> str:
    """The canonical destination for ``kind``: E.164 for SMS, the checked address for e-mail."""
    if kind == "sms":
        return vn.phone.validate(destination, field)
    if kind == "email":
        return validate_email(destination, field)
    raise ValidationError("kind", "must be 'email' or 'sms'")


def mask(kind: str, destination: str) -> str:
    """The masked destination (``+84 *** *** 678``, ``n***@example.com``)."""
    if kind == "sms":
        return vn.phone.mask(destination, "to")
    return vn.mask_email(destination, "to")
