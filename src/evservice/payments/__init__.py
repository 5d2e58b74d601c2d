"""Payment QR codes: EMVCo merchant-presented payloads (VietQR, PayNow, PromptPay) and EPC QR.

* :mod:`emv` -- the TLV encoder/decoder with CRC-16, in the python-stdnum
  style (``compact``, ``validate``, ``is_valid``, ``format``, plus ``encode``,
  ``decode``, ``crc16``).
* :class:`PaymentAccount` -- the payee's bank account (validated), shared by bills and contracts.
* :func:`vietqr` / :class:`VietQR` -- NAPAS VietQR to an account or a card;
  :func:`vietqr_for_invoice` for the code printed on a bill.
* :mod:`reference` -- the checksummed payment reference of an invoice
  (``compact``, ``validate``, ``is_valid``, ``format``, ``make``, ``find``).
* :func:`paynow`, :func:`promptpay`, :func:`promptpay_bill`, :func:`epc_qr`.
* :func:`draw_qr` -- the symbol as vector graphics on a reportlab canvas (or ours);
  :func:`qr_operators` -- the same drawing as PDF content-stream operators;
  :func:`qr_matrix` -- the module matrix itself (for other drawings: SVG, PNG, terminal).
"""

from evservice.payments import _emv as emv
from evservice.payments import _reference as reference
from evservice.payments._account import PaymentAccount
from evservice.payments._banks import Bank, bank_directory, find_bank
from evservice.payments._draw import (
    DEFAULT_MASK,
    QUIET_ZONE,
    draw_payment_block,
    draw_qr,
    make_qr,
    qr_matrix,
    qr_operators,
)
from evservice.payments._emv import Field, Payload
from evservice.payments._epc import EpcTransfer, epc_qr
from evservice.payments._invoice import (
    PayeeAccount,
    PaymentAccountLike,
    invoice_reference,
    payment_lines,
    vietqr_for_invoice,
)
from evservice.payments._schemes import paynow, promptpay, promptpay_bill
from evservice.payments._vietqr import VietQR, fold_purpose, make_vietqr, vietqr

__all__ = [
    "DEFAULT_MASK",
    "QUIET_ZONE",
    "Bank",
    "EpcTransfer",
    "Field",
    "PayeeAccount",
    "Payload",
    "PaymentAccount",
    "PaymentAccountLike",
    "VietQR",
    "bank_directory",
    "draw_payment_block",
    "draw_qr",
    "emv",
    "epc_qr",
    "find_bank",
    "fold_purpose",
    "invoice_reference",
    "make_qr",
    "make_vietqr",
    "payment_lines",
    "paynow",
    "promptpay",
    "promptpay_bill",
    "qr_matrix",
    "qr_operators",
    "reference",
    "vietqr",
    "vietqr_for_invoice",
]
