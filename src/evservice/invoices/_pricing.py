"""Pricing a meter reading by tier, EVN style, including price changes inside the period.

A reading covers ``period_start`` to ``period_end`` (both included; ``T`` days)
and ``S`` whole kWh for ``h`` households on the meter. With no price change in
the period, tier ``j`` holds up to ``width_j x h`` kWh (``50 x h`` for tier 1,
...) and the open last tier the rest.

When a schedule takes effect inside the period, EVN's published rule applies
(Circular 16/2014/TT-BCT): with ``N_old`` days before the change and ``N_new``
from it,

* kWh at the old prices = ``round(S / T x N_old)``, the rest at the new prices;
* each tier's width in each part = ``round(width x N / T x h)``, rounded on its
  own (EVN's worked answers scale the tier quotas 50, 50, 100, ... this way).

Rounding is half up (0.5 -> 1). With several changes in one period the rule
is applied again to what is left: the first part gets ``round(S x N_1 / T)``,
the second ``round(S' x N_2 / T')`` of the remaining ``S'`` kWh over the remaining
``T'`` days, and so on; the last part gets the rest. For one change this is
exactly the rule above; for more, every part stays >= 0, the parts add up to
``S``, and no part ever shrinks when ``S`` grows (so the price is monotone).
The tier widths of every part are still ``round(width x N_i / T x h)``.

Each tier of each part with consumption becomes one :class:`InvoiceLine`
(``"Bậc 1: 0 - 50 kWh"``, with the dates of the part appended when the period
is split) whose VAT rate is the tariff's VAT rate on ``period_end``. A reading
of 0 kWh gives a single tier-1 line with quantity 0 (amount 0), so the invoice
still shows what was read and priced and stays valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evservice._context import Context, resolve
from evservice._pydantic import parse_model
from evservice.errors import ValidationError
from evservice.invoices._model import InvoiceLine, LineKind
from evservice.invoices._tariffs import Tariff, TariffBook, TariffSchedule, load_tariffs
from evservice.money import ZERO, Amount, round_dong

__all__ = [
    "MAX_KWH",
    "MeterReading",
    "PricedReading",
    "PricedSegment",
    "TierCharge",
    "price_meter_reading",
    "price_reading",
]

#: Largest consumption one reading may carry (keeps every amount far below 10^15 dong).
MAX_KWH = 10**9


class MeterReading(BaseModel):
    """What the meter says for one period: whole kWh between two inclusive dates."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    meter_id: str = Field(min_length=1, max_length=50)
    period_start: date
    period_end: date
    kwh: Amount = Field(ge=0, le=MAX_KWH)
    households: int = Field(default=1, ge=1, le=10_000)

    @field_validator("kwh")
    @classmethod
    def _whole(cls, value: Decimal) -> Decimal:
        if value != value.to_integral_value():
            raise ValueError("must be a whole number of kWh")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> MeterReading:
        if self.period_end < self.period_start:
            raise ValidationError("period_end", "is before period_start")
        return self

    @property
    def days(self) -> int:
        """``T``: days in the period, both ends included."""
        return (self.period_end - self.period_start).days + 1


@dataclass(frozen=True, slots=True)
class TierCharge:
    """Consumption in one tier of one part: ``kwh`` at ``unit_price`` -> ``amount``."""

    tier: int  # 1-based
    lower: int  # first kWh of the tier as printed (0 for tier 1)
    upper: int | None  # last kWh of the tier; None for the open tier
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PricedSegment:
    """The part of the period under one schedule (the whole period when nothing changes)."""

    start: date
    end: date
    days: int
    kwh: Decimal
    schedule: TariffSchedule
    tiers: tuple[TierCharge, ...]


@dataclass(frozen=True, slots=True)
class PricedReading:
    """A priced reading: its parts, the invoice lines and the VAT rate (for batch summaries)."""

    reading: MeterReading
    tariff_code: str
    vat_rate: str
    segments: tuple[PricedSegment, ...]
    lines: tuple[InvoiceLine, ...]

    @property
    def amount(self) -> Decimal:
        """Total before VAT (the sum of the line amounts)."""
        return sum((line.line_amount() for line in self.lines), ZERO)

    def kwh_by_tier(self) -> Mapping[int, Decimal]:
        """kWh per tier number over all parts (tier 1 of each part adds to tier 1, ...)."""
        totals: dict[int, Decimal] = {}
        for segment in self.segments:
            for charge in segment.tiers:
                totals[charge.tier] = totals.get(charge.tier, ZERO) + charge.kwh
        return totals


def _round_half_up(numerator: int, denominator: int) -> int:
    """``round(numerator / denominator)`` with halves up, exactly (both >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _split_kwh(kwh: int, day_counts: list[int], total_days: int) -> list[int]:
    """kWh of each part: EVN's rule for the first change, then again for the rest."""
    parts: list[int] = []
    rest_kwh, rest_days = kwh, total_days
    for count in day_counts[:-1]:
        part = _round_half_up(rest_kwh * count, rest_days)
        parts.append(part)
        rest_kwh -= part
        rest_days -= count
    parts.append(rest_kwh)
    return parts


