"""VietQR (NAPAS 247): the EMVCo payload every Vietnamese banking app scans.

Layout (NAPAS "VietQR" specification, reproduced byte for byte by the tests)::

    00 "01"                      payload format
    01 "11" static | "12" dynamic
    38 00 "A000000727"           NAPAS GUID
       01 00 acquirer BIN (6 digits)
          01 account (<= 19) or card number
       02 "QRIBFTTA" (to an account) | "QRIBFTTC" (to a card)
    53 "704"                     VND
    54 amount                    whole dong, dynamic codes
    58 "VN"
    62 01 bill number            (optional)
       05 reference label        (optional)
       08 purpose                ASCII, <= 25 characters (optional)
    63 CRC

The purpose is folded to ASCII with :func:`evservice.vn.fold_ascii`; if it is
still longer than 25 characters it is refused, never cut: a truncated purpose
could point to another invoice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from evservice.errors import PaymentCodeError
from evservice.payments import _emv
from evservice.payments._amount import amount_text
from evservice.payments._banks import Bank, find_bank
from evservice.payments._emv import Field
from evservice.vn import fold_ascii

__all__ = [
    "NAPAS_GUID",
    "SERVICE_ACCOUNT",
    "SERVICE_CARD",
    "VietQR",
    "fold_purpose",
    "make_vietqr",
    "vietqr",
]

NAPAS_GUID = "A000000727"
SERVICE_ACCOUNT = "QRIBFTTA"
SERVICE_CARD = "QRIBFTTC"
MAX_PURPOSE = 25
MAX_ACCOUNT = 19

_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_CARD = re.compile(r"[0-9]{8,19}")
_ASCII_TEXT = re.compile(r"[\x20-\x7e]+")


def fold_purpose(text: str, field: str = "purpose") -> str:
    """``text`` folded to ASCII on one line, or :class:`PaymentCodeError` if it cannot fit 25."""
    folded = " ".join(fold_ascii(str(text)).split())
    if not folded:
        raise PaymentCodeError(field, "has nothing left after folding to ASCII")
    if not _ASCII_TEXT.fullmatch(folded):
        raise PaymentCodeError(field, "cannot be folded to printable ASCII")
    if len(folded) > MAX_PURPOSE:
        raise PaymentCodeError(
            field,
            f"is {len(folded)} characters after folding to ASCII; "
            f"at most {MAX_PURPOSE} fit in tag 62.08 (shorten it, it is never cut)",
        )
    return folded


def _check_label(value: str, field: str) -> None:
    if not _ASCII_TEXT.fullmatch(value):
        raise PaymentCodeError(field, "must be printable ASCII")
    if len(value) > 25:
        raise PaymentCodeError(field, f"is {len(value)} characters long; at most 25 fit")


@dataclass(frozen=True, slots=True)
class VietQR:
    """A VietQR payment request. Build one with :func:`make_vietqr` (which normalises input)."""

    bank_bin: str
    account: str
    card: bool = False
    amount: Decimal | None = None
    bill_number: str | None = None
    purpose: str | None = None
    dynamic: bool = False
    reference: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.bank_bin, str) or not _BIN.fullmatch(self.bank_bin):
            raise PaymentCodeError("bin", "must be the 6-digit NAPAS acquirer BIN, like 970436")
        if not isinstance(self.account, str) or not self.account:
            raise PaymentCodeError("account", "is required")
        if len(self.account) > MAX_ACCOUNT:
            raise PaymentCodeError(
                "account", f"is {len(self.account)} characters long; at most {MAX_ACCOUNT} fit"
            )
        if self.card and not _CARD.fullmatch(self.account):
            raise PaymentCodeError("account", "a card number must be 8 to 19 digits")
        if not self.card and not _ACCOUNT.fullmatch(self.account):
            raise PaymentCodeError("account", "must be letters and digits only")
        if self.amount is not None:
            amount_text(self.amount, "amount", decimals=0)
        if self.bill_number is not None:
            _check_label(self.bill_number, "bill_number")
        if self.reference is not None:
            _check_label(self.reference, "reference")
        if self.purpose is not None and fold_purpose(self.purpose) != self.purpose:
            raise PaymentCodeError("purpose", "must be folded ASCII on one line (use make_vietqr)")

    @property
    def service(self) -> str:
        """``QRIBFTTC`` for a card, ``QRIBFTTA`` for an account."""
        return SERVICE_CARD if self.card else SERVICE_ACCOUNT

    @property
    def bank(self) -> Bank | None:
        """The bank from the directory, or None for a BIN it does not know."""
        return find_bank(self.bank_bin)

    def fields(self) -> tuple[Field, ...]:
        """The EMVCo fields, in the order NAPAS's examples use."""
        beneficiary = (Field("00", self.bank_bin), Field("01", self.account))
        fields = [
            Field("00", "01"),
            Field("01", "12" if self.dynamic else "11"),
            Field(
                "38",
                (Field("00", NAPAS_GUID), Field("01", beneficiary), Field("02", self.service)),
            ),
            Field("53", "704"),
        ]
        if self.amount is not None:
            fields.append(Field("54", amount_text(self.amount, "amount", decimals=0)))
        fields.append(Field("58", "VN"))
        extra = [
            Field(tag, value)
            for tag, value in (
                ("01", self.bill_number),
                ("05", self.reference),
                ("08", self.purpose),
            )
            if value
        ]
        if extra:
            fields.append(Field("62", tuple(extra)))
        return tuple(fields)

    def payload(self) -> str:
        """The payload text, CRC included."""
        return _emv.encode(self.fields())

    @classmethod
    def from_payload(cls, payload: str) -> VietQR:
        """Read a VietQR payload (strict EMVCo checks first); raise if it is not one."""
        decoded = _emv.decode(payload)
        template = next(
            (
                f
                for f in decoded.fields
                if f.is_template and 26 <= int(f.tag) <= 51 and _guid(f) == NAPAS_GUID
            ),
            None,
        )
        if template is None:
            raise PaymentCodeError("tag 38", "no NAPAS (A000000727) merchant account template")
        path = f"tag {template.tag}"
        beneficiary = template.get("01")
        service = template.get("02")
        if beneficiary is None or not isinstance(beneficiary.value, tuple):
            raise PaymentCodeError(f"{path}.01", "the beneficiary (BIN and account) is missing")
        bin_field, account_field = beneficiary.get("00"), beneficiary.get("01")
        if bin_field is None or account_field is None:
            raise PaymentCodeError(f"{path}.01", "needs both 00 (BIN) and 01 (account)")
        if service is None or service.value not in (SERVICE_ACCOUNT, SERVICE_CARD):
            raise PaymentCodeError(f"{path}.02", "the service code must be QRIBFTTA or QRIBFTTC")
        if decoded.get("53") != "704":
            raise PaymentCodeError("tag 53", "a VietQR is in VND: the currency must be 704")
        if decoded.get("58") != "VN":
            raise PaymentCodeError("tag 58", "a VietQR's country must be VN")
        amount_raw = decoded.get("54")
        amount: Decimal | None = None
        if amount_raw is not None:
            if not re.fullmatch(r"[0-9]+", amount_raw):
                raise PaymentCodeError("tag 54", "a VietQR amount is whole dong (digits only)")
            amount = Decimal(amount_raw)
        return cls(
            bank_bin=str(bin_field.value),
            account=str(account_field.value),
            card=service.value == SERVICE_CARD,
            amount=amount,
            bill_number=decoded.get("62.01"),
            purpose=decoded.get("62.08"),
            dynamic=decoded.get("01") == "12",
            reference=decoded.get("62.05"),
        )


