"""Masked forms of personal contact details: what logs, errors and audit events may show.

* e-mail: the first character of the local part, ``***``, then the domain in
  lower case: ``"Nguyen.An@Example.com"`` -> ``"N***@example.com"``. The domain
  stays because it tells support which provider dropped a message.
* phone: :func:`evservice.vn.phone.mask` (``"+84 *** *** 678"``), re-exported
  here as :func:`mask_phone` so both masks live side by side.

Neither function ever puts the raw value into an error message.
"""

from __future__ import annotations

from evservice.errors import ValidationError
from evservice.vn import _phone

__all__ = ["mask_email", "mask_phone"]


def mask_email(address: str, field: str = "email") -> str:
    """``"nam@example.com"`` -> ``"n***@example.com"``; raise naming ``field`` if not an address."""
    if not isinstance(address, str):
        raise ValidationError(field, "must be text")
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or "." not in domain.strip(".")
        or any(c.isspace() for c in text)
        or len(text) > 254
    ):
        raise ValidationError(field, "is not an e-mail address")
    return f"{local[0]}***@{domain.lower()}"


def mask_phone(number: str, field: str = "phone") -> str:
    """``"0912 345 678"`` -> ``"+84 *** *** 678"`` (see :func:`evservice.vn.phone.mask`)."""
    return _phone.mask(number, field)
