"""Tariffs and VAT rates as dated data: the packaged files, overlays and broken files."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evservice._context import Context
from evservice.config import Settings
from evservice.errors import ConfigurationError, ValidationError
from evservice.invoices import load_tariffs, price_reading
from evservice.invoices._tariffs import VAT_FILE

SIX_TIER_PRICES = {
    date(2023, 11, 9): [1806, 1866, 2167, 2729, 3050, 3151],
    date(2024, 10, 11): [1893, 1956, 2271, 2860, 3197, 3302],
    date(2025, 5, 10): [1984, 2050, 2380, 2998, 3350, 3460],
}


def write_json(directory: Path, name: str, data: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def five_tier_tariff(code: str = "EVN-SH5") -> dict[str, Any]:
    """A five-tier residential schedule (0-100, 101-200, 201-400, 401-700, 701+)."""
    return {
        "code": code,
        "name": "Giá bán lẻ điện sinh hoạt (5 bậc)",
        "vat": "reducible",
        "source": "test data: the five-tier structure decided in principle",
        "schedules": [
            {
                "effective_from": "2026-01-01",
                "tiers": [
                    {"upto": 100, "price": "1984"},
                    {"upto": 200, "price": "2380"},
                    {"upto": 400, "price": "2998"},
                    {"upto": 700, "price": "3571"},
                    {"upto": None, "price": "3967"},
                ],
            }
        ],
    }


def test_packaged_six_tier_schedules() -> None:
    tariff = load_tariffs().tariff("EVN-SH")
    assert tariff.unit == "kWh"
    assert [s.effective_from for s in tariff.schedules] == list(SIX_TIER_PRICES)
    for schedule in tariff.schedules:
        assert [t.price for t in schedule.tiers] == [
            Decimal(p) for p in SIX_TIER_PRICES[schedule.effective_from]
        ]
        assert [t.upto for t in schedule.tiers] == [50, 100, 200, 300, 400, None]
        assert schedule.widths == (50, 50, 100, 100, 100, None)
        assert schedule.source
        assert "QĐ-BCT" in schedule.source


@pytest.mark.parametrize(
    ("day", "in_force"),
    [
        (date(2023, 11, 9), date(2023, 11, 9)),
        (date(2024, 10, 10), date(2023, 11, 9)),
        (date(2024, 10, 11), date(2024, 10, 11)),
        (date(2025, 5, 9), date(2024, 10, 11)),
        (date(2025, 5, 10), date(2025, 5, 10)),
        (date(2030, 1, 1), date(2025, 5, 10)),
    ],
)
def test_schedule_on(day: date, in_force: date) -> None:
    assert load_tariffs().tariff("evn-sh").schedule_on(day).effective_from == in_force


def test_no_tariff_before_the_first_schedule() -> None:
    with pytest.raises(ValidationError) as info:
        load_tariffs().tariff("EVN-SH").schedule_on(date(2023, 11, 8))
    assert info.value.field == "period_start"


def test_unknown_tariff_code() -> None:
    with pytest.raises(ValidationError) as info:
        load_tariffs().tariff("EVN-KD")
    assert info.value.field == "tariff_code"
    assert "EVN-SH" in info.value.reason


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (date(2021, 12, 31), "10%"),
        (date(2022, 2, 1), "8%"),
        (date(2023, 1, 1), "10%"),
        (date(2023, 6, 30), "10%"),
        (date(2023, 7, 1), "8%"),
        (date(2024, 12, 31), "8%"),
        (date(2025, 1, 1), "8%"),
        (date(2025, 7, 1), "8%"),
        (date(2026, 12, 31), "8%"),
        (date(2027, 1, 1), "10%"),
        (date(2040, 6, 1), "10%"),
    ],
)
def test_vat_rate_is_dated_data(day: date, rate: str) -> None:
    book = load_tariffs()
    assert book.vat_rate("EVN-SH", day) == rate
    assert book.vat["standard"].rate_on(day) == "10%"


def test_vat_data_names_its_legal_sources() -> None:
    sources = " ".join(p.source or "" for p in load_tariffs().vat["reducible"].periods)
    for text in ("Decree 180/2024", "Decree 174/2025", "Resolution 174/2024/QH15"):
        assert text in sources


def test_loader_is_cached_per_process(tmp_path: Path) -> None:
    assert load_tariffs() is load_tariffs()
    write_json(tmp_path / "t", "five.json", five_tier_tariff())
    assert load_tariffs(tmp_path / "t") is load_tariffs(str(tmp_path / "t"))
    assert load_tariffs(tmp_path / "t") is not load_tariffs()


def test_five_tier_schedule_is_a_data_change(tmp_path: Path) -> None:
    write_json(tmp_path, "evn-sh5.json", five_tier_tariff())
    book = load_tariffs(tmp_path)
    assert set(book.tariffs) == {"EVN-SH", "EVN-SH5"}  # overlaid on the packaged data
    schedule = book.tariff("EVN-SH5").schedule_on(date(2026, 3, 1))
    assert schedule.widths == (100, 100, 200, 300, None)
    # 750 kWh: 100 x 1,984 + 100 x 2,380 + 200 x 2,998 + 300 x 3,571 + 50 x 3,967
    # = 198,400 + 238,000 + 599,600 + 1,071,300 + 198,350 = 2,305,650
    priced = price_reading(
        {
            "meter_id": "PE0100001",
            "period_start": "2026-03-01",
            "period_end": "2026-03-31",
            "kwh": 750,
        },
        tariff_code="EVN-SH5",
        tariffs=book,
    )
    assert [line.name for line in priced.lines] == [
        "Bậc 1: 0 - 100 kWh",
        "Bậc 2: 101 - 200 kWh",
        "Bậc 3: 201 - 400 kWh",
        "Bậc 4: 401 - 700 kWh",
        "Bậc 5: từ 701 kWh trở lên",
    ]
    assert priced.amount == Decimal(2_305_650)
    assert priced.vat_rate == "8%"


def test_settings_tariff_dir_is_used(tmp_path: Path) -> None:
    write_json(tmp_path / "tariffs", "evn-sh5.json", five_tier_tariff())
    settings = Settings(data_dir=tmp_path / "data", tariff_dir=tmp_path / "tariffs", _env_file=None)  # type: ignore[call-arg]
    ctx = Context(settings=settings)
    reading = {"meter_id": "M", "period_start": "2026-03-01", "period_end": "2026-03-31", "kwh": 1}
    assert price_reading(reading, tariff_code="EVN-SH5", ctx=ctx).amount == Decimal(1984)


def test_overlay_replaces_a_packaged_tariff(tmp_path: Path) -> None:
    data = five_tier_tariff("EVN-SH")
    write_json(tmp_path, "mine.json", data)
    book = load_tariffs(tmp_path)
    assert len(book.tariff("EVN-SH").schedules) == 1
    assert len(book.tariff("EVN-SH").schedules[0].tiers) == 5


def test_own_directory_alone_needs_its_vat_file(tmp_path: Path) -> None:
    write_json(tmp_path, "five.json", five_tier_tariff())
    with pytest.raises(ConfigurationError, match="unknown VAT schedule"):
        load_tariffs(tmp_path, packaged=False)
    write_json(
        tmp_path,
        VAT_FILE,
        {"schedules": {"reducible": {"periods": [{"from": "2026-01-01", "rate": "10%"}]}}},
    )
    book = load_tariffs(tmp_path, packaged=False)
    assert set(book.tariffs) == {"EVN-SH5"}
    assert book.vat_rate("EVN-SH5", date(2026, 2, 1)) == "10%"
    with pytest.raises(ValidationError) as info:
        book.vat_rate("EVN-SH5", date(2025, 12, 31))
    assert info.value.field == "period_end"


def _with_tiers(tiers: list[dict[str, Any]]) -> dict[str, Any]:
    data = five_tier_tariff()
    data["schedules"][0]["tiers"] = tiers
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with_tiers([{"upto": 100, "price": "1"}, {"upto": 50, "price": "2"}, {"price": "3"}]),
            "tiers: tier limits must increase strictly",
        ),
        (_with_tiers([{"upto": 100, "price": "1"}]), "the last tier must be open"),
        (_with_tiers([{"price": "1"}, {"price": "2"}]), "only the last tier may be open"),
        (_with_tiers([{"upto": 100, "price": "0"}, {"price": "2"}]), "price"),
        (_with_tiers([{"upto": 100, "price": "1.00001"}, {"price": "2"}]), "4 decimals"),
        (_with_tiers([{"upto": -5, "price": "1"}, {"price": "2"}]), "upto"),
        (_with_tiers([]), "tiers"),
        ({**five_tier_tariff(), "vat": ""}, "vat"),
        ({**five_tier_tariff(), "currency": "USD"}, "currency"),
        ({**five_tier_tariff(), "surprise": 1}, "surprise"),
        (
            {
                **five_tier_tariff(),
                "schedules": [
                    {"effective_from": "2026-01-01", "tiers": [{"price": "1"}]},
                    {"effective_from": "2025-01-01", "tiers": [{"price": "1"}]},
                ],
            },
            "effective_from dates must increase",
        ),
        ({k: v for k, v in five_tier_tariff().items() if k != "code"}, "code"),
        ({**five_tier_tariff(), "schedules": []}, "needs at least one schedule"),
    ],
)
def test_broken_tariff_files_are_configuration_errors(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    write_json(tmp_path, "broken.json", data)
    with pytest.raises(ConfigurationError, match=message) as info:
        load_tariffs(tmp_path)
    assert "broken.json" in str(info.value) or "tariffs:" in str(info.value)
    assert isinstance(info.value.__cause__, ValidationError | ValueError)


def test_broken_vat_file(tmp_path: Path) -> None:
    write_json(
        tmp_path,
        VAT_FILE,
        {"schedules": {"reducible": {"periods": [{"from": "2026-01-01", "rate": "7%"}]}}},
    )
    with pytest.raises(ConfigurationError, match=r"vat\.json.*rate.*unknown VAT rate"):
        load_tariffs(tmp_path)


def test_not_json(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.json: cannot be read as JSON"):
        load_tariffs(tmp_path)


def test_duplicate_code_in_one_directory(tmp_path: Path) -> None:
    write_json(tmp_path, "a.json", five_tier_tariff())
    write_json(tmp_path, "b.json", five_tier_tariff())
    with pytest.raises(ConfigurationError, match=r"b\.json: code EVN-SH5 is also defined in"):
        load_tariffs(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_tariffs(tmp_path / "nowhere")


def test_empty_directory_alone(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no tariff files"):
        load_tariffs(tmp_path, packaged=False)