def _guid(template: Field) -> str | None:
    sub = template.get("00")
    return sub.value if sub is not None and isinstance(sub.value, str) else None


def make_vietqr(
    bank_bin: str,
    account: str,
    *,
    amount: Decimal | int | str | None = None,
    purpose: str | None = None,
    bill_number: str | None = None,
    reference: str | None = None,
    card: bool = False,
    dynamic: bool | None = None,
) -> VietQR:
    """Normalise and check the parts of a VietQR; the code is dynamic when it has an amount.

    Spaces in the BIN and account are removed; the amount is whole dong (a
    Decimal, int or string, never a float); the purpose is folded to ASCII and
    must then fit 25 characters. Errors name the field: ``bin``, ``account``,
    ``amount``, ``purpose``, ``bill_number``.
    """
    bin_text = "".join(str(bank_bin).split())
    account_text = "".join(str(account).split())
    value: Decimal | None = None
    if amount is not None:
        value = Decimal(amount_text(amount, "amount", decimals=0))
    folded = fold_purpose(purpose) if purpose is not None and purpose.strip() else None
    bill = bill_number.strip() if bill_number is not None and bill_number.strip() else None
    ref = reference.strip() if reference is not None and reference.strip() else None
    return VietQR(
        bank_bin=bin_text,
        account=account_text,
        card=card,
        amount=value,
        bill_number=bill,
        purpose=folded,
        dynamic=value is not None if dynamic is None else dynamic,
        reference=ref,
    )


def vietqr(
    bank_bin: str,
    account: str,
    *,
    amount: Decimal | int | str | None = None,
    purpose: str | None = None,
    bill_number: str | None = None,
    reference: str | None = None,
    card: bool = False,
    dynamic: bool | None = None,
) -> str:
    """The VietQR payload text; see :func:`make_vietqr` for the rules."""
    return make_vietqr(
        bank_bin,
        account,
        amount=amount,
        purpose=purpose,
        bill_number=bill_number,
        reference=reference,
        card=card,
        dynamic=dynamic,
    ).payload()
