from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.batch import (
    MeterRow,
    Rejection,
    SubscriptionRow,
    parse_period,
    read_batch_csv,
    write_demo_csv,
)
from evservice.errors import ValidationError

PERIOD = parse_period("2026-11")
HEADER = (
    "row_type,customer_id,name,tax_code,address,phone,meter_id,households,period_start,"
    "period_end,previous_index,current_index,meter_digits,plan_code,plan_name,monthly_fee,"
    "days_used,credit\n"
)


def _read(body: str) -> list[MeterRow | SubscriptionRow | Rejection]:
    return list(read_batch_csv(io.StringIO(HEADER + body), PERIOD))


def test_meter_row_and_rollover() -> None:
    rows = _read(
        "meter,C1,Nguyễn Văn A,,Hà Nội,0912 345 678,M1,2,2026-10-15,2026-11-14,150,300,6,,,,,\n"
        "meter,C2,Trần Thị B,,Hà Nội,,M2,1,2026-10-15,2026-11-14,999950,000100,6,,,,,\n"
    )
    first, second = rows
    assert isinstance(first, MeterRow)
    assert first.kwh == 150
    assert first.households == 2
    assert first.phone == "+84912345678"
    assert not first.rolled_over
    assert isinstance(second, MeterRow)
    assert second.rolled_over
    assert second.kwh == 150  # 999950 -> 1000000 (50) -> 100 (100)


def test_subscription_days_used_are_the_last_days_of_the_month() -> None:
    (row,) = _read("subscription,C3,Lê C,,Hà Nội,,,,,,,,,NET300,Internet,220000,10,50000\n")
    assert isinstance(row, SubscriptionRow)
    assert (row.period_start.isoformat(), row.period_end.isoformat()) == (
        "2026-11-21",
        "2026-11-30",
    )
    assert row.credit == Decimal(50000)


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ("meter,C1,A,0100109107,HN,,M1,1,2026-10-15,2026-11-14,1,2,6,,,,,", "tax_code"),
        ("meter,C1,A,,HN,,M1,0,2026-10-15,2026-11-14,1,2,6,,,,,", "households"),
        ("meter,C1,A,,HN,,M1,1,2026-11-14,2026-10-15,1,2,6,,,,,", "period_end"),
        ("meter,C1,A,,HN,,M1,1,2026-10-15,2026-11-14,1000,500,6,,,,,", "current_index"),
        ("meter,C1,A,,HN,,M1,1,2026-10-15,2026-11-14,1.5,2,6,,,,,", "previous_index"),
        ("meter,C1,A,,HN,,M1,1,2026-10-15,2026-11-14,-1,2,6,,,,,", "previous_index"),
        ("meter,C1,A,,HN,12345,M1,1,2026-10-15,2026-11-14,1,2,6,,,,,", "phone"),
        ("meter,,A,,HN,,M1,1,2026-10-15,2026-11-14,1,2,6,,,,,", "customer_id"),
        ("gas,C1,A,,HN,,M1,1,2026-10-15,2026-11-14,1,2,6,,,,,", "row_type"),
        ("subscription,C1,A,,HN,,,,,,,,,P,Plan,100,40,", "days_used"),
        ("subscription,C1,A,,HN,,,,2026-11-01,2026-12-01,,,,P,Plan,100,,", "period_end"),
    ],
)
def test_bad_rows_are_rejected_with_field_and_reason(cells: str, field: str) -> None:
    (row,) = _read(cells + "\n")
    assert isinstance(row, Rejection)
    assert row.field == field
    assert row.row_number == 2
    assert row.reason
    assert "12345" not in row.reason  # raw values stay out of the report's reason


def test_duplicates_and_unknown_columns() -> None:
    rows = _read(
        "meter,C1,A,,HN,,M1,1,2026-10-15,2026-11-14,1,2,6,,,,,\n"
        "meter,C1,A,,HN,,M1,1,2026-10-15,2026-11-14,1,2,6,,,,,\n"
    )
    assert isinstance(rows[1], Rejection)
    assert rows[1].field == "customer_id"
    (row,) = list(read_batch_csv(io.StringIO("customer_id,colour\nC1,red\n"), PERIOD))
    assert isinstance(row, Rejection)
    assert row.field == "colour"
    with pytest.raises(ValidationError):
        list(read_batch_csv(io.StringIO("name\nA\n"), PERIOD))


def test_period() -> None:
    assert str(parse_period("2026-1")) == "2026-01"
    for bad in ("2026", "2026-13", "abc", "1999-01"):
        with pytest.raises(ValidationError):
            parse_period(bad)


@given(
    digits=st.integers(4, 9),
    previous=st.integers(0, 10**9 - 1),
    used=st.integers(0, 10**8),
)
def test_rollover_kwh_is_the_distance_on_the_register(
    digits: int, previous: int, used: int
) -> None:
    size = 10**digits
    previous %= size
    used %= size // 2
    current = (previous + used) % size
    row = MeterRow(
        row_number=2,
        customer_id="C",
        name="A",
        address="HN",
        meter_id="M",
        period_start="2026-10-15",  # type: ignore[arg-type]
        period_end="2026-11-14",  # type: ignore[arg-type]
        previous_index=Decimal(previous),
        current_index=Decimal(current),
        meter_digits=digits,
    )
    assert row.kwh == used


def test_demo_data_is_valid_and_reproducible(tmp_path: Path) -> None:
    a = write_demo_csv(tmp_path / "a.csv", customers=300, period=PERIOD, seed=7)
    b = write_demo_csv(tmp_path / "b.csv", customers=300, period=PERIOD, seed=7)
    assert a.read_bytes() == b.read_bytes()
    kinds = Counter(type(r).__name__ for r in read_batch_csv(a, PERIOD))
    assert kinds["Rejection"] == 0
    assert kinds["MeterRow"] > kinds["SubscriptionRow"] > 0
    c = write_demo_csv(tmp_path / "c.csv", customers=10, period=PERIOD, bad_rows=5)
    rejected = [r for r in read_batch_csv(c, PERIOD) if isinstance(r, Rejection)]
    assert sorted(r.field for r in rejected) == sorted(
        ["tax_code", "households", "period_end", "current_index", "phone"]
    )
    text = a.read_text(encoding="utf-8")
    assert any(family in text for family in ("Nguyễn", "Trần", "Đặng", "Hoàng"))
