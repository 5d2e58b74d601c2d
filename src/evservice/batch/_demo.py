"""Realistic synthetic batch input: Vietnamese customers, meters and subscriptions.

``write_demo_csv`` is what ``evservice demo-data`` and the README's main job use,
so the batch can be tried with nothing else. Output is reproducible for a seed.
Most rows are residential meters (a few with two or three households, a few
roll-overs of the register, a few at 0 kWh); about one in ten is an internet
subscription billed by the day; about one in twenty customers is a company
with a valid tax code. ``bad_rows`` adds rows that the batch must reject, to
show the rejection report.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from stdnum.vn import mst as _stdnum_mst

from evservice.batch._input import BatchPeriod

__all__ = ["COLUMNS", "write_demo_csv"]

COLUMNS = (
    "row_type", "customer_id", "name", "tax_code", "address", "phone", "email", "meter_id",
    "households", "period_start", "period_end", "previous_index", "current_index",
    "meter_digits", "tariff_code", "plan_code", "plan_name", "monthly_fee", "days_used",
    "vat_rate", "credit",
)  # fmt: skip

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
           "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")  # fmt: skip
_MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Thu", "Gia")
_GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hòa", "Hùng",
          "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Quân", "Sơn",
          "Tâm", "Thảo", "Trang", "Tuấn", "Việt", "Yến", "Ánh", "Đạt")  # fmt: skip
_STREETS = ("Hàng Bài", "Lý Thường Kiệt", "Trần Hưng Đạo", "Nguyễn Trãi", "Láng Hạ",
            "Kim Mã", "Đội Cấn", "Hoàng Quốc Việt", "Giải Phóng", "Tôn Đức Thắng",
            "Phạm Văn Đồng", "Lê Duẩn")  # fmt: skip
_DISTRICTS = ("Hoàn Kiếm", "Ba Đình", "Đống Đa", "Hai Bà Trưng", "Cầu Giấy", "Thanh Xuân",
              "Hoàng Mai", "Long Biên", "Tây Hồ", "Hà Đông")  # fmt: skip
_COMPANY = ("Công ty TNHH Thương mại", "Công ty Cổ phần Dịch vụ", "Công ty TNHH Sản xuất")
_PLANS = (("NET150", "Internet cáp quang 150 Mbps", 165000),
          ("NET300", "Internet cáp quang 300 Mbps", 220000),
          ("NET1G", "Internet cáp quang 1 Gbps", 390000))  # fmt: skip
_MOBILE_PREFIXES = ("91", "94", "98", "97", "90", "93", "86", "88", "96", "39")


def _tax_code(rng: random.Random) -> str:
    while True:  # about one base in eleven has no valid check digit ("10"): draw again
        base = f"01{rng.randrange(10**7):07d}"
        check = str(_stdnum_mst.calc_check_digit(base))
        if len(check) == 1:
            return base + check


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"


def _address(rng: random.Random) -> str:
    return (
        f"Số {rng.randint(1, 300)} ngõ {rng.randint(1, 200)} {rng.choice(_STREETS)}, "
        f"quận {rng.choice(_DISTRICTS)}, Hà Nội"
    )


def write_demo_csv(
    path: Path, *, customers: int, period: BatchPeriod, seed: int = 2026, bad_rows: int = 0
) -> Path:
    """Write ``customers`` rows (plus ``bad_rows`` invalid ones) for ``period`` to ``path``."""
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    path.parent.mkdir(parents=True, exist_ok=True)
    start = period.first_day.replace(day=1)
    # Readings run from the 15th of the previous month to the 14th of this one.
    prev_month = (start.month - 2) % 12 + 1
    prev_year = start.year - (1 if start.month == 1 else 0)
    reading_start = start.replace(year=prev_year, month=prev_month, day=15)
    reading_end = start.replace(day=14)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(1, customers + 1):
            company = rng.random() < 0.05
            name = (
                f"{rng.choice(_COMPANY)} {_person(rng).split()[-1]} {n}"
                if company
                else _person(rng)
            )
            row: dict[str, object] = {
                "customer_id": f"PD{n:09d}",
                "name": name,
                "tax_code": _tax_code(rng) if company else "",
                "address": _address(rng),
                "phone": f"0{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**7):07d}",
                "email": f"kh{n}@example.vn" if rng.random() < 0.6 else "",
            }
            if rng.random() < 0.1:
                code, plan_name, fee = rng.choice(_PLANS)
                row |= {"row_type": "subscription", "plan_code": code, "plan_name": plan_name,
                        "monthly_fee": fee}  # fmt: skip
                if rng.random() < 0.2:
                    row["days_used"] = rng.randint(5, 25)
                else:
                    row |= {"period_start": period.first_day.isoformat(),
                            "period_end": period.last_day.isoformat()}  # fmt: skip
                if rng.random() < 0.1:
                    row["credit"] = rng.choice((20000, 50000, 500000))
            else:
                kwh = 0 if rng.random() < 0.01 else int(rng.lognormvariate(5.2, 0.6))
                previous = rng.randrange(10**6)
                if rng.random() < 0.005:
                    previous = 10**6 - rng.randint(1, 200)  # about to roll over
                row |= {
                    "row_type": "meter",
                    "meter_id": f"PE{n:010d}",
                    "households": rng.choices((1, 2, 3), weights=(90, 8, 2))[0],
                    "period_start": reading_start.isoformat(),
                    "period_end": reading_end.isoformat(),
                    "previous_index": previous,
                    "current_index": (previous + kwh) % 10**6,
                    "meter_digits": 6,
                    "tariff_code": "EVN-SH",
                }
            writer.writerow(row)
        for n in range(bad_rows):
            writer.writerow(_bad_row(rng, n, reading_start.isoformat(), reading_end.isoformat()))
    return path


def _bad_row(rng: random.Random, n: int, start: str, end: str) -> dict[str, object]:
    """A row with one realistic mistake each: the batch must reject it and say why."""
    row: dict[str, object] = {
        "row_type": "meter", "customer_id": f"BAD{n:06d}", "name": _person(rng),
        "address": _address(rng), "meter_id": f"PX{n:010d}", "households": 1,
        "period_start": start, "period_end": end, "previous_index": 1000,
        "current_index": 1200, "tariff_code": "EVN-SH",
    }  # fmt: skip
    mistake = n % 5
    if mistake == 0:
        row["tax_code"] = "0100109107"  # wrong check digit
    elif mistake == 1:
        row["households"] = 0
    elif mistake == 2:
        row["period_end"], row["period_start"] = start, end  # swapped dates
    elif mistake == 3:
        row["current_index"] = 500  # below the previous index, not a roll-over
    else:
        row["phone"] = "12345"
    return row
