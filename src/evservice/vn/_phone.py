"""Phone numbers in the python-stdnum style, checked with ``phonenumbers``.

Vietnam is the default region: ``"0912 345 678"`` -> ``"+84912345678"``. A
number with a ``+`` and a country code is accepted from anywhere. The stored
and exchanged form is E.164; people see :func:`format`; logs, errors and audit
events see only :func:`mask`. Error messages never repeat the number.
"""

from __future__ import annotations

import re

import phonenumbers

from evservice.errors import ValidationError

__all__ = ["DEFAULT_REGION", "compact", "format", "is_valid", "mask", "validate"]

DEFAULT_REGION = "VN"
_SEPARATORS = re.compile(r"[\s.\-()/]+")


def compact(number: str) -> str:
    """Strip spaces, dots, hyphens, slashes and brackets: ``"0912.345.678"`` -> ``"0912345678"``."""
    return _SEPARATORS.sub("", str(number))


def _parse(number: object, field: str, region: str) -> phonenumbers.PhoneNumber:
    if not isinstance(number, str):
        raise ValidationError(field, "must be text")
    text = compact(number)
    if not text or len(text) > 20:
        raise ValidationError(field, "is not a phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(field, "is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(field, "is not a valid phone number for its country")
    return parsed


def validate(number: str, field: str = "phone", *, region: str = DEFAULT_REGION) -> str:
    """Return the number in E.164 (``+84912345678``) or raise naming ``field``."""
    parsed = _parse(number, field, region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_valid(number: str, *, region: str = DEFAULT_REGION) -> bool:
    """True when ``number`` is a valid phone number; never raises."""
    try:
        validate(number, region=region)
    except ValidationError:
        return False
    return True


def format(number: str, *, region: str = DEFAULT_REGION) -> str:
    """How people write it: national form for Vietnam (``0912 345 678``), else international."""
    parsed = _parse(number, "phone", region)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(parsed) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def mask(number: str, field: str = "phone", *, region: str = DEFAULT_REGION) -> str:
    """The only form logs and audit events may show: ``"+84 *** *** 678"``.

    The country code and the last three digits stay; the rest is always six
    stars in two groups, whatever its length, so the mask does not tell the
    length of the number either.
    """
    parsed = _parse(number, field, region)
    national = phonenumbers.national_significant_number(parsed)
    return f"+{parsed.country_code} *** *** {national[-3:]}"
