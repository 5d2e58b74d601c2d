"""The VietQR code printed on a bill: the exact amount for the exact invoice.

Independent of the invoice model (plain values in), so ``payments`` never
imports ``invoices``. The payee comes from the draft's payment account or from
the settings (``EVSERVICE_PAYEE_BANK_BIN``, ``..._ACCOUNT``, ``..._NAME``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from evservice.config import Settings
from evservice.errors import ConfigurationError, PaymentCodeError
from evservice.money import format_vnd
from evservice.payments import _reference
from evservice.payments._vietqr import VietQR, make_vietqr

__all__ = [
    "PayeeAccount",
    "PaymentAccountLike",
    "invoice_reference",
    "payment_lines",
    "vietqr_for_invoice",
]

_SERIES = re.compile(r"[A-Z0-9]{6}")
_LOOKUP = re.compile(r"[A-Za-z0-9-]{1,25}")


class PaymentAccountLike(Protocol):
    """Anything with a bank BIN, an account and an optional holder name."""

    @property
    def bank_bin(self) -> str: ...

    @property
    def account(self) -> str: ...

    @property
    def account_name(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PayeeAccount:
    """The account customers pay into."""

    bank_bin: str
    account: str
    account_name: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PayeeAccount:
        """The payee from settings; :class:`ConfigurationError` if BIN or account is unset."""
        if not settings.payee_bank_bin or not settings.payee_account:
            raise ConfigurationError(
                "payee_bank_bin and payee_account must be set for payment QR codes "
                "(EVSERVICE_PAYEE_BANK_BIN, EVSERVICE_PAYEE_ACCOUNT)"
            )
        return cls(settings.payee_bank_bin, settings.payee_account, settings.payee_name)


def invoice_reference(
    *,
    series: str | None = None,
    number: int | None = None,
    lookup_code: str | None = None,
    template: str = "1",
) -> tuple[str, str]:
    """``(bill number, purpose)`` that identify an invoice on a bank statement.

    With series and number: ``("C26TAA00000123", "HD 1C26TAA0000012375")``, the
    purpose carrying the checksummed payment reference
    (:mod:`evservice.payments.reference`) that reconciliation matches on; with
    only a lookup code: ``(code, "HD <code>")`` (or the bare code when the
    prefix does not fit 25 characters).
    """
    if (series is None) != (number is None):
        raise PaymentCodeError(
            "series" if series is None else "number", "series and number go together"
        )
    if series is not None and number is not None:
        code = "".join(series.split()).upper()
        if not _SERIES.fullmatch(code):
            raise PaymentCodeError("series", "must be 6 letters and digits, like C26TAA")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 99_999_999:
            raise PaymentCodeError("number", "must be a whole number from 1 to 99999999")
        return f"{code}{number:08d}", f"HD {_reference.make(template, code, number)}"
    if lookup_code is None or not lookup_code.strip():
        raise PaymentCodeError("lookup_code", "give the series and number, or the lookup code")
    lookup = lookup_code.strip()
    if not _LOOKUP.fullmatch(lookup):
        raise PaymentCodeError("lookup_code", "must be 1 to 25 letters, digits or '-'")
    purpose = f"HD {lookup}"
    return lookup, purpose if len(purpose) <= 25 else lookup


def vietqr_for_invoice(
    account: PaymentAccountLike,
    total: Decimal | int | str,
    *,
    series: str | None = None,
    number: int | None = None,
    lookup_code: str | None = None,
    purpose: str | None = None,
    template: str = "1",
) -> VietQR:
    """A dynamic VietQR for the total payable of one invoice.

    62/01 carries the bill number and 62/08 the purpose from
    :func:`invoice_reference` (``HD`` and the payment reference of
    ``template``, ``series``, ``number``); when both the series/number and the lookup code
    are given, the lookup code goes into 62/05 (reference label). ``purpose``
    replaces the generated one (it is folded and must fit 25 characters).
    Call ``.payload()`` on the result for the text to draw.
    """
    reference: str | None = None
    if series is not None or number is not None:
        bill, generated = invoice_reference(series=series, number=number, template=template)
        if lookup_code is not None and lookup_code.strip():
            reference = invoice_reference(lookup_code=lookup_code)[0]
    else:
        bill, generated = invoice_reference(lookup_code=lookup_code)
    return make_vietqr(
        account.bank_bin,
        account.account,
        amount=total,
        bill_number=bill,
        reference=reference,
        purpose=purpose if purpose is not None else generated,
        dynamic=True,
    )


def payment_lines(code: VietQR, account_name: str | None = None) -> list[str]:
    """The lines printed beside the QR code: bank, account, holder, amount, purpose,
    and the payment reference (``Mã thanh toán: 1C26TAA-00000123-75``) when the
    purpose carries one.

    In Vietnamese; draw them with a font that has Vietnamese glyphs (DejaVu).
    """
    bank = code.bank
    bank_label = f"{bank.short_name} ({code.bank_bin})" if bank else f"BIN {code.bank_bin}"
    lines = [f"Ngân hàng: {bank_label}", f"Số tài khoản: {code.account}"]
    if account_name:
        lines.append(f"Chủ tài khoản: {account_name}")
    if code.amount is not None:
        lines.append(f"Số tiền: {format_vnd(code.amount)} đ")
    if code.purpose:
        lines.append(f"Nội dung: {code.purpose}")
    reference = next(_reference.find(code.purpose or ""), None)
    if reference is not None and reference.valid:
        lines.append(f"Mã thanh toán: {_reference.format(reference.text)}")
    return lines
