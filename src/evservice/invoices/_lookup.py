"""Lookup codes (mã tra cứu), in the python-stdnum style.

A customer types the lookup code printed on the invoice into the provider's
look-up page, so the code is made to be read aloud and typed by hand:

* 31 symbols: the digits 2-9 and the letters A-Z without I, L and O. The easily
  confused 0/O and 1/I/L never appear, so nobody has to guess which was meant.
* 12 characters, printed in groups of four: ``7KQ4-MZ2X-9HTQ``. Eleven are drawn
  from :mod:`secrets` (about 54 bits), the twelfth is a check character.
* The check character makes the weighted sum ``sum(i * value(c_i))`` over the
  twelve positions ``i = 1..12`` divisible by 31. Because 31 is prime and the
  weights 1..12 are distinct, every single wrong character and every swap of two
  different characters (adjacent or not) is detected.

Codes are unique per store (a unique constraint on the invoice table); the
issuing code draws again on the rare collision.
"""

from __future__ import annotations

import secrets

from evservice.errors import ValidationError

__all__ = ["ALPHABET", "LENGTH", "compact", "format", "generate", "is_valid", "validate"]

#: The symbols of a lookup code, in the order of their values 0..30.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: Characters in a lookup code, check character included.
LENGTH = 12
_MODULUS = len(ALPHABET)  # 31, a prime
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_CONFUSABLE = frozenset("01OIL")
# The check character sits at position LENGTH (weight 12); 12 * 13 = 1 (mod 31).
_INVERSE_OF_LAST_WEIGHT = pow(LENGTH, -1, _MODULUS)


def compact(code: str) -> str:
    """Drop spaces and hyphens and upper-case: ``' 7kq4-mz2x 9htq'`` -> ``'7KQ4MZ2X9HTQ'``."""
    return "".join(str(code).replace("-", " ").split()).upper()


def _check_character(body: str) -> str:
    weighted = sum(weight * _VALUES[symbol] for weight, symbol in enumerate(body, start=1))
    return ALPHABET[(-weighted * _INVERSE_OF_LAST_WEIGHT) % _MODULUS]


def validate(code: str, field: str = "lookup_code") -> str:
    """Return the compact code or raise :class:`ValidationError` naming ``field``."""
    if not isinstance(code, str):
        raise ValidationError(field, "must be text")
    value = compact(code)
    if len(value) != LENGTH:
        raise ValidationError(field, f"must have {LENGTH} characters, got {len(value)}")
    if any(symbol in _CONFUSABLE for symbol in value):
        raise ValidationError(field, "lookup codes never contain 0, O, 1, I or L")
    if any(symbol not in _VALUES for symbol in value):
        raise ValidationError(field, f"may only contain the characters {ALPHABET}")
    if _check_character(value[:-1]) != value[-1]:
        raise ValidationError(field, "the check character does not match (a typing error?)")
    return value


def is_valid(code: str) -> bool:
    """True when ``code`` is a well-formed lookup code; never raises."""
    try:
        validate(code)
    except ValidationError:
        return False
    return True


def format(code: str) -> str:
    """Print in groups of four: ``7KQ4MZ2X9HTQ`` -> ``7KQ4-MZ2X-9HTQ``."""
    value = compact(code)
    return "-".join(value[i : i + 4] for i in range(0, len(value), 4))


def generate() -> str:
    """A fresh random lookup code (compact form), from the operating system's CSPRNG."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH - 1))
    return body + _check_character(body)
