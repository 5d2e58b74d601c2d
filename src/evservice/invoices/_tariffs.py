"""Tariffs and VAT rates as dated data, loaded from JSON shipped with the package.

A new price list or a new VAT reduction is a data change, not a code change:

* ``data/tariffs/<code>.json`` holds one tariff (``EVN-SH``, residential
  electricity): its dated schedules, each a list of tiers with an upper limit in
  kWh for one household (``null`` for the last, open tier) and a price in dong
  before VAT. Any number of tiers works: the six-tier schedule of today and the
  five-tier one decided in principle have the same shape.
* ``data/tariffs/vat.json`` holds named VAT schedules: dated rates with their
  legal source. A tariff names the VAT schedule it follows.

:func:`load_tariffs` reads the packaged files and, when given a directory (or
``Settings.tariff_dir``), overlays the files found there: a tariff with the same
code, or a VAT schedule with the same name, replaces the packaged one. Each
directory is read once per process (``functools.cache``); a broken file raises
:class:`~evservice.errors.ConfigurationError` naming the file and the field.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from evservice._pydantic import parse_model
from evservice.errors import ConfigurationError, ValidationError
from evservice.money import MAX_AMOUNT, Amount, parse_vat_rate

__all__ = [
    "VAT_FILE",
    "Tariff",
    "TariffBook",
    "TariffSchedule",
    "Tier",
    "VatPeriod",
    "VatSchedule",
    "load_tariffs",
]

#: The name of the VAT file in a tariff directory; every other ``*.json`` is a tariff.
VAT_FILE = "vat.json"
_frozen = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _price(value: Decimal) -> Decimal:
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError("a price has at most 4 decimals")
    return value


class Tier(BaseModel):
    """One tier: consumption up to ``upto`` kWh per household (None: no limit) at ``price``."""

    model_config = _frozen
    upto: int | None = Field(default=None, gt=0, lt=10**9)
    price: Annotated[Amount, AfterValidator(_price)] = Field(gt=0, lt=MAX_AMOUNT)


class TariffSchedule(BaseModel):
    """The tiers in force from ``effective_from`` until the next schedule of the tariff."""

    model_config = _frozen
    effective_from: date
    source: str | None = Field(default=None, max_length=500)
    tiers: tuple[Tier, ...] = Field(max_length=20)

    @model_validator(mode="after")
    def _ordered(self) -> TariffSchedule:
        if not self.tiers:
            raise ValidationError("tiers", "needs at least one tier")
        *bounded, last = self.tiers
        if last.upto is not None:
            raise ValidationError("tiers", "the last tier must be open (upto: null)")
        limits = [tier.upto for tier in bounded]
        if any(limit is None for limit in limits):
            raise ValidationError("tiers", "only the last tier may be open (upto: null)")
        if any(b <= a for a, b in pairwise(limits)):  # type: ignore[operator]
            raise ValidationError("tiers", "tier limits must increase strictly")
        return self

    @property
    def widths(self) -> tuple[int | None, ...]:
        """kWh per household in each tier (``50, 50, 100, ...``); None for the open tier."""
        widths: list[int | None] = []
        previous = 0
        for tier in self.tiers:
            if tier.upto is None:
                widths.append(None)
            else:
                widths.append(tier.upto - previous)
                previous = tier.upto
        return tuple(widths)


def _code(value: str) -> str:
    return value.upper()


class Tariff(BaseModel):
    """A tariff (``EVN-SH``): its dated schedules, oldest first, and the VAT schedule it follows."""

    model_config = _frozen
    code: Annotated[str, AfterValidator(_code)] = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="kWh", min_length=1, max_length=50)
    currency: str = Field(default="VND", pattern=r"^VND$")
    vat: str = Field(min_length=1, max_length=50, description="name of a VAT schedule")
    source: str | None = Field(default=None, max_length=2000)
    schedules: tuple[TariffSchedule, ...]

    @model_validator(mode="after")
    def _dated(self) -> Tariff:
        if not self.schedules:
            raise ValidationError("schedules", "needs at least one schedule")
        days = [s.effective_from for s in self.schedules]
        if any(b <= a for a, b in pairwise(days)):
            raise ValidationError("schedules", "effective_from dates must increase strictly")
        return self

    def schedule_on(self, day: date, field: str = "period_start") -> TariffSchedule:
        """The schedule in force on ``day``, or raise naming ``field``."""
        index = bisect.bisect_right([s.effective_from for s in self.schedules], day)
        if index == 0:
            raise ValidationError(field, f"no {self.code} tariff is in force on {day.isoformat()}")
        return self.schedules[index - 1]

    def changes_within(self, start: date, end: date) -> tuple[TariffSchedule, ...]:
        """Schedules that take effect after ``start`` and on or before ``end``."""
        return tuple(s for s in self.schedules if start < s.effective_from <= end)


def _rate(value: str) -> str:
    return parse_vat_rate(value, "rate")


class VatPeriod(BaseModel):
    """A VAT rate (``8%``) from a date until the next period, with its legal source."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    start: date = Field(alias="from")
    rate: Annotated[str, AfterValidator(_rate)]
    source: str | None = Field(default=None, max_length=500)


