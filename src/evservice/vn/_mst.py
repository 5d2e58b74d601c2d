"""Vietnamese tax code (mã số thuế, MST), in the python-stdnum style.

Ten digits with a check digit, or ten digits, a hyphen and a three-digit
branch number (``0104831030-091``). Checked with ``stdnum.vn.mst``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.vn import mst as _stdnum_mst

from evservice.errors import ValidationError

__all__ = ["TaxCode", "compact", "format", "is_valid", "validate"]


def compact(number: str) -> str:
    """Strip spaces, dots and the separator: ``0104831030 - 091`` -> ``0104831030091``."""
    return str(_stdnum_mst.compact(number))


def validate(number: str, field: str = "tax_code") -> str:
    """Return the tax code in its printed form (``0104831030-091``) or raise naming ``field``."""
    if not isinstance(number, str):
        raise ValidationError(field, "must be text")
    try:
        digits = _stdnum_mst.validate(number)
    except StdnumValidationError as exc:
        raise ValidationError(field, f"is not a valid Vietnamese tax code (MST): {exc}") from exc
    return format(str(digits))


def is_valid(number: str) -> bool:
    """True when ``number`` is a valid tax code; never raises."""
    try:
        validate(number)
    except ValidationError:
        return False
    return True


def format(number: str) -> str:
    """``0104831030091`` -> ``0104831030-091``; ten digits stay as they are."""
    digits = compact(number)
    return digits if len(digits) == 10 else f"{digits[:10]}-{digits[10:]}"


def _optional(value: str | None) -> str | None:
    return None if value is None or not value.strip() else validate(value)


#: An optional tax code field of a pydantic model: blank is None, anything else validated.
TaxCode = Annotated[str | None, AfterValidator(_optional)]
