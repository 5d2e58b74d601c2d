"""Flat monthly plans (internet, TV) billed by the day, and credit carried forward.

Pure functions: the batch persists credit balances; nothing here touches the store.

* :func:`bill_subscription` bills one plan for a stretch of one calendar month:
  the full fee for the whole month, else ``round_dong(fee x days_used /
  days_in_month)`` (one rounding, :func:`evservice.money.round_dong`). Bill each
  month of a longer stretch separately.
* :func:`apply_credit` spends a :class:`CreditBalance` on an invoice's lines as a
  trade-discount line (``TChat`` 3) in one VAT rate group (the plan's rate),
  capped at what that group amounts to before tax, so the invoice is never
  negative; the rest of the credit is returned for later invoices. A credit is
  an amount before VAT: spending it lowers the group's VAT as well.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from evservice._pydantic import parse_model
from evservice.errors import ValidationError
from evservice.invoices._model import InvoiceLine, LineKind
from evservice.money import (
    MAX_AMOUNT,
    ZERO,
    Amount,
    VatRate,
    format_vnd,
    parse_vat_rate,
    round_dong,
)

__all__ = [
    "CreditApplication",
    "CreditBalance",
    "SubscriptionPlan",
    "apply_credit",
    "bill_subscription",
]

#: A daily rate (``DGia`` of a part month) keeps the 4 decimals a unit price may have.
_DAILY_RATE_PLACES = Decimal("0.0001")

_frozen = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _unit_price(value: Decimal) -> Decimal:
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError("has more than 4 decimals")
    return value


class SubscriptionPlan(BaseModel):
    """A flat monthly plan: ``monthly_fee`` before VAT at ``vat_rate``.

    Telecommunications are excluded from Vietnam's VAT reductions, hence 10% by default.
    """

    model_config = _frozen
    code: str = Field(min_length=1, max_length=50, description="MHHDVu")
    name: str = Field(min_length=1, max_length=400, description="THHDVu")
    monthly_fee: Annotated[Amount, AfterValidator(_unit_price)] = Field(ge=0, lt=MAX_AMOUNT)
    vat_rate: VatRate = "10%"


def _whole_dong(value: Decimal) -> Decimal:
    if value != value.to_integral_value():
        raise ValueError("must be a whole number of dong")
    return value


class CreditBalance(BaseModel):
    """Credit carried forward (before VAT, whole dong), spent on later invoices until used up."""

    model_config = _frozen
    amount: Annotated[Amount, AfterValidator(_whole_dong)] = Field(ge=0, lt=MAX_AMOUNT)
    reference: str | None = Field(default=None, max_length=100, description="customer or account")

    @field_validator("amount")
    @classmethod
    def _plain(cls, value: Decimal) -> Decimal:
        return value.quantize(Decimal(1))


class CreditApplication(BaseModel):
    """The invoice lines with the credit line added (if any), what was used and what is left."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lines: tuple[InvoiceLine, ...]
    used: Decimal
    remaining: CreditBalance


def _days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def bill_subscription(
    plan: SubscriptionPlan | Mapping[str, Any], period_start: date, period_end: date
) -> InvoiceLine:
    """One invoice line for ``plan`` from ``period_start`` to ``period_end`` (inclusive).

    Both dates must lie in the same calendar month. A whole month is ``1 tháng``
    at the monthly fee; part of a month is ``days ngày`` with the amount
    ``round_dong(fee x days / days_in_month)``, stated as the line's ``ThTien``. Its
    unit price (``DGia``) is the daily rate ``fee / days_in_month`` to 4 decimals,
    for reading; the amount is the formula rounded once, which the line's name
    spells out (``165.000 đ/tháng × 8/30 ngày``), not the daily rate times the days
    (that could differ by a dong).
    """
    plan = parse_model(SubscriptionPlan, plan, prefix="plan")
    if not isinstance(period_start, date) or not isinstance(period_end, date):
        raise ValidationError("period_start", "period_start and period_end must be dates")
    if period_end < period_start:
        raise ValidationError("period_end", "is before period_start")
    if (period_end.year, period_end.month) != (period_start.year, period_start.month):
        raise ValidationError(
            "period_end", "must be in the month of period_start; bill each month separately"
        )
    month_days = _days_in_month(period_start)
    days = (period_end - period_start).days + 1
    dates = f"{period_start:%d/%m/%Y} - {period_end:%d/%m/%Y}"
    if days == month_days:
        return InvoiceLine(
            name=f"{plan.name} ({dates})",
            code=plan.code,
            unit="tháng",
            quantity=Decimal(1),
            unit_price=plan.monthly_fee,
            vat_rate=plan.vat_rate,
        )
    formula = f"{format_vnd(plan.monthly_fee)} đ/tháng × {days}/{month_days} ngày"
    return InvoiceLine(
        name=f"{plan.name}: {formula} ({dates})",
        code=plan.code,
        unit="ngày",
        quantity=Decimal(days),
        unit_price=(plan.monthly_fee / month_days).quantize(_DAILY_RATE_PLACES),
        amount=round_dong(plan.monthly_fee * days / month_days),
        vat_rate=plan.vat_rate,
    )


def _group_amount(lines: Iterable[InvoiceLine], rate: str) -> Decimal:
    """Before-tax amount of one VAT rate group, as :func:`compute_totals` sums it."""
    total = ZERO
    for line in lines:
        if line.vat_rate != rate or line.kind in (LineKind.NOTE, LineKind.PROMOTION):
            continue
        amount = line.line_amount()
        total += -amount if line.kind is LineKind.DISCOUNT else amount
    return total


def apply_credit(
    lines: Iterable[InvoiceLine],
    credit: CreditBalance | Mapping[str, Any],
    *,
    vat_rate: str,
    name: str = "Chiết khấu: trừ số dư chuyển từ kỳ trước",
) -> CreditApplication:
    """Spend ``credit`` on ``lines`` as a trade-discount line in the ``vat_rate`` group.

    The discount is ``min(credit, amount of the group before tax)``; the group,
    and so the invoice, never goes below zero. ``used + remaining == credit``.
    """
    credit = parse_model(CreditBalance, credit, prefix="credit")
    rate = parse_vat_rate(vat_rate)
    lines = tuple(lines)
    available = max(_group_amount(lines, rate), ZERO)
    used = min(credit.amount, available)
    remaining = CreditBalance(amount=credit.amount - used, reference=credit.reference)
    if used:
        discount = InvoiceLine(kind=LineKind.DISCOUNT, name=name, amount=used, vat_rate=rate)
        lines = (*lines, discount)
    return CreditApplication(lines=lines, used=used, remaining=remaining)
