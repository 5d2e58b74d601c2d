"""Pricing meter readings by tier, with hand-worked bills and properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evservice._pydantic import parse_model
from evservice.errors import ValidationError
from evservice.invoices import (
    InvoiceDraft,
    InvoiceLine,
    LineKind,
    MeterReading,
    TariffBook,
    compute_totals,
    load_tariffs,
    price_meter_reading,
    price_reading,
)
from evservice.invoices._tariffs import Tariff, VatSchedule
from evservice.vn import amount_in_words

SELLER = {"name": "Tổng công ty Điện lực TP Hà Nội", "tax_code": "0100101114", "address": "Hà Nội"}
BUYER = {"person_name": "Nguyễn Văn An", "customer_code": "PD01000123456"}


def reading(start: str, end: str, kwh: int | str, households: int = 1) -> dict[str, Any]:
    return {
        "meter_id": "PD0100001",
        "period_start": start,
        "period_end": end,
        "kwh": kwh,
        "households": households,
    }


def draft(lines: list[InvoiceLine], issue_date: date = date(2025, 6, 30)) -> InvoiceDraft:
    return parse_model(
        InvoiceDraft,
        {
            "series": f"C{issue_date.year % 100}TAA",
            "issue_date": issue_date,
            "seller": SELLER,
            "buyer": BUYER,
            "lines": lines,
        },
    )


def test_150_kwh_one_household() -> None:
    # 50 x 1,984 + 50 x 2,050 + 50 x 2,380 = 99,200 + 102,500 + 119,000 = 320,700;
    # VAT 8% = 25,656; payable 346,356.
    lines = price_meter_reading(reading("2025-06-01", "2025-06-30", 150))
    assert [(line.name, line.quantity, line.unit_price) for line in lines] == [
        ("Bậc 1: 0 - 50 kWh", 50, 1984),
        ("Bậc 2: 51 - 100 kWh", 50, 2050),
        ("Bậc 3: 101 - 200 kWh", 50, 2380),
    ]
    assert all(line.vat_rate == "8%" and line.unit == "kWh" for line in lines)
    assert [line.code for line in lines] == ["EVN-SH-B1", "EVN-SH-B2", "EVN-SH-B3"]
    totals = compute_totals(draft(lines))
    assert totals.before_tax == Decimal(320_700)
    assert totals.tax == Decimal(25_656)
    assert totals.payable == Decimal(346_356)
    assert amount_in_words(totals.payable) == (
        "Ba trăm bốn mươi sáu nghìn ba trăm năm mươi sáu đồng"
    )


def test_price_change_inside_the_period() -> None:
    # Period 25/04/2025 - 25/05/2025: T = 31 days; prices change on 10/05/2025.
    # N_old = 15 (25/04 - 09/05), N_new = 16 (10/05 - 25/05). S = 300 kWh.
    # kWh at old prices = round(300 / 31 x 15) = round(145.16) = 145; new = 155.
    # Old tier widths: 50 x 15/31 = 24.19 -> 24; 100 x 15/31 = 48.39 -> 48.
    #   145 = 24 + 24 + 48 + 48 + 1 at 1,893 / 1,956 / 2,271 / 2,860 / 3,197:
    #   45,432 + 46,944 + 109,008 + 137,280 + 3,197 = 341,861
    # New tier widths: 50 x 16/31 = 25.81 -> 26; 100 x 16/31 = 51.61 -> 52.
    #   155 = 26 + 26 + 52 + 51 at 1,984 / 2,050 / 2,380 / 2,998:
    #   51,584 + 53,300 + 123,760 + 152,898 = 381,542
    # Before tax 723,403; VAT 8% = 57,872.24 -> 57,872; payable 781,275.
    priced = price_reading(reading("2025-04-25", "2025-05-25", 300))
    old, new = priced.segments
    assert (old.start, old.end, old.days, old.kwh) == (date(2025, 4, 25), date(2025, 5, 9), 15, 145)
    assert (new.start, new.end, new.days, new.kwh) == (
        date(2025, 5, 10),
        date(2025, 5, 25),
        16,
        155,
    )
    assert [(c.kwh, c.unit_price, c.amount) for c in old.tiers] == [
        (24, 1893, 45_432),
        (24, 1956, 46_944),
        (48, 2271, 109_008),
        (48, 2860, 137_280),
        (1, 3197, 3_197),
    ]
    assert [(c.kwh, c.unit_price, c.amount) for c in new.tiers] == [
        (26, 1984, 51_584),
        (26, 2050, 53_300),
        (52, 2380, 123_760),
        (51, 2998, 152_898),
    ]
    names = [line.name for line in priced.lines]
    assert names[0] == "Bậc 1: 0 - 24 kWh (25/04/2025 - 09/05/2025)"
    assert names[4] == "Bậc 5: 145 - 192 kWh (25/04/2025 - 09/05/2025)"
    assert names[5] == "Bậc 1: 0 - 26 kWh (10/05/2025 - 25/05/2025)"
    assert names[-1] == "Bậc 4: 105 - 156 kWh (10/05/2025 - 25/05/2025)"
    totals = compute_totals(draft(list(priced.lines)))
    assert totals.before_tax == priced.amount == Decimal(723_403)
    assert totals.tax == Decimal(57_872)
    assert totals.payable == Decimal(781_275)
    assert priced.kwh_by_tier() == {1: 50, 2: 50, 3: 100, 4: 99, 5: 1}


def test_two_households_double_the_limits() -> None:
    # Limits 100 / 200 / 400 / 600 / 800: 150 kWh = 100 x 1,984 + 50 x 2,050 = 300,900.
    priced = price_reading(reading("2025-06-01", "2025-06-30", 150, households=2))
    assert [line.name for line in priced.lines] == ["Bậc 1: 0 - 100 kWh", "Bậc 2: 101 - 200 kWh"]
    assert priced.amount == Decimal(300_900)
    # 1,000 kWh with two households: 100 x 1,984 + 100 x 2,050 + 200 x 2,380 + 200 x 2,998
    # + 200 x 3,350 + 200 x 3,460 = 198,400 + 205,000 + 476,000 + 599,600 + 670,000
    # + 692,000 = 2,841,000.
    priced = price_reading(reading("2025-06-01", "2025-06-30", 1000, households=2))
    assert priced.amount == Decimal(2_841_000)
    assert priced.lines[-1].name == "Bậc 6: từ 801 kWh trở lên"


def test_1000_kwh_reaches_tier_6() -> None:
    # 50 x 1,984 + 50 x 2,050 + 100 x 2,380 + 100 x 2,998 + 100 x 3,350 + 600 x 3,460
    # = 99,200 + 102,500 + 238,000 + 299,800 + 335,000 + 2,076,000 = 3,150,500;
    # VAT 8% = 252,040; payable 3,402,540.
    lines = price_meter_reading(reading("2025-06-01", "2025-06-30", 1000))
    assert [line.quantity for line in lines] == [50, 50, 100, 100, 100, 600]
    assert lines[-1].name == "Bậc 6: từ 401 kWh trở lên"
    totals = compute_totals(draft(lines))
    assert (totals.before_tax, totals.tax, totals.payable) == (3_150_500, 252_040, 3_402_540)


def test_zero_kwh_gives_one_zero_line_and_a_valid_invoice() -> None:
    lines = price_meter_reading(reading("2025-06-01", "2025-06-30", 0))
    assert len(lines) == 1
    assert lines[0].name == "Bậc 1: 0 - 50 kWh"
    assert lines[0].quantity == 0
    assert lines[0].line_amount() == 0
    totals = compute_totals(draft(lines))
    assert (totals.before_tax, totals.tax, totals.payable) == (0, 0, 0)
    # over a split period, the zero line carries the prices in force at the end
    split = price_reading(reading("2025-04-25", "2025-05-25", 0))
    assert len(split.lines) == 1
    assert split.lines[0].unit_price == 1984
    assert split.lines[0].name.endswith("(10/05/2025 - 25/05/2025)")


def test_vat_follows_the_period_end() -> None:
    assert price_reading(reading("2026-12-01", "2026-12-31", 10)).vat_rate == "8%"
    priced = price_reading(reading("2026-12-15", "2027-01-14", 10))
    assert priced.vat_rate == "10%"
    assert {line.vat_rate for line in priced.lines} == {"10%"}


def test_reading_as_model_or_mapping() -> None:
    model = MeterReading(
        meter_id="PD0100001",
        period_start=date(2025, 6, 1),
        period_end=date(2025, 6, 30),
        kwh=Decimal(150),
    )
    assert model.days == 30
    assert price_meter_reading(model) == price_meter_reading(
        reading("2025-06-01", "2025-06-30", 150)
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kwh": -1}, "kwh"),
        ({"kwh": "12.5"}, "kwh"),
        ({"kwh": 12.0}, "kwh"),
        ({"kwh": "abc"}, "kwh"),
        ({"kwh": 10**9 + 1}, "kwh"),
        ({"period_end": "2025-05-31"}, "period_end"),
        ({"households": 0}, "households"),
        ({"meter_id": ""}, "meter_id"),
        ({"period_start": "2023-11-01", "period_end": "2023-11-30"}, "period_start"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_readings_name_the_field(changes: dict[str, Any], field: str) -> None:
    data = {**reading("2025-06-01", "2025-06-30", 100), **changes}
    with pytest.raises(ValidationError) as info:
        price_meter_reading(data)
    assert info.value.field == field


def test_unknown_tariff_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        price_meter_reading(reading("2025-06-01", "2025-06-30", 1), tariff_code="EVN-XX")
    assert info.value.field == "tariff_code"


# -- several changes inside one period, on a small test tariff ------------------------


def small_book(schedules: list[tuple[date, list[tuple[int | None, int]]]]) -> TariffBook:
    tariff = Tariff.model_validate(
        {
            "code": "TEST",
            "name": "test",
            "vat": "flat",
            "schedules": [
                {
                    "effective_from": day,
                    "tiers": [{"upto": upto, "price": str(price)} for upto, price in tiers],
                }
                for day, tiers in schedules
            ],
        }
    )
    vat = VatSchedule.model_validate({"periods": [{"from": "2000-01-01", "rate": "10%"}]})
    return TariffBook(tariffs={"TEST": tariff}, vat={"flat": vat})


def test_two_changes_inside_one_period() -> None:
    # Schedules from 01/01, 11/01 and 21/01/2025, tiers "up to 10 kWh" and "the rest".
    # Period 01/01 - 30/01 (T = 30; N = 10, 10, 10), S = 31 kWh, one household.
    # Part 1: round(31 x 10 / 30) = round(10.33) = 10; 21 kWh left over 20 days.
    # Part 2: round(21 x 10 / 20) = round(10.5) = 11 (half up); part 3: the last 10.
    # Widths: round(10 x 10 / 30) = round(3.33) = 3 in every part.
    # Part 1: 3 x 100 + 7 x 200 = 1,700; part 2: 3 x 110 + 8 x 220 = 2,090;
    # part 3: 3 x 120 + 7 x 240 = 2,040. Total 5,830.
    book = small_book(
        [
            (date(2025, 1, 1), [(10, 100), (None, 200)]),
            (date(2025, 1, 11), [(10, 110), (None, 220)]),
            (date(2025, 1, 21), [(10, 120), (None, 240)]),
        ]
    )
    priced = price_reading(
        reading("2025-01-01", "2025-01-30", 31), tariff_code="TEST", tariffs=book
    )
    assert [s.kwh for s in priced.segments] == [10, 11, 10]
    assert [[c.kwh for c in s.tiers] for s in priced.segments] == [[3, 7], [3, 8], [3, 7]]
    assert priced.amount == Decimal(5_830)
    assert priced.lines[2].name == "Bậc 1: 0 - 3 kWh (11/01/2025 - 20/01/2025)"
    assert {line.vat_rate for line in priced.lines} == {"10%"}


def test_a_part_without_kwh_is_left_out() -> None:
    # One day at the old price out of 30 and 10 kWh: round(10 / 30) = 0 kWh old.
    book = small_book(
        [(date(2025, 1, 1), [(10, 100), (None, 200)]), (date(2025, 1, 2), [(10, 1), (None, 2)])]
    )
    priced = price_reading(
        reading("2025-01-01", "2025-01-30", 10), tariff_code="TEST", tariffs=book
    )
    assert len(priced.segments) == 1
    assert priced.segments[0].start == date(2025, 1, 2)
    # widths: round(10 x 29 / 30) = 10
    assert priced.amount == Decimal(10)


# -- properties ----------------------------------------------------------------------

BOOK = load_tariffs()
FIRST_DAY = date(2023, 11, 9)


@st.composite
def readings(draw: st.DrawFn) -> dict[str, Any]:
    start = FIRST_DAY + timedelta(days=draw(st.integers(0, 1600)))
    days = draw(st.integers(1, 95))
    return reading(
        start.isoformat(),
        (start + timedelta(days=days - 1)).isoformat(),
        draw(st.integers(0, 5000)),
        draw(st.integers(1, 4)),
    )


@given(readings())
def test_tier_quantities_add_up_to_the_reading(data: dict[str, Any]) -> None:
    priced = price_reading(data, tariffs=BOOK)
    assert sum(line.quantity or 0 for line in priced.lines) == data["kwh"]
    assert sum(s.kwh for s in priced.segments) == data["kwh"]
    assert sum(priced.kwh_by_tier().values()) == data["kwh"]
    assert all(line.kind is LineKind.GOODS for line in priced.lines)


@given(readings())
def test_price_is_monotone_and_bounded_below(data: dict[str, Any]) -> None:
    priced = price_reading(data, tariffs=BOOK)
    more = price_reading({**data, "kwh": data["kwh"] + 1}, tariffs=BOOK)
    assert more.amount > priced.amount
    lowest = min(t.price for s in BOOK.tariff("EVN-SH").schedules for t in s.tiers)
    highest = max(t.price for s in BOOK.tariff("EVN-SH").schedules for t in s.tiers)
    assert data["kwh"] * lowest <= priced.amount <= data["kwh"] * highest


@given(st.integers(0, 3000), st.integers(1, 5), st.sampled_from(["2024-01", "2025-06"]))
def test_households_scale_the_limits(kwh: int, households: int, month: str) -> None:
    # With no price change, h households using h x S kWh pay h times one household's S kWh.
    one = price_reading(reading(f"{month}-01", f"{month}-28", kwh), tariffs=BOOK)
    many = price_reading(
        reading(f"{month}-01", f"{month}-28", kwh * households, households), tariffs=BOOK
    )
    assert many.amount == one.amount * households


prices = st.integers(1, 5000)


@st.composite
def books_and_readings(draw: st.DrawFn) -> tuple[TariffBook, dict[str, Any]]:
    """Random schedules with several changes inside one period."""
    start = date(2025, 1, 1)
    days = draw(st.integers(1, 62))
    offsets = sorted(set(draw(st.lists(st.integers(1, 61), max_size=4))))
    schedules = []
    for offset in [0, *offsets]:
        widths = draw(st.lists(st.integers(1, 300), min_size=0, max_size=6))
        limits = [sum(widths[: i + 1]) for i in range(len(widths))]
        tiers: list[tuple[int | None, int]] = [(limit, draw(prices)) for limit in limits]
        schedules.append((start + timedelta(days=offset), [*tiers, (None, draw(prices))]))
    end = start + timedelta(days=days - 1)
    data = reading(
        start.isoformat(), end.isoformat(), draw(st.integers(0, 3000)), draw(st.integers(1, 3))
    )
    return small_book(schedules), data


@settings(max_examples=150)
@given(books_and_readings())
def test_several_changes_keep_the_invariants(case: tuple[TariffBook, dict[str, Any]]) -> None:
    book, data = case
    priced = price_reading(data, tariff_code="TEST", tariffs=book)
    more = price_reading({**data, "kwh": data["kwh"] + 1}, tariff_code="TEST", tariffs=book)
    assert sum(line.quantity or 0 for line in priced.lines) == data["kwh"]
    assert more.amount > priced.amount
    grown = {s.start: s.kwh for s in more.segments}
    for part in priced.segments:
        assert grown.get(part.start, 0) >= part.kwh  # no part shrinks when the reading grows
    lowest = min(t.price for s in book.tariff("TEST").schedules for t in s.tiers)
    assert priced.amount >= data["kwh"] * lowest
    bounds = [date.fromisoformat(data["period_start"])]
    for part in priced.segments:  # ordered, inside the period, parts without kWh left out
        assert bounds[-1] <= part.start <= part.end <= date.fromisoformat(data["period_end"])
        assert part.days == (part.end - part.start).days + 1
        bounds.append(part.end + timedelta(days=1))
