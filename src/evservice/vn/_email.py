"""The one e-mail address rule of the library: what we send to, hash and mask.

Deliberately plain: one ``@``, a local part of 1-64 characters without spaces,
controls or the specials ``"(),:;<>[\\]``, and a dotted domain of letters,
digits and hyphens with a top-level label of letters (IDNs must come
punycoded). The domain is lower-cased; the local part is kept as given (some
servers treat it case-sensitively).

The masked form keeps the first character of the local part, then ``***``,
then the domain: ``"Nguyen.An@Example.com"`` -> ``"N***@example.com"``. The
domain stays because it tells support which provider dropped a message. An
address that fails the rule is never masked (nor sent to), and no error
message ever repeats it.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

from evservice.errors import ValidationError

__all__ = ["EmailAddress", "is_valid_email", "mask_email", "validate_email"]

_LOCAL = re.compile(r"^[^\s@\x00-\x1f\x7f\"(),:;<>\[\\\]]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def validate_email(address: str, field: str = "email") -> str:
    """Return the address with its domain in lower case, or raise naming ``field``."""
    if not isinstance(address, str):
        raise ValidationError(field, "must be text")
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain.lower()):
        raise ValidationError(field, "is not an e-mail address")
    return f"{local}@{domain.lower()}"


def is_valid_email(address: str) -> bool:
    """True when ``address`` follows the rule; never raises."""
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def mask_email(address: str, field: str = "email") -> str:
    """``"nam@example.com"`` -> ``"n***@example.com"``; raise naming ``field`` if not an address."""
    checked = validate_email(address, field)
    local, _, domain = checked.rpartition("@")
    return f"{local[0]}***@{domain}"


def _email_field(value: str, info: ValidationInfo) -> str:
    return validate_email(value, info.field_name or "email")


#: An e-mail field of a pydantic model, checked and normalised by :func:`validate_email`.
EmailAddress = Annotated[str, AfterValidator(_email_field)]
