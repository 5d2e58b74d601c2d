"""The payment reference of an invoice: what the customer's bank transfer carries back.

``1C26TAA0000012375`` = template (1 digit), series (6), number (8 digits) and two
ISO 7064 MOD 97-10 check digits over those 15 characters, letters counted as
10..35 as in an IBAN. MOD 97-10 catches every single wrong character and every
swap of two neighbours, which is what people get wrong when they retype a
reference into a banking app. It is derived from the invoice's own number, so it
is unique exactly as long as (template, series, number) is, and it needs no table
of its own.

The python-stdnum set: :func:`compact` (strip spaces, dashes, dots; upper-case),
:func:`validate` (the compact form or :class:`PaymentCodeError`),
:func:`is_valid` (never raises), :func:`format` (``1C26TAA-00000123-75``, the
invoice label plus the check digits). :func:`calc_check_digits` and
:func:`make` build one; :func:`find` picks references out of a transfer's free
text (the memo banks pass on), valid ones and mistyped ones apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from evservice.errors import PaymentCodeError

__all__ = [
    "LENGTH",
    "Candidate",
    "calc_check_digits",
    "compact",
    "find",
    "format",
    "is_valid",
    "make",
    "validate",
]

#: Characters of a compact reference.
LENGTH = 17

_SEPARATORS = re.compile(r"[\s\-._/:]+")
_BODY = re.compile(r"[0-9][CK][0-9]{2}[A-Z]{3}[0-9]{8}")
_WHOLE = re.compile(r"[0-9][CK][0-9]{2}[A-Z]{3}[0-9]{10}")
# What find() takes for a reference: any letter where C or K belongs, so a typo there
# still reads as a mistyped reference rather than as none.
_SHAPE = re.compile(r"[0-9][A-Z][0-9]{2}[A-Z]{3}[0-9]{10}")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
_SERIES = re.compile(r"[CK][0-9]{2}[A-Z]{3}")


#: Letters become 10..35, as in an IBAN (ISO 13616); digits stay.
_AS_DIGITS = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def _mod97(text: str) -> int:
    return int(text.translate(_AS_DIGITS)) % 97


def _checks(value: str) -> bool:
    # 00, 01 and 99 are congruent to 97, 98 and 02: MOD 97-10 never makes them.
    return _mod97(value) == 1 and value[15:] not in ("00", "01", "99")


def compact(number: str) -> str:
    """``number`` without spaces, dashes, dots, slashes or colons, upper-cased."""
    if not isinstance(number, str):
        raise PaymentCodeError("reference", "must be text")
    return _SEPARATORS.sub("", number).upper()


def calc_check_digits(body: str) -> str:
    """The two MOD 97-10 check digits for a 15-character body (template, series, number)."""
    body = compact(body)
    if not _BODY.fullmatch(body):
        raise PaymentCodeError(
            "reference", "the body must be template digit, series (like C26TAA) and 8 digits"
        )
    return f"{98 - _mod97(body + '00'):02d}"


def make(template: str, series: str, number: int) -> str:
    """The compact reference of invoice (``template``, ``series``, ``number``)."""
    if not isinstance(template, str) or not re.fullmatch(r"[0-9]", template.strip()):
        raise PaymentCodeError("template", "must be one digit")
    code = compact(series) if isinstance(series, str) else ""
    if not _SERIES.fullmatch(code):
        raise PaymentCodeError("series", "must be C or K, two digits and three letters (C26TAA)")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 99_999_999:
        raise PaymentCodeError("number", "must be a whole number from 1 to 99999999")
    body = f"{template.strip()}{code}{number:08d}"
    return body + calc_check_digits(body)


def validate(number: str) -> str:
    """The compact reference, or :class:`PaymentCodeError` saying what is wrong."""
    value = compact(number)
    if len(value) != LENGTH:
        raise PaymentCodeError("reference", f"must be {LENGTH} characters, not {len(value)}")
    if not _WHOLE.fullmatch(value):
        raise PaymentCodeError(
            "reference", "must be template digit, series, 8-digit number and 2 check digits"
        )
    if not _checks(value):
        raise PaymentCodeError("reference", "the check digits do not match (mistyped?)")
    return value


def is_valid(number: object) -> bool:
    """Whether ``number`` is a valid reference; never raises."""
    if not isinstance(number, str):
        return False
    try:
        validate(number)
    except PaymentCodeError:
        return False
    return True


def format(number: str) -> str:
    """``1C26TAA-00000123-75``: the invoice label, then the check digits."""
    value = validate(number)
    return f"{value[:7]}-{value[7:15]}-{value[15:]}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something in a transfer's text shaped like a reference; ``valid`` if its check holds."""

    text: str
    valid: bool


def find(text: str) -> Iterator[Candidate]:
    """References in free text (a transfer memo), valid ones first, each once.

    The text is upper-cased and everything but letters and digits dropped before
    the search, so ``HD 1C26TAA 00000123 75`` and ``hd1c26taa-00000123-75`` are
    both found. A candidate whose check digits fail is yielded with
    ``valid=False``: the reference was there but mistyped.
    """
    if not isinstance(text, str):
        return
    squeezed = _NOT_ALNUM.sub("", text.upper())
    seen: set[str] = set()
    invalid: list[str] = []
    for match in _SHAPE.finditer(squeezed):
        value = match.group()
        if value in seen:
            continue
        seen.add(value)
        if value[1] in "CK" and _checks(value):
            yield Candidate(value, True)
        else:
            invalid.append(value)
    for value in invalid:
        yield Candidate(value, False)
