"""The monthly batch's input: a CSV of meter readings and subscriptions, validated row by row.

Columns (header names; order free; empty cell = not given):

==================  =========================================================
row_type            ``meter`` (default) or ``subscription``
customer_id         required, at most 50 characters; with the period it is the
                    idempotency key: a customer is invoiced once per period and
                    meter / plan
name                required: the customer's name (company or person)
tax_code            the buyer's tax code (MST); empty for an individual
address             required
phone, email        optional contact details (phone in any Vietnamese form)
meter_id            meter rows: required
households          meter rows: households on the meter (default 1)
period_start/end    reading dates (meter) or billed days (subscription), ISO
previous_index      meter rows: index at the previous reading (whole kWh)
current_index       meter rows: index now; smaller than previous = roll-over
meter_digits        meter rows: digits of the register (default 6): a roll-over
                    adds 10^digits
tariff_code         meter rows: default ``EVN-SH``
plan_code           subscription rows: required
plan_name           subscription rows: required
monthly_fee         subscription rows: before VAT, dong
days_used           subscription rows, instead of period_start/end: the last
                    ``days_used`` days of the month of ``period_end`` (or of
                    the batch period when period_end is empty)
vat_rate            subscription rows: default 10%
credit              subscription rows: credit carried in (dong), optional
==================  =========================================================

Every row is checked before anything is issued; a bad row becomes a
:class:`Rejection` (row number, field, reason) and the others go on.
"""

from __future__ import annotations

import calendar
import csv
import enum
import io
from collections.abc import Iterator, MutableSet
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evservice._pydantic import parse_model
from evservice.errors import ValidationError
from evservice.money import Amount, VatRate
from evservice.vn import TaxCode

__all__ = [
    "BatchPeriod",
    "MeterRow",
    "Rejection",
    "Row",
    "SubscriptionRow",
    "last_finished_period",
    "parse_period",
    "read_batch_csv",
]

_frozen = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
_MAX_ROLLOVER_SHARE = Decimal("0.5")


@dataclass(frozen=True)
class BatchPeriod:
    """A billing month, ``2026-11``."""

    year: int
    month: int

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def last_finished_period(today: date) -> BatchPeriod:
    """The latest month that has ended before ``today``: what a batch run today bills."""
    first = today.replace(day=1) - timedelta(days=1)
    return BatchPeriod(first.year, first.month)


def parse_period(text: str, field: str = "period") -> BatchPeriod:
    """``"2026-11"`` -> BatchPeriod(2026, 11), or ValidationError naming ``field``."""
    try:
        year_text, month_text = str(text).strip().split("-")
        period = BatchPeriod(int(year_text), int(month_text))
        _ = period.first_day
    except ValueError as exc:
        raise ValidationError(field, "must be a month like 2026-11") from exc
    if not 2000 <= period.year <= 2099:
        raise ValidationError(field, "year must be between 2000 and 2099")
    return period


class RowType(enum.StrEnum):
    METER = "meter"
    SUBSCRIPTION = "subscription"


class _Customer(BaseModel):
    model_config = _frozen
    row_number: int
    customer_id: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._:/-]+$")
    name: str = Field(min_length=1, max_length=400)
    tax_code: TaxCode = None
    address: str = Field(min_length=1, max_length=400)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @model_validator(mode="after")
    def _phone(self) -> _Customer:
        if self.phone:
            from evservice.vn import phone

            object.__setattr__(self, "phone", phone.validate(self.phone, "phone"))
        return self


class MeterRow(_Customer):
    """A validated meter reading row; ``kwh`` accounts for a register roll-over."""

    row_type: RowType = RowType.METER
    meter_id: str = Field(min_length=1, max_length=50)
    households: int = Field(default=1, ge=1, le=10_000)
    period_start: date
    period_end: date
    previous_index: Amount = Field(ge=0)
    current_index: Amount = Field(ge=0)
    meter_digits: int = Field(default=6, ge=4, le=9)
    tariff_code: str = Field(default="EVN-SH", max_length=20)

    @model_validator(mode="after")
    def _reading(self) -> MeterRow:
        if self.period_end < self.period_start:
            raise ValidationError("period_end", "is before period_start")
        for name in ("previous_index", "current_index"):
            value: Decimal = getattr(self, name)
            if value != value.to_integral_value():
                raise ValidationError(name, "must be a whole number of kWh")
            if value >= Decimal(10) ** self.meter_digits:
                raise ValidationError(name, f"does not fit a {self.meter_digits}-digit register")
        # Below the previous index, the register wrapped past 99..9; a jump of more than
        # half the register is not a roll-over but a wrong reading (or a replaced meter).
        register = Decimal(10) ** self.meter_digits
        if self.rolled_over and self.kwh > register * _MAX_ROLLOVER_SHARE:
            raise ValidationError(
                "current_index", "is below previous_index and too far for a roll-over"
            )
        return self

    @property
    def rolled_over(self) -> bool:
        return self.current_index < self.previous_index

    @property
    def kwh(self) -> Decimal:
        used = self.current_index - self.previous_index
        return used + Decimal(10) ** self.meter_digits if used < 0 else used

    @property
    def item_key(self) -> str:
        return f"meter:{self.meter_id}"


