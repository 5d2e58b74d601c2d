"""The European EPC QR code (EPC069-12, "GiroCode"): plain lines, not EMVCo TLV.

Lines, in order: ``BCD``; version ``001`` or ``002``; character set (``1`` =
UTF-8); ``SCT``; BIC (required in 001, optional in 002); beneficiary name (<= 70);
IBAN; amount ``EUR<amount>`` (0.01 to 999999999.99, at most 2 decimals, may be
empty); purpose code (4 letters); structured reference (<= 35, ISO 11649 ``RF``)
or unstructured text (<= 140), never both; information for the payer (<= 70).
Trailing empty lines are left out. At most 331 bytes; printed at error level M.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from stdnum import bic as _bic
from stdnum import iban as _iban
from stdnum import iso11649 as _iso11649
from stdnum.exceptions import ValidationError as StdnumError

from evservice.errors import PaymentCodeError
from evservice.payments._amount import parse_amount

__all__ = ["EpcTransfer", "epc_qr"]

MAX_BYTES = 331
_MAX_AMOUNT = Decimal("999999999.99")
_PURPOSE = re.compile(r"[A-Z]{4}")
_AMOUNT_LINE = re.compile(r"EUR([0-9]{1,9}(?:\.[0-9]{1,2})?)")


def _line(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if any(c in text for c in "\r\n") or not text.isprintable():
        raise PaymentCodeError(field, "must be one line of printable text")
    if len(text) > max_length:
        raise PaymentCodeError(field, f"is {len(text)} characters long; at most {max_length} fit")
    return text


def _amount_line(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    return f"EUR{text}"


@dataclass(frozen=True, slots=True)
class EpcTransfer:
    """A SEPA credit transfer request; build with :func:`epc_qr`, read with :meth:`from_payload`."""

    name: str
    iban: str
    amount: Decimal | None = None
    bic: str | None = None
    purpose: str | None = None
    reference: str | None = None
    text: str | None = None
    information: str | None = None
    version: str = "002"

    def __post_init__(self) -> None:
        if self.version not in ("001", "002"):
            raise PaymentCodeError("version", "must be 001 or 002")
        if self.version == "001" and not self.bic:
            raise PaymentCodeError("bic", "is required in version 001")
        if _line(self.name, "name", 70) is None:
            raise PaymentCodeError("name", "is required")
        try:
            _iban.validate(self.iban)
            if self.bic:
                _bic.validate(self.bic)
        except StdnumError as exc:
            field = "bic" if _iban.is_valid(self.iban) else "iban"
            raise PaymentCodeError(field, f"is not valid: {exc}") from exc
        if self.iban != _iban.compact(self.iban) or (
            self.bic and self.bic != _bic.compact(self.bic)
        ):
            raise PaymentCodeError("iban", "must be compact (no spaces; use epc_qr)")
        if self.amount is not None:
            parse_amount(self.amount, "amount")
            if self.amount > _MAX_AMOUNT or self.amount != self.amount.quantize(Decimal("0.01")):
                raise PaymentCodeError("amount", "must be 0.01 to 999999999.99 EUR, 2 decimals")
        if self.purpose is not None and not _PURPOSE.fullmatch(self.purpose):
            raise PaymentCodeError("purpose", "must be a 4-letter ISO 20022 purpose code")
        if self.reference and self.text:
            raise PaymentCodeError("text", "give a structured reference or a text, not both")
        _line(self.reference, "reference", 35)
        _line(self.text, "text", 140)
        _line(self.information, "information", 70)
        if (
            self.reference
            and self.reference.startswith("RF")
            and not _iso11649.is_valid(self.reference)
        ):
            raise PaymentCodeError("reference", "is not a valid ISO 11649 creditor reference")
        size = len(self.payload().encode("utf-8"))
        if size > MAX_BYTES:
            raise PaymentCodeError("payload", f"is {size} bytes; EPC069-12 allows {MAX_BYTES}")

    def lines(self) -> list[str]:
        """The lines of the payload, trailing empty ones left out."""
        lines = [
            "BCD",
            self.version,
            "1",
            "SCT",
            self.bic or "",
            self.name,
            self.iban,
            _amount_line(self.amount) if self.amount is not None else "",
            self.purpose or "",
            self.reference or "",
            self.text or "",
            self.information or "",
        ]
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    def payload(self) -> str:
        """The payload text (lines joined by LF)."""
        return "\n".join(self.lines())

    @classmethod
    def from_payload(cls, payload: str) -> EpcTransfer:
        """Read an EPC QR payload (LF or CR LF line ends); raise naming the line that is wrong."""
        if not isinstance(payload, str):
            raise PaymentCodeError("payload", "must be text")
        lines = payload.strip("\r\n").replace("\r\n", "\n").split("\n")
        if len(lines) > 12:
            raise PaymentCodeError("payload", f"has {len(lines)} lines; EPC069-12 has at most 12")
        if len(lines) < 7:
            raise PaymentCodeError("payload", "needs at least 7 lines, up to the IBAN")
        lines += [""] * (12 - len(lines))
        if lines[0] != "BCD":
            raise PaymentCodeError("service_tag", "the first line must be BCD")
        if lines[2] not in {"1", "2", "3", "4", "5", "6", "7", "8"}:
            raise PaymentCodeError("charset", "must be a digit from 1 to 8")
        if lines[3] not in ("SCT", "INST"):
            raise PaymentCodeError("identification", "must be SCT")
        amount: Decimal | None = None
        if lines[7]:
            match = _AMOUNT_LINE.fullmatch(lines[7])
            if not match:
                raise PaymentCodeError("amount", "must be EUR followed by the amount, like EUR12.3")
            amount = Decimal(match.group(1))
        return cls(
            name=lines[5],
            iban=lines[6],
            amount=amount,
            bic=lines[4] or None,
            purpose=lines[8] or None,
            reference=lines[9] or None,
            text=lines[10] or None,
            information=lines[11] or None,
            version=lines[1],
        )


def epc_qr(
    name: str,
    iban: str,
    *,
    amount: Decimal | int | str | None = None,
    bic: str | None = None,
    purpose: str | None = None,
    reference: str | None = None,
    text: str | None = None,
    information: str | None = None,
    version: str = "002",
) -> str:
    """An EPC069-12 payload (character set UTF-8); IBAN and BIC are compacted and checked."""
    value = None if amount is None else parse_amount(amount, "amount")
    compact_iban = _iban.compact(str(iban))
    compact_bic = _bic.compact(str(bic)) if bic else None
    ref = "".join(str(reference).split()).upper() if reference else None
    return EpcTransfer(
        name=_line(name, "name", 70) or "",
        iban=compact_iban,
        amount=value,
        bic=compact_bic,
        purpose=purpose.strip().upper() if purpose else None,
        reference=ref,
        text=_line(text, "text", 140),
        information=_line(information, "information", 70),
        version=version,
    ).payload()
