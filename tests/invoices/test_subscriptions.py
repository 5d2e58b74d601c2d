"""Subscriptions billed by the day, and credit carried forward to later invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice._pydantic import parse_model
from evservice.errors import ValidationError
from evservice.invoices import (
    CreditBalance,
    InvoiceDraft,
    InvoiceLine,
    LineKind,
    SubscriptionPlan,
    apply_credit,
    bill_subscription,
    compute_totals,
)

INTERNET = SubscriptionPlan(
    code="FTTH-100", name="Internet cáp quang 100 Mbps", monthly_fee=Decimal(200_000)
)
TV = {"code": "TV-HD", "name": "Truyền hình HD", "monthly_fee": "99000", "vat_rate": "10%"}
SELLER = {"name": "Công ty Viễn thông Mẫu", "tax_code": "0100109106", "address": "Hà Nội"}
BUYER = {"person_name": "Trần Thị Bình"}


def draft(lines: list[InvoiceLine] | tuple[InvoiceLine, ...]) -> InvoiceDraft:
    return parse_model(
        InvoiceDraft,
        {
            "series": "C25TAB",
            "issue_date": "2025-06-01",
            "seller": SELLER,
            "buyer": BUYER,
            "lines": list(lines),
        },
    )


def test_whole_month_is_the_monthly_fee() -> None:
    line = bill_subscription(INTERNET, date(2025, 5, 1), date(2025, 5, 31))
    assert (line.quantity, line.unit, line.unit_price) == (1, "tháng", 200_000)
    assert line.line_amount() == Decimal(200_000)
    assert line.name == "Internet cáp quang 100 Mbps (01/05/2025 - 31/05/2025)"
    assert line.code == "FTTH-100"
    assert line.vat_rate == "10%"


@pytest.mark.parametrize(
    ("start", "end", "amount"),
    [
        # 200,000 x 20 / 31 = 129,032.26 -> 129,032
        (date(2025, 5, 12), date(2025, 5, 31), 129_032),
        # 200,000 x 1 / 31 = 6,451.61 -> 6,452
        (date(2025, 5, 31), date(2025, 5, 31), 6_452),
        # 200,000 x 14 / 28 = 100,000 (February 2025 has 28 days)
        (date(2025, 2, 15), date(2025, 2, 28), 100_000),
        # 200,000 x 14 / 29 = 96,551.72 -> 96,552 (February 2024 has 29)
        (date(2024, 2, 16), date(2024, 2, 29), 96_552),
        # 200,000 x 10 / 30 = 66,666.67 -> 66,667
        (date(2025, 6, 1), date(2025, 6, 10), 66_667),
    ],
)
def test_part_month_by_the_day(start: date, end: date, amount: int) -> None:
    line = bill_subscription(INTERNET, start, end)
    days = (end - start).days + 1
    assert line.unit == "ngày"
    assert line.quantity == days
    assert line.line_amount() == Decimal(amount)
    assert f"{days}/" in line.name


def test_half_dong_rounds_up() -> None:
    # 99,001 x 15 / 30 = 49,500.5 -> 49,501 (half away from zero, money.round_dong)
    plan = {**TV, "monthly_fee": "99001"}
    assert bill_subscription(plan, date(2025, 6, 1), date(2025, 6, 15)).line_amount() == 49_501


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2025, 5, 20), date(2025, 5, 19), "period_end"),
        (date(2025, 5, 20), date(2025, 6, 19), "period_end"),
        ("2025-05-01", date(2025, 5, 2), "period_start"),
    ],
)
def test_bad_periods_name_the_field(start: Any, end: date, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        bill_subscription(INTERNET, start, end)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({**TV, "monthly_fee": "-1"}, "plan.monthly_fee"),
        ({**TV, "monthly_fee": 99000.0}, "plan.monthly_fee"),
        ({**TV, "monthly_fee": "1.23456"}, "plan.monthly_fee"),
        ({**TV, "vat_rate": "7%"}, "plan.vat_rate"),
        ({**TV, "name": ""}, "plan.name"),
    ],
)
def test_bad_plans_name_the_field(plan: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        bill_subscription(plan, date(2025, 6, 1), date(2025, 6, 30))
    assert info.value.field == field


def test_credit_reduces_invoices_until_used_up() -> None:
    credit = CreditBalance(amount=Decimal(250_000), reference="KH0001")
    # May: 20 days of 31: 129,032 before tax; the credit covers it all.
    may = apply_credit(
        [bill_subscription(INTERNET, date(2025, 5, 12), date(2025, 5, 31))], credit, vat_rate="10%"
    )
    assert may.used == Decimal(129_032)
    assert may.remaining == CreditBalance(amount=Decimal(120_968), reference="KH0001")
    discount = may.lines[-1]
    assert discount.kind is LineKind.DISCOUNT
    assert discount.line_amount() == Decimal(129_032)
    assert discount.vat_rate == "10%"
    totals = compute_totals(draft(may.lines))
    assert (totals.before_tax, totals.tax, totals.payable) == (0, 0, 0)
    assert totals.trade_discount == Decimal(129_032)
    # June: a whole month of 200,000; the remaining 120,968 is used up.
    # Before tax 79,032; VAT 10% = 7,903.2 -> 7,903; payable 86,935.
    june = apply_credit(
        [bill_subscription(INTERNET, date(2025, 6, 1), date(2025, 6, 30))],
        may.remaining,
        vat_rate="10%",
    )
    assert june.used == Decimal(120_968)
    assert june.remaining.amount == 0
    totals = compute_totals(draft(june.lines))
    assert (totals.before_tax, totals.tax, totals.payable) == (79_032, 7_903, 86_935)
    # July: nothing left, no discount line.
    july = apply_credit(
        [bill_subscription(INTERNET, date(2025, 7, 1), date(2025, 7, 31))],
        june.remaining,
        vat_rate="10%",
    )
    assert july.used == 0
    assert len(july.lines) == 1
    assert july.remaining.amount == 0


def test_credit_only_touches_its_rate_group() -> None:
    electricity = InvoiceLine(
        name="Điện", quantity=Decimal(10), unit_price=Decimal(2000), vat_rate="8%"
    )
    internet = bill_subscription(INTERNET, date(2025, 6, 1), date(2025, 6, 10))  # 66,667 at 10%
    applied = apply_credit([electricity, internet], {"amount": 100_000}, vat_rate="10%")
    assert applied.used == Decimal(66_667)
    assert applied.remaining.amount == Decimal(33_333)
    totals = compute_totals(draft(applied.lines))
    by_rate = {group.rate: group for group in totals.by_rate}
    assert by_rate["10%"].amount == 0
    assert by_rate["8%"].amount == Decimal(20_000)


def test_existing_discounts_lower_the_cap() -> None:
    internet = bill_subscription(INTERNET, date(2025, 6, 1), date(2025, 6, 30))
    promo = InvoiceLine(
        kind=LineKind.DISCOUNT, name="Khuyến mãi", amount=Decimal(50_000), vat_rate="10%"
    )
    applied = apply_credit(
        [internet, promo], CreditBalance(amount=Decimal(1_000_000)), vat_rate="10%"
    )
    assert applied.used == Decimal(150_000)
    assert compute_totals(draft(applied.lines)).payable == 0


@pytest.mark.parametrize(
    ("credit", "field"),
    [
        ({"amount": "-1"}, "credit.amount"),
        ({"amount": "10.5"}, "credit.amount"),
        ({"amount": 10.0}, "credit.amount"),
        ({}, "credit.amount"),
    ],
)
def test_bad_credit_names_the_field(credit: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        apply_credit([], credit, vat_rate="10%")
    assert info.value.field == field


def test_bad_rate_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        apply_credit([], CreditBalance(amount=Decimal(1)), vat_rate="9%")
    assert info.value.field == "vat_rate"


fees = st.integers(0, 50_000_000).map(Decimal)


@given(
    fees,
    st.integers(1, 12),
    st.data(),
    st.integers(0, 100_000_000),
    st.sampled_from(["10%", "8%", "5%", "0%", "KCT"]),
)
def test_credit_is_conserved_and_invoices_never_negative(
    fee: Decimal, month: int, data: st.DataObject, credit: int, rate: str
) -> None:
    plan = SubscriptionPlan(code="P", name="Gói", monthly_fee=fee, vat_rate=rate)
    first = data.draw(st.integers(1, 28))
    last = data.draw(st.integers(first, 28))
    line = bill_subscription(plan, date(2025, month, first), date(2025, month, last))
    assert 0 <= line.line_amount() <= fee
    applied = apply_credit([line], CreditBalance(amount=Decimal(credit)), vat_rate=rate)
    assert applied.used + applied.remaining.amount == credit
    assert applied.used >= 0
    assert applied.remaining.amount >= 0
    assert applied.used == min(credit, line.line_amount())
    totals = compute_totals(draft(applied.lines))
    assert totals.before_tax >= 0
    assert totals.tax >= 0
    assert totals.payable >= 0


@given(fees, st.integers(2024, 2026), st.integers(1, 12))
def test_days_of_a_month_add_up_to_about_the_fee(fee: Decimal, year: int, month: int) -> None:
    # Billing each day of a month separately differs from the fee only by rounding.
    import calendar

    plan = SubscriptionPlan(code="P", name="Gói", monthly_fee=fee)
    days = calendar.monthrange(year, month)[1]
    total = sum(
        bill_subscription(plan, date(year, month, d), date(year, month, d)).line_amount()
        for d in range(1, days + 1)
    )
    assert abs(total - fee) <= Decimal(days) / 2
