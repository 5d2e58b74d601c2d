"""Invoice identifiers in the python-stdnum style: template, series and number.

* template (``KHMSHDon``): one digit 1-6; 1 = VAT invoice, 2 = sales invoice, ...
* series (``KHHDon``): six characters ``C25TAA``: ``C`` coded by the tax
  authority or ``K`` uncoded; two digits of the issue year; a category letter
  (``T`` registered enterprise, ``D`` public assets, ``L`` issued case by case by
  the tax office, ``M`` from a cash register, ``N`` delivery note, ``B``
  consignment note, ``G``/``H`` stamps and tickets); two upper-case letters
  chosen by the seller.
* number (``SHDon``): 1 to 99,999,999, consecutive within (template, series).
"""

from __future__ import annotations

import re
from datetime import date

from evservice.errors import ValidationError

__all__ = [
    "MAX_NUMBER",
    "compact_series",
    "format_number",
    "is_valid_series",
    "validate_number",
    "validate_series",
    "validate_series_for_date",
    "validate_template",
]

MAX_NUMBER = 99_999_999
_SERIES = re.compile(r"^[CK][0-9]{2}[TDLMNBGH][A-Z]{2}$")


def validate_template(value: str, field: str = "template") -> str:
    """Return the template digit (``"1"``) or raise."""
    text = str(value).strip()
    if not re.fullmatch(r"[1-6]", text):
        raise ValidationError(field, "must be one digit from 1 to 6 (1 = VAT invoice)")
    return text


def compact_series(value: str) -> str:
    """Remove spaces and upper-case: ``' c25taa '`` -> ``'C25TAA'``."""
    return "".join(str(value).split()).upper()


def validate_series(value: str, field: str = "series") -> str:
    """Return the normalised series or raise naming ``field``."""
    series = compact_series(value)
    if len(series) != 6:
        raise ValidationError(field, f"must be 6 characters like C25TAA, got {len(series)}")
    if not _SERIES.match(series):
        raise ValidationError(
            field,
            "must be C or K, two digits of the year, a category letter (T, D, L, M, N, B, G, H) "
            "and two letters, like C25TAA",
        )
    return series


def validate_series_for_date(value: str, issue_date: date, field: str = "series") -> str:
    """Validate the series and check that its year is the year of ``issue_date``."""
    series = validate_series(value, field)
    if int(series[1:3]) != issue_date.year % 100:
        raise ValidationError(
            field,
            f"year {series[1:3]} in the series does not match the issue year {issue_date.year}",
        )
    return series


def is_valid_series(value: str) -> bool:
    try:
        validate_series(value)
    except ValidationError:
        return False
    return True


def validate_number(value: int | str, field: str = "number") -> int:
    """Return the invoice number as an int in 1..99,999,999 or raise."""
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise ValidationError(field, "must be a whole number") from exc
    if not 1 <= number <= MAX_NUMBER:
        raise ValidationError(field, f"must be between 1 and {MAX_NUMBER} (at most 8 digits)")
    return number


def format_number(number: int) -> str:
    """The number as printed on the invoice: eight digits, zero-padded (``00000123``)."""
    return f"{validate_number(number):08d}"