def _tier_charges(
    schedule: TariffSchedule, kwh: int, days: int, total_days: int, households: int
) -> list[TierCharge]:
    charges: list[TierCharge] = []
    remaining = kwh
    lower = 0
    for index, (tier, width) in enumerate(zip(schedule.tiers, schedule.widths, strict=True)):
        if width is None:
            quota = None
            used = remaining
        else:
            quota = _round_half_up(width * days * households, total_days)
            used = min(remaining, quota)
        upper = None if quota is None else lower + quota - (0 if index == 0 else 1)
        if used or not kwh:  # 0 kWh: tier 1 only, with quantity 0
            quantity = Decimal(used)
            charges.append(
                TierCharge(
                    tier=index + 1,
                    lower=lower,
                    upper=upper,
                    kwh=quantity,
                    unit_price=tier.price,
                    amount=round_dong(quantity * tier.price),
                )
            )
        remaining -= used
        if not remaining:
            break
        if upper is not None:
            lower = upper + 1
    return charges


def _line_name(charge: TierCharge, unit: str, dates: str) -> str:
    if charge.upper is None:
        limits = f"từ {charge.lower} {unit} trở lên"
    else:
        limits = f"{charge.lower} - {charge.upper} {unit}"
    return f"Bậc {charge.tier}: {limits}{dates}"


def _segments(tariff: Tariff, reading: MeterReading) -> list[tuple[date, date, TariffSchedule]]:
    first = tariff.schedule_on(reading.period_start, "period_start")
    changes = tariff.changes_within(reading.period_start, reading.period_end)
    starts = [reading.period_start, *(s.effective_from for s in changes)]
    schedules = [first, *changes]
    ends = [*(d - timedelta(days=1) for d in starts[1:]), reading.period_end]
    return list(zip(starts, ends, schedules, strict=True))


def price_reading(
    reading: MeterReading | Mapping[str, Any],
    *,
    tariff_code: str = "EVN-SH",
    tariffs: TariffBook | None = None,
    ctx: Context | None = None,
) -> PricedReading:
    """Price ``reading`` under ``tariff_code``: parts, tier charges and invoice lines.

    ``tariffs`` defaults to :func:`load_tariffs` of ``ctx.settings.tariff_dir``.
    Raises :class:`~evservice.errors.ValidationError` naming the field for bad
    readings (``kwh``, ``period_end``, ``households``), an unknown tariff
    (``tariff_code``) or dates without a tariff (``period_start``) or VAT rate
    (``period_end``).
    """
    reading = parse_model(MeterReading, reading)
    if tariffs is None:
        tariffs = load_tariffs(resolve(ctx).settings.tariff_dir)
    tariff = tariffs.tariff(tariff_code)
    vat_rate = tariffs.vat_rate(tariff, reading.period_end, "period_end")
    parts = _segments(tariff, reading)
    total_days = reading.days
    day_counts = [(end - start).days + 1 for start, end, _ in parts]
    kwh_parts = _split_kwh(int(reading.kwh), day_counts, total_days)
    split = len(parts) > 1
    priced = [
        (part, days, kwh)
        for part, days, kwh in zip(parts, day_counts, kwh_parts, strict=True)
        if kwh or not reading.kwh  # a part too short to carry any kWh has nothing to show
    ]
    if not reading.kwh:
        priced = priced[-1:]  # 0 kWh: one zero line at the prices in force at the end
    segments: list[PricedSegment] = []
    lines: list[InvoiceLine] = []
    for (start, end, schedule), days, kwh in priced:
        charges = _tier_charges(schedule, kwh, days, total_days, reading.households)
        segments.append(PricedSegment(start, end, days, Decimal(kwh), schedule, tuple(charges)))
        dates = f" ({start:%d/%m/%Y} - {end:%d/%m/%Y})" if split else ""
        lines += (
            InvoiceLine(
                kind=LineKind.GOODS,
                name=_line_name(charge, tariff.unit, dates),
                code=f"{tariff.code}-B{charge.tier}",
                unit=tariff.unit,
                quantity=charge.kwh,
                unit_price=charge.unit_price,
                vat_rate=vat_rate,
            )
            for charge in charges
        )
    return PricedReading(reading, tariff.code, vat_rate, tuple(segments), tuple(lines))


def price_meter_reading(
    reading: MeterReading | Mapping[str, Any],
    *,
    tariff_code: str = "EVN-SH",
    tariffs: TariffBook | None = None,
    ctx: Context | None = None,
) -> list[InvoiceLine]:
    """The invoice lines of ``reading``, one per tier and part (see :func:`price_reading`)."""
    return list(price_reading(reading, tariff_code=tariff_code, tariffs=tariffs, ctx=ctx).lines)
