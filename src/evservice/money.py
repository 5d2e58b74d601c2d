"""Money: ``decimal.Decimal`` only, never float. VND has no minor unit.

The one rounding rule of the library, written once here:

* an amount of money that is printed or summed on an invoice is a whole number
  of dong, rounded half away from zero (``ROUND_HALF_UP`` on the magnitude, so
  12.5 -> 13 and -12.5 -> -13);
* a line amount is ``round_dong(quantity * unit_price)`` (less its discount),
  and the VAT of a rate group is ``round_dong(sum of its line amounts * rate)``:
  tax is computed per rate group, not per line, as the totals block
  ``THTTLTSuat`` of the tax authority's XML shows it;
* unit prices may carry up to 4 decimals (the XML allows it); quantities up to 6.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from evservice.errors import ValidationError

__all__ = ["MAX_AMOUNT", "ZERO", "as_decimal", "format_vnd", "round_dong"]

ZERO = Decimal(0)
#: Largest total an invoice may carry (10^15 dong, the range of amount-in-words).
MAX_AMOUNT = Decimal(10) ** 15


def round_dong(value: Decimal) -> Decimal:
    """Round to whole dong, half away from zero. The only rounding rule for money."""
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def as_decimal(value: object, field: str) -> Decimal:
    """Parse ``value`` as a finite Decimal (no floats accepted), or raise naming ``field``."""
    if isinstance(value, float):
        raise ValidationError(field, "must be given as a string or integer, not a float")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except (InvalidOperation, ValueError) as exc:
            raise ValidationError(field, "is not a number") from exc
    if not result.is_finite():
        raise ValidationError(field, "must be a finite number")
    return result


def format_vnd(amount: Decimal) -> str:
    """``1234567`` -> ``"1.234.567"`` (Vietnamese grouping with dots)."""
    text = f"{round_dong(amount):,}"
    return text.replace(",", ".")
