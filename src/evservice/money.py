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

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from evservice.errors import ValidationError

__all__ = [
    "MAX_AMOUNT",
    "ZERO",
    "Amount",
    "VatRate",
    "as_decimal",
    "format_vnd",
    "parse_vat_rate",
    "round_dong",
    "vat_percent",
]

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


# -- value types shared by invoices, contracts and the batch ------------------------------


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money and quantities must be given as strings or integers, not floats")
    return value


#: A Decimal that refuses Python floats (they cannot hold most decimal amounts exactly).
Amount = Annotated[Decimal, BeforeValidator(_no_float)]

_FIXED_RATES = {"0%": Decimal(0), "5%": Decimal(5), "8%": Decimal(8), "10%": Decimal(10)}
_OTHER_RATE = re.compile(r"^KHAC:(\d{1,2}(?:\.\d{1,2})?)%$")


def parse_vat_rate(text: str, field: str = "vat_rate") -> str:
    """Normalise a VAT rate string (``TSuat``) or raise.

    Accepted: ``0%``, ``5%``, ``8%``, ``10%``, ``KCT`` (not subject to VAT; not the
    same as 0%), ``KKKNT`` (not declared, not paid), ``KHAC:x%`` (another rate,
    such as ``KHAC:5.26%``).
    """
    rate = str(text).strip().upper()
    if rate in _FIXED_RATES or rate in ("KCT", "KKKNT") or _OTHER_RATE.match(rate):
        return rate
    raise ValidationError(
        field, f"unknown VAT rate {text!r}; use 0%, 5%, 8%, 10%, KCT, KKKNT or KHAC:x%"
    )


def vat_percent(rate: str) -> Decimal | None:
    """The percentage of a normalised rate, or None for KCT and KKKNT (no VAT line)."""
    if rate in _FIXED_RATES:
        return _FIXED_RATES[rate]
    match = _OTHER_RATE.match(rate)
    if match:
        return Decimal(match.group(1))
    return None


def _vat_rate(value: str) -> str:
    return parse_vat_rate(value)


#: A VAT rate string (``TSuat``), normalised by :func:`parse_vat_rate`.
VatRate = Annotated[str, AfterValidator(_vat_rate)]
