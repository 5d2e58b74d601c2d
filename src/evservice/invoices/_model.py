"""The invoice model: drafts in, issued invoices out. Decimal only; frozen.

Field names are English; the docstring of each names the element of the tax
authority's XML (v2.0.x) it becomes. Totals follow the single rounding rule of
:mod:`evservice.money`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evservice._text import check_model_text
from evservice.errors import ValidationError
from evservice.invoices._identifiers import (
    format_number,
    validate_series,
    validate_series_for_date,
    validate_template,
)
from evservice.money import (
    MAX_AMOUNT,
    ZERO,
    Amount,
    VatRate,
    round_dong,
    vat_percent,
)
from evservice.payments import PaymentAccount
from evservice.vn import TaxCode

__all__ = [
    "Buyer",
    "CorrectionKind",
    "Invoice",
    "InvoiceDraft",
    "InvoiceLine",
    "InvoiceStatus",
    "LineKind",
    "Party",
    "RateTotal",
    "RelatedInvoice",
    "Seller",
    "Totals",
    "compute_totals",
]


_frozen = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class _Text(BaseModel):
    """Every text field (and ``extra`` key and value) holds only what the XML and PDF
    writers carry on one line (:mod:`evservice._text`): a draft that validates renders."""

    @model_validator(mode="after")
    def _text(self) -> _Text:
        check_model_text(self)
        return self


class LineKind(enum.IntEnum):
    """``TChat``: what a line is."""

    GOODS = 1  # hàng hóa, dịch vụ
    PROMOTION = 2  # khuyến mại (free of charge, amount 0)
    DISCOUNT = 3  # chiết khấu thương mại (subtracted from its rate group)
    NOTE = 4  # ghi chú, diễn giải (no amounts)


class CorrectionKind(enum.IntEnum):
    """``TCHDon``: how an invoice relates to the one it corrects."""

    REPLACEMENT = 1
    ADJUSTMENT = 2


class InvoiceStatus(enum.StrEnum):
    ISSUED = "issued"
    REPLACED = "replaced"  # a replacement invoice supersedes it
    ADJUSTED = "adjusted"  # one or more adjustment invoices amend it


class Party(_Text):
    """A seller or a buyer (``NBan`` / ``NMua``)."""

    model_config = _frozen
    name: str | None = Field(default=None, max_length=400, description="Ten")
    tax_code: TaxCode = Field(default=None, description="MST, 10 digits or 10-3")
    address: str | None = Field(default=None, max_length=400, description="DChi")
    phone: str | None = Field(default=None, max_length=20, description="SDThoai")
    email: str | None = Field(default=None, max_length=50, description="DCTDTu")
    bank_account: str | None = Field(default=None, max_length=30, description="STKNHang")
    bank_name: str | None = Field(default=None, max_length=400, description="TNHang")


class Seller(Party):
    """The seller: name, tax code and address are mandatory."""

    name: str = Field(min_length=1, max_length=400)
    tax_code: TaxCode = Field(description="MST of the seller")
    address: str = Field(min_length=1, max_length=400)
    fax: str | None = Field(default=None, max_length=20)
    website: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _needs_tax_code(self) -> Seller:
        if not self.tax_code:
            raise ValidationError("tax_code", "the seller's tax code (MST) is required")
        return self


class Buyer(Party):
    """The buyer: a company with a tax code, or a person named in ``HVTNMHang``."""

    person_name: str | None = Field(default=None, max_length=100, description="HVTNMHang")
    customer_code: str | None = Field(default=None, max_length=50, description="MKHang")

    @model_validator(mode="after")
    def _named(self) -> Buyer:
        if not (self.name or self.person_name):
            raise ValidationError(
                "person_name", "a buyer needs a name (company) or a person_name (HVTNMHang)"
            )
        if self.tax_code and not self.name:
            raise ValidationError("name", "a buyer with a tax code needs the company name")
        return self


class InvoiceLine(_Text):
    """One ``HHDVu``. ``amount`` (``ThTien``) defaults to quantity x unit price less discount."""

    model_config = _frozen
    kind: LineKind = LineKind.GOODS
    name: str = Field(min_length=1, max_length=500, description="THHDVu")
    code: str | None = Field(default=None, max_length=50, description="MHHDVu")
    unit: str | None = Field(default=None, max_length=50, description="DVTinh")
    quantity: Amount | None = Field(default=None, description="SLuong")
    unit_price: Amount | None = Field(default=None, description="DGia")
    discount_rate: Amount | None = Field(default=None, ge=0, le=100, description="TLCKhau, %")
    discount_amount: Amount | None = Field(default=None, description="STCKhau")
    amount: Amount | None = Field(default=None, description="ThTien")
    vat_rate: VatRate | None = Field(default=None, description="TSuat")
    extra: dict[str, str] = Field(default_factory=dict, description="TTKhac/TTin")

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceLine:
        if self.kind is LineKind.NOTE:
            return self
        if self.vat_rate is None:
            raise ValidationError("vat_rate", "is required for every line except notes")
        if self.amount is None and (self.quantity is None or self.unit_price is None):
            raise ValidationError("amount", "give amount, or quantity and unit_price")
        for name in ("quantity", "unit_price", "amount", "discount_amount"):
            value = getattr(self, name)
            if value is not None and abs(value) >= MAX_AMOUNT:
                raise ValidationError(name, "is beyond the limit of 10^15")
        if self.unit_price is not None and self.unit_price.as_tuple().exponent < -4:  # type: ignore[operator]
            raise ValidationError("unit_price", "has more than 4 decimals")
        return self

    def line_amount(self) -> Decimal:
        """``ThTien``: the given amount, or round(quantity x unit price) less the discount."""
        if self.kind is LineKind.NOTE:
            return ZERO
        if self.amount is not None:
            return round_dong(self.amount)
        if self.quantity is None or self.unit_price is None:  # excluded by _consistent
            raise ValidationError("quantity", "quantity and unit_price are needed without amount")
        gross = round_dong(self.quantity * self.unit_price)
        return gross - self.line_discount(gross)

    def line_discount(self, gross: Decimal | None = None) -> Decimal:
        """``STCKhau``: the given discount, or ``discount_rate`` % of the gross amount."""
        if self.discount_amount is not None:
            return round_dong(self.discount_amount)
        if self.discount_rate is not None and gross is not None:
            return round_dong(gross * self.discount_rate / 100)
        return ZERO


class RelatedInvoice(_Text):
    """``TTHDLQuan``: the original invoice that this one replaces or adjusts."""

    model_config = _frozen
    kind: CorrectionKind = Field(description="TCHDon")
    invoice_type: int = Field(default=1, ge=1, le=3, description="LHDCLQuan: 1 = under Decree 123")
    template: str = Field(description="KHMSHDCLQuan")
    series: str = Field(description="KHHDCLQuan")
    number: int = Field(ge=1, le=99_999_999, description="SHDCLQuan")
    issue_date: date = Field(description="NLHDCLQuan")
    note: str | None = Field(default=None, max_length=255, description="GChu")

    @model_validator(mode="after")
    def _ids(self) -> RelatedInvoice:
        validate_template(self.template, "related.template")
        validate_series(self.series, "related.series")
        return self


class InvoiceDraft(_Text):
    """What the caller supplies; numbering, lookup code and totals come at issue time.

    ``reference`` is the caller's idempotency key (for the batch: customer and
    period): issuing a draft whose reference was already issued returns that
    invoice instead of a second one.
    """

    model_config = _frozen
    template: str = Field(default="1", description="KHMSHDon")
    series: str = Field(description="KHHDon, e.g. C26TAA")
    issue_date: date = Field(description="NLap (Vietnam local date)")
    title: str = Field(default="Hóa đơn giá trị gia tăng", max_length=100, description="THDon")
    currency: str = Field(default="VND", pattern=r"^[A-Z]{3}$", description="DVTTe")
    exchange_rate: Amount = Field(default=Decimal(1), gt=0, description="TGia")
    payment_method: str = Field(default="TM/CK", max_length=50, description="HTTToan")
    seller: Seller
    buyer: Buyer
    lines: list[InvoiceLine] = Field(min_length=1, max_length=10_000)
    related: RelatedInvoice | None = None
    reference: str | None = Field(default=None, max_length=100, description="idempotency key")
    payment: PaymentAccount | None = None
    extra: dict[str, str] = Field(default_factory=dict, description="TTChung/TTKhac")

    @model_validator(mode="after")
    def _check(self) -> InvoiceDraft:
        object.__setattr__(self, "template", validate_template(self.template))
        object.__setattr__(self, "series", validate_series_for_date(self.series, self.issue_date))
        negative_ok = self.related is not None and self.related.kind is CorrectionKind.ADJUSTMENT
        totals = compute_totals(self)
        if not negative_ok and (totals.before_tax < 0 or totals.payable < 0):
            raise ValidationError(
                "lines", "the totals are negative; only an adjustment invoice may decrease"
            )
        if abs(totals.payable) > MAX_AMOUNT:
            raise ValidationError("lines", "the total payable is beyond the limit of 10^15 dong")
        return self

    def totals(self) -> Totals:
        return compute_totals(self)


class RateTotal(BaseModel):
    """One ``THTTLTSuat/LTSuat``: the amount and tax of a VAT rate group."""

    model_config = _frozen
    rate: str
    amount: Decimal
    tax: Decimal | None  # None for KCT and KKKNT: no tax applies


class Totals(BaseModel):
    """``TToan``: per-rate totals, then the totals of the invoice."""

    model_config = _frozen
    by_rate: tuple[RateTotal, ...]
    before_tax: Decimal  # TgTCThue
    tax: Decimal  # TgTThue
    trade_discount: Decimal  # TTCKTMai
    payable: Decimal  # TgTTTBSo


_RATE_ORDER = {"0%": 0, "5%": 1, "8%": 2, "10%": 3, "KCT": 5, "KKKNT": 6}


def compute_totals(draft: InvoiceDraft) -> Totals:
    """Per-rate sums, tax per rate group (rounded once), grand totals.

    Goods add to their rate group; trade-discount lines (``TChat`` 3) subtract;
    promotions and notes carry no amount.
    """
    groups: dict[str, Decimal] = {}
    discount = ZERO
    for line in draft.lines:
        if line.kind in (LineKind.NOTE, LineKind.PROMOTION) or line.vat_rate is None:
            continue
        amount = line.line_amount()
        if line.kind is LineKind.DISCOUNT:
            discount += amount
            amount = -amount
        groups[line.vat_rate] = groups.get(line.vat_rate, ZERO) + amount
    by_rate: list[RateTotal] = []
    for rate in sorted(groups, key=lambda r: (_RATE_ORDER.get(r, 4), r)):
        pct = vat_percent(rate)
        tax = None if pct is None else round_dong(groups[rate] * pct / 100)
        by_rate.append(RateTotal(rate=rate, amount=groups[rate], tax=tax))
    before_tax = sum((g.amount for g in by_rate), ZERO)
    tax_total = sum((g.tax for g in by_rate if g.tax is not None), ZERO)
    return Totals(
        by_rate=tuple(by_rate),
        before_tax=before_tax,
        tax=tax_total,
        trade_discount=discount,
        payable=before_tax + tax_total,
    )


class Invoice(BaseModel):
    """An issued invoice: a draft with its number, lookup code and totals. Never edited."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: uuid.UUID
    draft: InvoiceDraft
    number: int = Field(ge=1, le=99_999_999)
    lookup_code: str
    issued_at: datetime
    status: InvoiceStatus = InvoiceStatus.ISSUED

    @property
    def totals(self) -> Totals:
        return compute_totals(self.draft)

    @property
    def xml_id(self) -> str:
        """The ``Id`` of ``DLHDon``: template, series and number, an XML NCName."""
        d = self.draft
        return f"HD{d.template}{d.series}{format_number(self.number)}"

    @property
    def label(self) -> str:
        """How people name it: ``1C26TAA-00000123``."""
        return f"{self.draft.template}{self.draft.series}-{format_number(self.number)}"
