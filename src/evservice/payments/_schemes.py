"""Other EMVCo schemes through the same encoder: Singapore PayNow and Thailand PromptPay.

PayNow (SGQR): 26 = {00 ``SG.PAYNOW``, 01 proxy type (0 mobile, 2 UEN), 02
proxy value, 03 amount editable (0/1), 04 expiry ``YYYYMMDD``}; 52 ``0000``, 53
``702``, 58 ``SG``, 59 merchant name, 60 city.

PromptPay (Bank of Thailand, Thai QR Code standard): 29 = {00
``A000000677010111``, 01 mobile ``0066`` + 9 digits | 02 tax ID (13 digits) | 03
e-wallet ID (15 digits)}; bill payment 30 = {00 ``A000000677010112``, 01 biller
ID, 02 reference 1, 03 reference 2}; 53 ``764``, 58 ``TH``.

Fields come out in ascending ID order, as the schemes' reference examples do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal

from evservice.errors import PaymentCodeError
from evservice.payments import _emv
from evservice.payments._amount import amount_text
from evservice.payments._emv import Field

__all__ = [
    "PAYNOW_GUID",
    "PROMPTPAY_BILL_GUID",
    "PROMPTPAY_GUID",
    "paynow",
    "promptpay",
    "promptpay_bill",
]

PAYNOW_GUID = "SG.PAYNOW"
PROMPTPAY_GUID = "A000000677010111"
PROMPTPAY_BILL_GUID = "A000000677010112"

_SG_MOBILE = re.compile(r"\+65[89][0-9]{7}")
_UEN = re.compile(r"[0-9A-Z]{9,13}")
_BILLER = re.compile(r"[0-9]{15}")
_REF = re.compile(r"[0-9A-Z]{1,20}")


def _assemble(fields: list[Field]) -> str:
    return _emv.encode(sorted(fields, key=lambda f: f.tag))


def _extra_templates(extra: Sequence[Field], taken: set[str]) -> list[Field]:
    out: list[Field] = []
    for field in extra:
        if not (26 <= int(field.tag) <= 51 or 80 <= int(field.tag) <= 99) or field.tag in taken:
            raise PaymentCodeError(
                f"tag {field.tag}", "extra templates must use a free ID in 26-51 or 80-99"
            )
        taken.add(field.tag)
        out.append(field)
    return out


def _text(value: str, field: str, max_length: int) -> str:
    text = " ".join(str(value).split())
    if not text or len(text) > max_length or not text.isascii() or not text.isprintable():
        raise PaymentCodeError(field, f"must be 1 to {max_length} printable ASCII characters")
    return text


def paynow(
    proxy_type: Literal["mobile", "uen"],
    proxy_value: str,
    *,
    amount: Decimal | int | str | None = None,
    editable: bool | None = None,
    expiry: date | None = None,
    merchant_name: str = "NA",
    merchant_city: str = "Singapore",
    postal_code: str | None = None,
    bill_number: str | None = None,
    merchant_category: str = "0000",
    extra_templates: Sequence[Field] = (),
) -> str:
    """A PayNow payload to a mobile number (``+65`` and 8 digits) or a UEN.

    ``editable`` (may the payer change the amount) defaults to True without an
    amount and False with one. ``extra_templates`` carries other merchant
    account templates of an SGQR label, such as 51 ``SG.SGQR``.
    """
    compact = "".join(str(proxy_value).split()).upper()
    if proxy_type == "mobile":
        if re.fullmatch(r"[89][0-9]{7}", compact):
            compact = "+65" + compact
        if not _SG_MOBILE.fullmatch(compact):
            raise PaymentCodeError("proxy_value", "a PayNow mobile is +65 and 8 digits")
        type_code = "0"
    elif proxy_type == "uen":
        if not _UEN.fullmatch(compact):
            raise PaymentCodeError("proxy_value", "a UEN is 9 to 13 letters and digits")
        type_code = "2"
    else:
        raise PaymentCodeError("proxy_type", "must be 'mobile' or 'uen'")
    amount_value = None if amount is None else amount_text(amount, "amount", decimals=2)
    is_editable = amount_value is None if editable is None else editable
    account = [
        Field("00", PAYNOW_GUID),
        Field("01", type_code),
        Field("02", compact),
        Field("03", "1" if is_editable else "0"),
    ]
    if expiry is not None:
        if not isinstance(expiry, date):
            raise PaymentCodeError("expiry", "must be a date")
        account.append(Field("04", expiry.strftime("%Y%m%d")))
    fields = [
        Field("00", "01"),
        Field("01", "11" if amount_value is None else "12"),
        Field("26", tuple(account)),
        Field("52", merchant_category),
        Field("53", "702"),
        Field("58", "SG"),
        Field("59", _text(merchant_name, "merchant_name", 25)),
        Field("60", _text(merchant_city, "merchant_city", 15)),
        *_extra_templates(extra_templates, {"26"}),
    ]
    if amount_value is not None:
        fields.append(Field("54", amount_value))
    if postal_code is not None:
        fields.append(Field("61", _text(postal_code, "postal_code", 10)))
    if bill_number is not None:
        fields.append(Field("62", (Field("01", _text(bill_number, "bill_number", 25)),)))
    return _assemble(fields)


def _promptpay_target(target: str, kind: str | None) -> tuple[str, str]:
    digits = re.sub(r"[\s+-]", "", str(target))
    if not re.fullmatch(r"[0-9]+", digits):
        raise PaymentCodeError("target", "must be digits (a phone number, tax ID or e-wallet ID)")
    if kind is None:
        if len(digits) == 13:
            kind = "tax_id"
        elif len(digits) == 15:
            kind = "ewallet"
        else:
            kind = "mobile"
    if kind == "mobile":
        if digits.startswith("66") and len(digits) == 11:
            national = digits[2:]
        elif digits.startswith("0") and len(digits) == 10:
            national = digits[1:]
        else:
            raise PaymentCodeError("target", "a Thai mobile number is 0 and 9 digits (or +66 ...)")
        return "01", "0066" + national
    if kind == "tax_id":
        if len(digits) != 13:
            raise PaymentCodeError("target", "a Thai tax or national ID is 13 digits")
        return "02", digits
    if kind == "ewallet":
        if len(digits) != 15:
            raise PaymentCodeError("target", "a PromptPay e-wallet ID is 15 digits")
        return "03", digits
    raise PaymentCodeError("kind", "must be 'mobile', 'tax_id' or 'ewallet'")


def promptpay(
    target: str,
    *,
    kind: Literal["mobile", "tax_id", "ewallet"] | None = None,
    amount: Decimal | int | str | None = None,
) -> str:
    """A PromptPay credit-transfer payload; ``kind`` is guessed from the length when omitted."""
    tag, value = _promptpay_target(target, kind)
    fields = [
        Field("00", "01"),
        Field("01", "11" if amount is None else "12"),
        Field("29", (Field("00", PROMPTPAY_GUID), Field(tag, value))),
        Field("53", "764"),
        Field("58", "TH"),
    ]
    if amount is not None:
        fields.append(Field("54", amount_text(amount, "amount", decimals=2)))
    return _assemble(fields)


def promptpay_bill(
    biller_id: str,
    reference1: str,
    reference2: str | None = None,
    *,
    amount: Decimal | int | str | None = None,
    merchant_name: str | None = None,
) -> str:
    """A PromptPay bill payment: biller ID (15 digits: tax ID and suffix) and references.

    References are 1 to 20 upper-case letters and digits, as the Thai QR Code
    standard asks.
    """
    biller = "".join(str(biller_id).split())
    if not _BILLER.fullmatch(biller):
        raise PaymentCodeError("biller_id", "must be 15 digits (13-digit tax ID and a suffix)")
    refs = [Field("00", PROMPTPAY_BILL_GUID), Field("01", biller)]
    for tag, name, ref in (("02", "reference1", reference1), ("03", "reference2", reference2)):
        if ref is None:
            continue
        text = "".join(str(ref).split()).upper()
        if not _REF.fullmatch(text):
            raise PaymentCodeError(name, "must be 1 to 20 upper-case letters and digits")
        refs.append(Field(tag, text))
    fields = [
        Field("00", "01"),
        Field("01", "11" if amount is None else "12"),
        Field("30", tuple(refs)),
        Field("53", "764"),
        Field("58", "TH"),
    ]
    if amount is not None:
        fields.append(Field("54", amount_text(amount, "amount", decimals=2)))
    if merchant_name is not None:
        fields.append(Field("59", _text(merchant_name, "merchant_name", 25)))
    return _assemble(fields)