class VatSchedule(BaseModel):
    """Dated VAT rates for one kind of goods or services, oldest first."""

    model_config = _frozen
    description: str | None = Field(default=None, max_length=500)
    periods: tuple[VatPeriod, ...]

    @model_validator(mode="after")
    def _dated(self) -> VatSchedule:
        if not self.periods:
            raise ValidationError("periods", "needs at least one period")
        days = [p.start for p in self.periods]
        if any(b <= a for a, b in pairwise(days)):
            raise ValidationError("periods", "'from' dates must increase strictly")
        return self

    def rate_on(self, day: date, field: str = "period_end") -> str:
        """The VAT rate string (``TSuat``) on ``day``, or raise naming ``field``."""
        index = bisect.bisect_right([p.start for p in self.periods], day)
        if index == 0:
            raise ValidationError(field, f"no VAT rate is known for {day.isoformat()}")
        return self.periods[index - 1].rate


class _VatFile(BaseModel):
    model_config = _frozen
    source: str | None = Field(default=None, max_length=2000)
    schedules: dict[str, VatSchedule] = Field(min_length=1)


class TariffBook(BaseModel):
    """All tariffs and VAT schedules known to this process, by code and by name."""

    model_config = _frozen
    tariffs: dict[str, Tariff]
    vat: dict[str, VatSchedule]

    @model_validator(mode="after")
    def _linked(self) -> TariffBook:
        for code, tariff in self.tariffs.items():
            if tariff.vat not in self.vat:
                raise ValidationError(
                    f"tariffs.{code}.vat", f"names the unknown VAT schedule {tariff.vat!r}"
                )
        return self

    def tariff(self, code: str, field: str = "tariff_code") -> Tariff:
        """The tariff with this code (case-insensitive), or raise naming ``field``."""
        found = self.tariffs.get(str(code).strip().upper())
        if found is None:
            known = ", ".join(sorted(self.tariffs)) or "none"
            raise ValidationError(field, f"unknown tariff {code!r}; known: {known}")
        return found

    def vat_rate(self, tariff: Tariff | str, day: date, field: str = "period_end") -> str:
        """The VAT rate that the tariff's VAT schedule gives for ``day``."""
        if isinstance(tariff, str):
            tariff = self.tariff(tariff)
        return self.vat[tariff.vat].rate_on(day, field)


def _read(entry: Traversable | Path, label: str) -> Any:
    try:
        return json.loads(entry.read_bytes(), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"tariff file {label}: cannot be read as JSON: {exc}") from exc


def _parse(cls: type[Any], data: Any, label: str) -> Any:
    try:
        return parse_model(cls, data)
    except ValidationError as exc:
        raise ConfigurationError(f"tariff file {label}: {exc}") from exc


def _overlay(
    entries: Iterable[Traversable | Path],
    where: str,
    tariffs: dict[str, Tariff],
    vat: dict[str, VatSchedule],
) -> None:
    """Parse the JSON files of one directory into ``tariffs`` and ``vat`` (replacing)."""
    seen: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        if not entry.is_file() or not entry.name.endswith(".json"):
            continue
        label = f"{where}/{entry.name}"
        data = _read(entry, label)
        if entry.name == VAT_FILE:
            vat.update(_parse(_VatFile, data, label).schedules)
            continue
        tariff: Tariff = _parse(Tariff, data, label)
        if tariff.code in seen:
            raise ConfigurationError(
                f"tariff file {label}: code {tariff.code} is also defined in {seen[tariff.code]}"
            )
        seen[tariff.code] = label
        tariffs[tariff.code] = tariff


def _packaged() -> Traversable:
    return resources.files("evservice.invoices").joinpath("data", "tariffs")


@cache
def _load(directory: str | None, packaged: bool) -> TariffBook:
    tariffs: dict[str, Tariff] = {}
    vat: dict[str, VatSchedule] = {}
    if packaged:
        _overlay(_packaged().iterdir(), "evservice/invoices/data/tariffs", tariffs, vat)
    if directory is not None:
        path = Path(directory)
        if not path.is_dir():
            raise ConfigurationError(f"tariff directory {path} does not exist")
        _overlay(path.iterdir(), str(path), tariffs, vat)
    if not tariffs:
        raise ConfigurationError("no tariff files were found")
    try:
        return TariffBook(tariffs=tariffs, vat=vat)
    except ValueError as exc:  # pydantic's error, or ours from a validator
        raise ConfigurationError(f"tariffs: {exc}") from exc


def load_tariffs(directory: Path | str | None = None, *, packaged: bool = True) -> TariffBook:
    """The tariff book: packaged data, overlaid by ``directory`` when given. Cached per process.

    ``packaged=False`` uses ``directory`` alone (it must then hold a ``vat.json``).
    """
    resolved = None if directory is None else str(Path(directory).expanduser().resolve())
    return _load(resolved, packaged)
