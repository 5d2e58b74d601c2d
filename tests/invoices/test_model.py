"""The invoice model: VAT rates, line amounts, totals per rate group, errors naming fields."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice._pydantic import parse_model
from evservice.errors import ValidationError
from evservice.invoices import (
    CorrectionKind,
    Invoice,
    InvoiceDraft,
    InvoiceLine,
    LineKind,
    compute_totals,
)
from evservice.money import parse_vat_rate, round_dong, vat_percent

SELLER = {"name": "Tổng công ty Điện lực miền Bắc", "tax_code": "0100100417", "address": "Hà Nội"}
BUYER = {"person_name": "Lê Văn Cường"}


def line(amount: Any = None, rate: str = "10%", **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "Dịch vụ", "vat_rate": rate, **kwargs}
    if amount is not None:
        data["amount"] = amount
    return data


def make(lines: list[dict[str, Any]], **kwargs: Any) -> InvoiceDraft:
    data = {
        "series": "C25TAA",
        "issue_date": "2025-06-30",
        "seller": SELLER,
        "buyer": BUYER,
        "lines": lines,
        **kwargs,
    }
    return parse_model(InvoiceDraft, data)


def problem(data: dict[str, Any], cls: type[Any] = InvoiceDraft) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_model(cls, data)
    return info.value


# -- VAT rates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate", "percent"),
    [
        ("0%", "0%", Decimal(0)),
        ("5%", "5%", Decimal(5)),
        ("8%", "8%", Decimal(8)),
        (" 10% ", "10%", Decimal(10)),
        ("kct", "KCT", None),
        ("KKKNT", "KKKNT", None),
        ("KHAC:5.26%", "KHAC:5.26%", Decimal("5.26")),
        ("khac:3%", "KHAC:3%", Decimal(3)),
    ],
)
def test_vat_rates(text: str, rate: str, percent: Decimal | None) -> None:
    assert parse_vat_rate(text) == rate
    assert vat_percent(rate) == percent


@pytest.mark.parametrize("bad", ["7%", "10", "", "KHAC", "KHAC:5.266%", "KHAC:100%", "8 %", "-8%"])
def test_unknown_vat_rates(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_vat_rate(bad, "lines.3.vat_rate")
    assert info.value.field == "lines.3.vat_rate"


def test_kct_is_not_zero_percent() -> None:
    totals = make([line("1000", "KCT"), line("1000", "0%")]).totals()
    assert [(g.rate, g.amount, g.tax) for g in totals.by_rate] == [
        ("0%", 1000, 0),
        ("KCT", 1000, None),
    ]
    assert totals.tax == 0
    assert totals.payable == 2000


# -- line amounts ----------------------------------------------------------------


def test_line_amount_is_rounded_product_less_discount() -> None:
    plain = InvoiceLine(name="x", quantity=Decimal("1.5"), unit_price=Decimal(3), vat_rate="8%")
    assert plain.line_amount() == Decimal(5)  # 4.5 -> 5, half away from zero
    rated = InvoiceLine(
        name="x",
        quantity=Decimal(3),
        unit_price=Decimal("33333.3333"),
        discount_rate=Decimal(10),
        vat_rate="8%",
    )
    # gross round(99,999.9999) = 100,000; discount 10% = 10,000
    assert rated.line_discount(Decimal(100_000)) == Decimal(10_000)
    assert rated.line_amount() == Decimal(90_000)
    fixed = InvoiceLine(
        name="x",
        quantity=Decimal(2),
        unit_price=Decimal(500),
        discount_amount=Decimal(150),
        vat_rate="8%",
    )
    assert fixed.line_amount() == Decimal(850)
    given_amount = InvoiceLine(name="x", amount=Decimal("1234.5"), vat_rate="8%")
    assert given_amount.line_amount() == Decimal(1235)
    note = InvoiceLine(kind=LineKind.NOTE, name="Ghi chú")
    assert note.line_amount() == 0


# -- totals ------------------------------------------------------------------------


def test_tax_is_per_rate_group_not_per_line() -> None:
    # three lines of 333 at 10%: per line 33.3 -> 33 (99 in all); per group 999 x 10% = 99.9 -> 100
    totals = make([line("333"), line("333"), line("333")]).totals()
    assert totals.by_rate[0].tax == Decimal(100)
    assert totals.payable == Decimal(1099)


def test_mixed_rates_discounts_promotions_and_notes() -> None:
    draft = make(
        [
            line("100000", "10%"),
            line("50000", "8%"),
            line("20000", "5%"),
            line("7000", "0%"),
            line("3000", "KCT"),
            line("1000", "KKKNT"),
            line("2000", "KHAC:5.26%"),
            line("10000", "10%", kind=3, name="Chiết khấu thương mại"),
            line("99999", "10%", kind=2, name="Hàng khuyến mại"),
            {"kind": 4, "name": "Kỳ hóa đơn tháng 6/2025"},
        ]
    )
    totals = compute_totals(draft)
    assert [(g.rate, g.amount, g.tax) for g in totals.by_rate] == [
        ("0%", 7000, 0),
        ("5%", 20000, 1000),
        ("8%", 50000, 4000),
        ("10%", 90000, 9000),
        ("KHAC:5.26%", 2000, 105),  # 105.2 -> 105
        ("KCT", 3000, None),
        ("KKKNT", 1000, None),
    ]
    assert totals.before_tax == Decimal(173_000)
    assert totals.tax == Decimal(14_105)
    assert totals.trade_discount == Decimal(10_000)
    assert totals.payable == Decimal(187_105)
    assert draft.totals() == totals


def test_adjustment_may_decrease_but_an_invoice_may_not() -> None:
    decrease = [line("-50000", "8%")]
    error = problem(
        {
            "series": "C25TAA",
            "issue_date": "2025-06-30",
            "seller": SELLER,
            "buyer": BUYER,
            "lines": decrease,
        }
    )
    assert "negative" in error.reason
    related = {
        "kind": 2,
        "template": "1",
        "series": "C25TAA",
        "number": 12,
        "issue_date": "2025-05-31",
    }
    adjustment = make(decrease, related=related)
    assert adjustment.related is not None
    assert adjustment.related.kind is CorrectionKind.ADJUSTMENT
    assert adjustment.totals().payable == Decimal(-54_000)


def test_payable_beyond_the_words_limit_is_refused() -> None:
    error = problem(
        {
            "series": "C25TAA",
            "issue_date": "2025-06-30",
            "seller": SELLER,
            "buyer": BUYER,
            "lines": [line("999999999999999", "10%")],
        }
    )
    assert "10^15" in error.reason


amounts = st.integers(-(10**9), 10**10).map(Decimal)
rates = st.sampled_from(["0%", "5%", "8%", "10%", "KCT", "KKKNT", "KHAC:5.26%"])


@given(
    st.lists(st.tuples(amounts, rates, st.sampled_from([1, 1, 1, 2, 3])), min_size=1, max_size=12)
)
def test_totals_add_up(rows: list[tuple[Decimal, str, int]]) -> None:
    lines = [InvoiceLine(kind=LineKind(k), name="x", amount=a, vat_rate=r) for a, r, k in rows]
    draft = InvoiceDraft.model_construct(lines=lines)  # totals only: no draft-level checks
    totals = compute_totals(draft)
    groups: dict[str, Decimal] = {}
    for amount, rate, kind in rows:
        if kind == 2:
            continue
        groups[rate] = groups.get(rate, Decimal(0)) + (-amount if kind == 3 else amount)
    assert {g.rate: g.amount for g in totals.by_rate} == groups
    for group in totals.by_rate:
        pct = vat_percent(group.rate)
        assert group.tax == (None if pct is None else round_dong(group.amount * pct / 100))
    assert totals.before_tax == sum(groups.values(), Decimal(0))
    assert totals.tax == sum((g.tax for g in totals.by_rate if g.tax is not None), Decimal(0))
    assert totals.payable == totals.before_tax + totals.tax
    assert totals.trade_discount == sum((a for a, _, k in rows if k == 3), Decimal(0))


# -- errors name their field -------------------------------------------------------


def _draft(**changes: Any) -> dict[str, Any]:
    return {
        "series": "C25TAA",
        "issue_date": "2025-06-30",
        "seller": SELLER,
        "buyer": BUYER,
        "lines": [line("1000")],
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"series": "C24TAA"}, "series", "issue year"),
        ({"series": "X25TAA"}, "series", "C or K"),
        ({"series": "C25T"}, "series", "6 characters"),
        ({"template": "7"}, "template", "one digit"),
        ({"lines": []}, "lines", "at least 1"),
        ({"lines": [line("1000", "7%")]}, "lines.0.vat_rate", "unknown VAT rate"),
        ({"lines": [line(1000.5)]}, "lines.0.amount", "not floats"),
        ({"lines": [{"name": "x", "amount": "1"}]}, "lines.0.vat_rate", "is required"),
        ({"lines": [{"name": "x", "vat_rate": "8%"}]}, "lines.0.amount", "give amount"),
        (
            {"lines": [line(quantity="1", unit_price="1.00001")]},
            "lines.0.unit_price",
            "more than 4 decimals",
        ),
        ({"lines": [line("1000", discount_rate="101")]}, "lines.0.discount_rate", "100"),
        ({"lines": [line("1000", name="")]}, "lines.0.name", "at least 1"),
        ({"seller": {**SELLER, "tax_code": "0100100418"}}, "seller.tax_code", "MST"),
        ({"seller": {**SELLER, "tax_code": None}}, "seller.tax_code", "tax code"),
        ({"seller": {**SELLER, "address": ""}}, "seller.address", "at least 1"),
        ({"buyer": {}}, "buyer.person_name", "person_name"),
        ({"buyer": {"tax_code": "0100100417", "person_name": "A"}}, "buyer.name", "company name"),
        ({"currency": "vnd"}, "currency", "pattern"),
        ({"exchange_rate": "0"}, "exchange_rate", "greater than 0"),
        ({"issue_date": "2025-02-30"}, "issue_date", "date"),
        ({"payment": {"bank_bin": "97043", "account": "1"}}, "payment.bank_bin", "pattern"),
        ({"surprise": 1}, "surprise", "not permitted"),
        (
            {
                "related": {
                    "kind": 2,
                    "template": "1",
                    "series": "C25TAA",
                    "number": 0,
                    "issue_date": "2025-05-01",
                }
            },
            "related.number",
            "greater than or equal to 1",
        ),
        (
            {
                "related": {
                    "kind": 3,
                    "template": "1",
                    "series": "C25TAA",
                    "number": 1,
                    "issue_date": "2025-05-01",
                }
            },
            "related.kind",
            "1 or 2",
        ),
    ],
)
def test_errors_name_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    error = problem(_draft(**changes))
    assert error.field == field
    assert words.lower() in error.reason.lower()


def test_every_problem_is_reported() -> None:
    error = problem(_draft(series="C24TAA", lines=[line("1", "7%")], buyer={}))
    fields = {f for f, _ in error.problems}
    assert {"lines.0.vat_rate", "buyer.person_name"} <= fields
    assert "more problem" in str(error)


def test_raw_values_stay_out_of_messages() -> None:
    error = problem(_draft(seller={**SELLER, "phone": "0912345678" * 3}))
    assert error.field == "seller.phone"
    assert "0912345678" not in str(error)


# -- issued invoices ---------------------------------------------------------------


def test_invoice_identifiers() -> None:
    invoice = Invoice(
        id=uuid.uuid4(),
        draft=make([line("1000")]),
        number=123,
        lookup_code="ABC123",
        issued_at=datetime(2025, 6, 30, 3, 0, tzinfo=UTC),
    )
    assert invoice.xml_id == "HD1C25TAA00000123"
    assert invoice.label == "1C25TAA-00000123"
    assert invoice.totals.payable == Decimal(1100)
    assert invoice.draft.issue_date == date(2025, 6, 30)
