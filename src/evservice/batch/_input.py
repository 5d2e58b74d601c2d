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

The file: UTF-8 (a byte order mark is allowed), read as bytes, line by line.
A file that is not UTF-8 as a whole (UTF-16 with or without a byte order mark,
latin-1, cp1258, binary data) is refused before any row is read, with a
:class:`ValidationError` on ``input`` (the CLI's exit status 2). A line with a
byte that is not UTF-8 in an otherwise UTF-8 file rejects only its row, naming
the column and the byte. Every physical line is accounted for: a row's
``row_number`` is the line it starts on; a row that runs over several lines (a
quote left open swallows the lines after it) is rejected with ``last_line``,
so the rejection names every line it consumed; a line over 1 MiB, a cell over
the csv module's field limit or any other CSV syntax error rejects the lines
it covers; blank lines are counted in :class:`InputStats`.

Dates: a reading or subscription must end in the batch's month (a reading
that ends 9999-12-31 is not November's), a reading cover at most
:data:`MAX_READING_DAYS` days, and a subscription lie within one month; the
batch also refuses readings that end after the issue date (``_drafts.py``).
Every text cell follows the rule of document text (:mod:`evservice._text`).
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
from evservice._text import check_model_text
from evservice.errors import ValidationError
from evservice.money import Amount, VatRate
from evservice.vn import TaxCode

__all__ = [
    "MAX_READING_DAYS",
    "BatchPeriod",
    "InputStats",
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
#: The longest reading period a row may cover (a quarter: readings are monthly or
#: bimonthly; a longer one is a wrong date, not a reading).
MAX_READING_DAYS = 92
#: The longest physical line read (a longer one is rejected, never held whole).
_MAX_LINE = 1 << 20
#: What is read first to decide whether the file is UTF-8 text at all.
_SAMPLE = 1 << 16


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
        check_model_text(self)
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
    #: The last physical line the rejected row consumed, when it ran over several.
    last_line: int | None = None

    @property
    def lines(self) -> str:
        """``"5"``, or ``"5-9"`` for a row that consumed lines 5 to 9."""
        if self.last_line is None or self.last_line == self.row_number:
            return str(self.row_number)
        return f"{self.row_number}-{self.last_line}"


@dataclass
class InputStats:
    """Physical lines read: with the rows' line ranges, every line is accounted for."""

    lines: int = 0
    blank_lines: int = 0
    header_lines: int = 0


_KNOWN = {
    "row_type", "customer_id", "name", "tax_code", "address", "phone", "email", "meter_id",
    "households", "period_start", "period_end", "previous_index", "current_index",
    "meter_digits", "tariff_code", "plan_code", "plan_name", "monthly_fee", "days_used",
    "vat_rate", "credit",
}  # fmt: skip


def _clean(header: list[str], cells: list[str]) -> dict[str, Any]:
    """Drop empty cells; keep text as text (pydantic parses dates and Decimals exactly).

    A byte that was not UTF-8 (decoded as a lone surrogate, ``surrogateescape``)
    rejects the row, naming its column.
    """
    if len(cells) > len(header):
        raise ValidationError("(row)", "has more cells than the header")
    data: dict[str, Any] = {}
    for name, value in zip(header, cells, strict=False):
        for index, char in enumerate(value):
            if 0xDC80 <= ord(char) <= 0xDCFF:
                raise ValidationError(
                    name or "(row)",
                    f"holds the byte 0x{ord(char) - 0xDC00:02X} at position {index + 1}, "
                    "which is not UTF-8 (save the file as UTF-8)",
                )
        if value.strip():
            data[name] = value.strip()
    return data


def _in_period(row: MeterRow | SubscriptionRow, period: BatchPeriod) -> None:
    """The row's dates belong to the batch's month (see the module docstring)."""
    if not period.first_day <= row.period_end <= period.last_day:
        raise ValidationError(
            "period_end", f"{row.period_end.isoformat()} is not in the billing period {period}"
        )
    if isinstance(row, MeterRow) and (row.period_end - row.period_start).days > MAX_READING_DAYS:
        raise ValidationError(
            "period_start", f"is more than {MAX_READING_DAYS} days before period_end"
        )


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
    try:
        end = date.fromisoformat(data["period_end"]) if "period_end" in data else period.last_day
    except ValueError as exc:
        raise ValidationError("period_end", "must be a date (YYYY-MM-DD)") from exc
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
    row: MeterRow | SubscriptionRow
    if kind == RowType.METER:
        row = parse_model(MeterRow, data)
    elif kind == RowType.SUBSCRIPTION:
        _subscription_days(data, period)
        row = parse_model(SubscriptionRow, data)
    else:
        raise ValidationError("row_type", "must be meter or subscription")
    _in_period(row, period)
    return row


def _check_encoding(sample: bytes, complete: bool) -> None:
    """Refuse a file that is not UTF-8 text as a whole, from its first bytes.

    UTF-16 (with a byte order mark, or without one: NUL bytes throughout),
    binary data, or a file whose header or most lines with non-ASCII bytes are
    not UTF-8 (latin-1, cp1258). One bad line among UTF-8 lines is the row's
    problem, not the file's.
    """
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError("input", "is UTF-16 (it starts with a UTF-16 byte order mark); "
                              "save it as UTF-8")  # fmt: skip
    if sample.count(b"\x00") * 50 > len(sample):
        raise ValidationError(
            "input", "holds NUL bytes throughout: it is UTF-16 or binary data, not a UTF-8 CSV"
        )
    lines = sample.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut in the middle of a character
    bad = good = 0
    for index, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if index == 0:
                raise ValidationError(
                    "input", "is not UTF-8 (its header line is not); save it as UTF-8"
                ) from exc
            bad += 1
        else:
            good += not line.isascii()
    if bad >= 2 and bad > good:
        raise ValidationError(
            "input",
            f"is not UTF-8 ({bad} of its first {len(lines)} lines are not: latin-1, cp1258 or "
            "binary data?); save it as UTF-8",
        )


class _Lines:
    """The file's physical lines as text; over-long lines cut (and remembered)."""

    def __init__(self, handle: Any, stats: InputStats) -> None:
        self._handle = handle
        self.stats = stats
        self.too_long: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        binary = not isinstance(self._handle, io.TextIOBase)
        while True:
            raw = self._handle.readline(_MAX_LINE + 1)
            if not raw:
                return
            self.stats.lines += 1
            if len(raw) > _MAX_LINE and not raw.endswith(b"\n" if binary else "\n"):
                self.too_long.add(self.stats.lines)
                while True:  # skip the rest of the line, never holding it
                    more = self._handle.readline(_MAX_LINE)
                    if not more or more.endswith(b"\n" if binary else "\n"):
                        break
                raw = b"\n" if binary else "\n"
            text = raw.decode("utf-8", "surrogateescape") if binary else raw
            if self.stats.lines == 1:
                text = text.removeprefix("\ufeff")
            yield text


def _open(source: Path | str | io.TextIOBase) -> Any:
    if not isinstance(source, Path | str):
        return source
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed by the caller
        sample = handle.read(_SAMPLE + 1)
    except OSError as exc:
        raise ValidationError("input", f"cannot be read: {exc.strerror or exc}") from exc
    handle.seek(0)
    try:
        _check_encoding(sample[:_SAMPLE], complete=len(sample) <= _SAMPLE)
    except ValidationError:
        handle.close()
        raise
    return handle


def read_batch_csv(
    source: Path | str | io.TextIOBase,
    period: BatchPeriod,
    *,
    seen: MutableSet[tuple[str, str]] | None = None,
    stats: InputStats | None = None,
) -> Iterator[MeterRow | SubscriptionRow | Rejection]:
    """Yield each data row validated or rejected, numbered by the line it starts on.

    Rows are streamed, so a file of millions of rows is never held in memory. A
    (customer, meter or plan) seen twice in the file is rejected the second time;
    the keys seen go to ``seen`` (default: a set in memory, about 200 bytes a
    row; the batch passes a store on disk so that its memory stays flat).
    ``stats`` gets the count of physical and blank lines. A file that is not
    UTF-8 raises :class:`ValidationError` on ``input`` before any row.
    """
    handle = _open(source)
    if seen is None:
        seen = set()
    lines = _Lines(handle, stats or InputStats())
    try:
        reader = csv.reader(lines)
        try:
            header = [name.strip() for name in next(reader, [])]
        except csv.Error as exc:
            raise ValidationError("header", f"is not valid CSV: {exc}") from exc
        lines.stats.header_lines = reader.line_num
        if "customer_id" not in header:
            raise ValidationError("header", "the CSV must have a header with customer_id")
        yield from _rows(reader, header, lines, period, seen)
    finally:
        if handle is not source:
            handle.close()


def _rows(
    reader: Any,
    header: list[str],
    lines: _Lines,
    period: BatchPeriod,
    seen: MutableSet[tuple[str, str]],
) -> Iterator[MeterRow | SubscriptionRow | Rejection]:
    end = reader.line_num
    while True:
        error: str | None = None
        try:
            cells: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            error, cells = f"is not valid CSV: {exc}", []
        first, end = end + 1, reader.line_num
        last = end if end > first else None
        if error is None and not any(cell.strip() for cell in cells):
            lines.stats.blank_lines += end - first + 1
            continue
        customer = None
        if "customer_id" in header and header.index("customer_id") < len(cells):
            customer = cells[header.index("customer_id")].strip()[:50] or None
        cut = sorted(n for n in lines.too_long if first <= n <= end)
        if cut:
            error = f"line {cut[0]} is longer than {_MAX_LINE} bytes"
            lines.too_long.difference_update(cut)
        elif error is None and last is not None:
            error = (
                f"runs over lines {first}-{last}: a quoted cell holds a line break "
                "(is a closing quote missing?); none of these lines is issued"
            )
        if error is not None:
            yield Rejection(first, customer, "(row)", error, last_line=last)
            continue
        try:
            row = _row(first, _clean(header, cells), period)
        except ValidationError as exc:
            yield Rejection(first, customer, exc.field, exc.reason)
            continue
        except (ValueError, ArithmeticError) as exc:  # a cell no validator foresaw
            yield Rejection(first, customer, "(row)", f"cannot be read: {exc}")
            continue
        key = (row.customer_id, row.item_key)
        if key in seen:
            yield Rejection(first, customer, "customer_id", "appears twice for one meter/plan")
            continue
        seen.add(key)
        yield row
