"""The masked phone number: what logs, errors and audit events may show of a phone.

:func:`mask_phone` is :func:`evservice.vn.phone.mask` (``"+84 *** *** 678"``)
under the name that sits beside :func:`evservice.vn.mask_email` (whose rule is
in :mod:`._email`). It never puts the raw value into an error message.
"""

from __future__ import annotations

from evservice.vn import _phone

__all__ = ["mask_phone"]


def mask_phone(number: str, field: str = "phone") -> str:
    """``"0912 345 678"`` -> ``"+84 *** *** 678"`` (see :func:`evservice.vn.phone.mask`)."""
    return _phone.mask(number, field)