class SubscriptionRow(_Customer):
    """A validated subscription row (billed by the day for part months)."""

    row_type: RowType = RowType.SUBSCRIPTION
    plan_code: str = Field(min_length=1, max_length=50)
    plan_name: str = Field(min_length=1, max_length=400)
    monthly_fee: Amount = Field(ge=0, lt=Decimal(10) ** 12)
    period_start: date
    period_end: date
    vat_rate: VatRate = "10%"
    credit: Amount = Field(default=Decimal(0), ge=0, lt=Decimal(10) ** 12)

    @model_validator(mode="after")
    def _period(self) -> SubscriptionRow:
        if self.period_end < self.period_start:
            raise ValidationError("period_end", "is before period_start")
        if (self.period_start.year, self.period_start.month) != (
            self.period_end.year,
            self.period_end.month,
        ):
            raise ValidationError("period_end", "must be in the month of period_start")
        return self

    @property
    def item_key(self) -> str:
        return f"plan:{self.plan_code}"


#: A row of the input file: a meter reading or a subscription.
Row = MeterRow | SubscriptionRow


@dataclass(frozen=True)
class Rejection:
    """A row that will not be invoiced, and why (never with the raw personal values)."""

    row_number: int
    customer_id: str | None
    field: str
    reason: str


_KNOWN = {
    "row_type", "customer_id", "name", "tax_code", "address", "phone", "email", "meter_id",
    "households", "period_start", "period_end", "previous_index", "current_index",
    "meter_digits", "tariff_code", "plan_code", "plan_name", "monthly_fee", "days_used",
    "vat_rate", "credit",
}  # fmt: skip


def _clean(raw: dict[str | None, Any]) -> dict[str, Any]:
    """Drop empty cells; keep text as text (pydantic parses dates and Decimals exactly)."""
    if None in raw:
        raise ValidationError("(row)", "has more cells than the header")
    return {k: v.strip() for k, v in raw.items() if k is not None and v is not None and v.strip()}


def _subscription_days(data: dict[str, Any], period: BatchPeriod) -> None:
    """Turn ``days_used`` into period_start/period_end (the last N days of the month)."""
    days_text = data.pop("days_used", None)
    if days_text is None:
        return
    if "period_start" in data:
        raise ValidationError("days_used", "give days_used or period_start, not both")
    try:
        days = int(days_text)
    except ValueError as exc:
        raise ValidationError("days_used", "must be a whole number of days") from exc
    end = date.fromisoformat(data["period_end"]) if "period_end" in data else period.last_day
    month_days = calendar.monthrange(end.year, end.month)[1]
    if not 1 <= days <= end.day:
        raise ValidationError("days_used", f"must be between 1 and {min(end.day, month_days)}")
    data["period_end"] = end.isoformat()
    data["period_start"] = (end - timedelta(days=days - 1)).isoformat()


def _row(number: int, data: dict[str, Any], period: BatchPeriod) -> MeterRow | SubscriptionRow:
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ValidationError(unknown[0], "is not a known column")
    kind = data.pop("row_type", "meter").lower()
    data["row_number"] = number
    if kind == RowType.METER:
        return parse_model(MeterRow, data)
    if kind == RowType.SUBSCRIPTION:
        _subscription_days(data, period)
        return parse_model(SubscriptionRow, data)
    raise ValidationError("row_type", "must be meter or subscription")


def read_batch_csv(
    source: Path | str | io.TextIOBase,
    period: BatchPeriod,
    *,
    seen: MutableSet[tuple[str, str]] | None = None,
) -> Iterator[MeterRow | SubscriptionRow | Rejection]:
    """Yield each data row (numbered from 2, the header being row 1) validated or rejected.

    Rows are streamed, so a file of millions of rows is never held in memory. A
    (customer, meter or plan) seen twice in the file is rejected the second time;
    the keys seen go to ``seen`` (default: a set in memory, about 200 bytes a
    row; the batch passes a store on disk so that its memory stays flat).
    """
    handle: Any
    if isinstance(source, Path | str):
        handle = open(source, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    else:
        handle = source
    if seen is None:
        seen = set()
    try:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "customer_id" not in reader.fieldnames:
            raise ValidationError("header", "the CSV must have a header with customer_id")
        for index, raw in enumerate(reader, start=2):
            customer = (raw.get("customer_id") or "").strip() or None
            try:
                row = _row(index, _clean(raw), period)
            except ValidationError as exc:
                yield Rejection(index, customer, exc.field, exc.reason)
                continue
            key = (row.customer_id, row.item_key)
            if key in seen:
                yield Rejection(index, customer, "customer_id", "appears twice for one meter/plan")
                continue
            seen.add(key)
            yield row
    finally:
        if handle is not source:
            handle.close()
