"""Amounts in payment codes: Decimal in, the exact text the scheme wants out."""

from __future__ import annotations

from decimal import Decimal

from evservice.errors import PaymentCodeError, ValidationError
from evservice.money import as_decimal

__all__ = ["amount_text", "parse_amount"]


def parse_amount(value: object, field: str) -> Decimal:
    """A finite, positive Decimal (no floats), or :class:`PaymentCodeError` naming ``field``."""
    try:
        amount = as_decimal(value, field)
    except ValidationError as exc:
        raise PaymentCodeError(field, exc.reason) from exc
    if amount < 0:
        raise PaymentCodeError(field, "must not be negative")
    if amount == 0:
        raise PaymentCodeError(field, "must be greater than zero")
    return amount


def amount_text(value: object, field: str, *, decimals: int, max_length: int = 13) -> str:
    """The amount as a payload writes it: whole units, or exactly ``decimals`` places.

    VND has no minor unit, so ``decimals=0`` refuses any fractional part rather
    than rounding it away: a payment code must ask for exactly what is owed.
    """
    amount = parse_amount(value, field)
    if amount >= Decimal(10) ** max_length:
        raise PaymentCodeError(field, f"is too large: at most {max_length} characters fit")
    if decimals == 0:
        if amount != amount.to_integral_value():
            raise PaymentCodeError(field, "must be whole dong (VND has no minor unit)")
        text = str(int(amount))
    else:
        quantum = Decimal(1).scaleb(-decimals)
        if amount != amount.quantize(quantum):
            raise PaymentCodeError(field, f"has more than {decimals} decimal places")
        text = f"{amount:.{decimals}f}"
    if len(text) > max_length:
        raise PaymentCodeError(field, f"is too large: at most {max_length} characters fit")
    return text
