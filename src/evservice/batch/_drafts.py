"""Rows to drafts: a CSV row priced and turned into an :class:`InvoiceDraft`.

The same function (:func:`bill`) serves the validation pass (in the calling
process) and the issuing pass (in a worker), so a row that passed validation
drafts the same way when it is issued. :class:`Params` holds the per-run values
every worker needs; it is small and picklable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from evservice._context import Context
from evservice._pydantic import parse_model
from evservice.batch._input import BatchPeriod, MeterRow, Rejection, Row
from evservice.batch._options import BatchOptions
from evservice.clock import vn_date
from evservice.config import Settings
from evservice.errors import ConfigurationError, ValidationError
from evservice.invoices import (
    Buyer,
    InvoiceDraft,
    InvoiceLine,
    PricedReading,
    Seller,
    TariffBook,
    apply_credit,
    bill_subscription,
    price_reading,
    validate_series_for_date,
    validate_template,
)

__all__ = [
    "Bill",
    "Params",
    "batch_reference",
    "draft_row",
    "make_params",
    "row_rejection",
    "seller_from_settings",
]

#: Fields of a draft, named as the CSV columns they come from.
_COLUMNS = {
    "buyer.person_name": "name",
    "buyer.name": "name",
    "buyer.address": "address",
    "buyer.phone": "phone",
    "buyer.email": "email",
    "buyer.tax_code": "tax_code",
    "buyer.customer_code": "customer_id",
    "kwh": "current_index",
    "credit.amount": "credit",
    "plan.code": "plan_code",
    "plan.name": "plan_name",
    "plan.monthly_fee": "monthly_fee",
    "plan.vat_rate": "vat_rate",
}
_SELLER_ENV = {
    "name": "EVSERVICE_SELLER_NAME",
    "tax_code": "EVSERVICE_SELLER_TAX_CODE",
    "address": "EVSERVICE_SELLER_ADDRESS",
    "phone": "EVSERVICE_SELLER_PHONE",
    "email": "EVSERVICE_SELLER_EMAIL",
    "bank_account": "EVSERVICE_SELLER_BANK_ACCOUNT",
    "bank_name": "EVSERVICE_SELLER_BANK_NAME",
}
#: Longest e-mail address the invoice's buyer block (DCTDTu) can carry.
_MAX_INVOICE_EMAIL = 50


@dataclass(frozen=True)
class Params:
    """The per-run values every worker needs (picklable, small)."""

    period: BatchPeriod
    template: str
    series: str
    issue_date: date
    seller: Seller
    deliver: bool
    notify_anomalies: bool
    due_days: int


@dataclass(frozen=True)
class Bill:
    """A row turned into a draft, with what the summary and the history need."""

    draft: InvoiceDraft
    priced: PricedReading | None
    kwh: Decimal | None
    credit_left: Decimal | None  # subscriptions: the balance to store after this invoice


def batch_reference(period: BatchPeriod | str, customer_id: str, item_key: str) -> str:
    """The idempotency key of one (period, customer, meter or plan): at most 100 characters.

    ``2026-11:PD000000001:meter:PE0000000001``; a key that would be longer ends
    in a hash of the meter or plan instead.
    """
    text = f"{period}:{customer_id}:{item_key}"
    if len(text) <= 100:
        return text
    return f"{period}:{customer_id}:#{hashlib.sha256(item_key.encode()).hexdigest()[:32]}"


def _column(field_name: str) -> str:
    return _COLUMNS.get(field_name, field_name)


def row_rejection(row: Row, exc: ValidationError) -> Rejection:
    return Rejection(row.row_number, row.customer_id, _column(exc.field), exc.reason)


def _buyer(row: Row) -> Buyer:
    """The buyer block: a company with its tax code, or a person (HVTNMHang)."""
    email = row.email if row.email and len(row.email) <= _MAX_INVOICE_EMAIL else None
    data: dict[str, Any] = {
        "address": row.address,
        "phone": row.phone,
        "email": email,
        "customer_code": row.customer_id,
    }
    if row.tax_code:
        data |= {"name": row.name, "tax_code": row.tax_code}
    else:
        data["person_name"] = row.name
    return parse_model(Buyer, data, prefix="buyer")


def _dates(start: date, end: date) -> dict[str, str]:
    return {"TuNgay": f"{start:%d/%m/%Y}", "DenNgay": f"{end:%d/%m/%Y}"}


def draft_row(row: Row, params: Params, tariffs: TariffBook, stored_credit: int = 0) -> Bill:
    """Price ``row`` and make its draft. Raises :class:`ValidationError` naming the field."""
    buyer = _buyer(row)
    priced: PricedReading | None = None
    kwh: Decimal | None = None
    credit_left: Decimal | None = None
    extra = {"KyHoaDon": str(params.period)}
    lines: Sequence[InvoiceLine]
    if isinstance(row, MeterRow):
        if row.period_end > params.issue_date:
            raise ValidationError(
                "period_end",
                f"{row.period_end.isoformat()} is after the issue date "
                f"{params.issue_date.isoformat()}: a reading cannot end in the future",
            )
        kwh = row.kwh
        priced = price_reading(
            {
                "meter_id": row.meter_id,
                "period_start": row.period_start,
                "period_end": row.period_end,
                "kwh": kwh,
                "households": row.households,
            },
            tariff_code=row.tariff_code,
            tariffs=tariffs,
        )
        lines = priced.lines
        extra |= {
            "MaCongTo": row.meter_id,
            **_dates(row.period_start, row.period_end),
            "ChiSoCu": str(int(row.previous_index)),
            "ChiSoMoi": str(int(row.current_index)),
            "DienNangTieuThu": str(int(kwh)),
            "SoHo": str(row.households),
            "QuayVongCongTo": "1" if row.rolled_over else "0",
        }
    else:
        line = bill_subscription(
            {
                "code": row.plan_code,
                "name": row.plan_name,
                "monthly_fee": row.monthly_fee,
                "vat_rate": row.vat_rate,
            },
            row.period_start,
            row.period_end,
        )
        applied = apply_credit(
            [line],
            {"amount": Decimal(stored_credit) + row.credit, "reference": row.customer_id},
            vat_rate=row.vat_rate,
        )
        lines = applied.lines
        credit_left = applied.remaining.amount
        extra |= {"MaGoiCuoc": row.plan_code, **_dates(row.period_start, row.period_end)}
        if applied.used:
            extra |= {"TruSoDu": str(applied.used), "SoDuConLai": str(credit_left)}
    draft = parse_model(
        InvoiceDraft,
        {
            "template": params.template,
            "series": params.series,
            "issue_date": params.issue_date,
            "seller": params.seller,
            "buyer": buyer,
            "lines": list(lines),
            "reference": batch_reference(params.period, row.customer_id, row.item_key),
            "extra": extra,
        },
    )
    return Bill(draft=draft, priced=priced, kwh=kwh, credit_left=credit_left)


# -- issuing one chunk (in a worker) ------------------------------------------------------


def seller_from_settings(settings: Settings) -> Seller:
    """The seller of batch invoices from the ``EVSERVICE_SELLER_*`` settings."""
    missing = [
        _SELLER_ENV[name]
        for name in ("name", "tax_code", "address")
        if not getattr(settings, f"seller_{name}")
    ]
    if missing:
        raise ConfigurationError(
            f"the seller of the invoices is not configured: set {', '.join(missing)}"
        )
    data = {name: getattr(settings, f"seller_{name}") for name in _SELLER_ENV}
    try:
        return parse_model(Seller, data)
    except ValidationError as exc:
        name = exc.field.split(".")[0]
        raise ConfigurationError(
            f"{_SELLER_ENV.get(name, 'EVSERVICE_SELLER_*')}: {exc.reason}"
        ) from exc


def make_params(ctx: Context, period: BatchPeriod, options: BatchOptions) -> Params:
    today = vn_date(ctx.clock.now())
    issue_date = options.issue_date or today
    if issue_date > today:
        raise ValidationError(
            "issue_date", f"{issue_date.isoformat()} is after today ({today.isoformat()})"
        )
    if not 0 <= options.due_days <= 365:
        raise ValidationError("due_days", "must be between 0 and 365")
    if period.last_day >= issue_date and not options.open_period:
        raise ValidationError(
            "period",
            f"{period} has not ended by the issue date {issue_date.isoformat()} (it ends on "
            f"{period.last_day.isoformat()}): bill a finished month, or allow it explicitly "
            "(BatchOptions(open_period=True), --open-period)",
        )
    series = options.series or ctx.settings.invoice_series or f"C{issue_date.year % 100:02d}TEV"
    return Params(
        period=period,
        template=validate_template(options.template),
        series=validate_series_for_date(series, issue_date),
        issue_date=issue_date,
        seller=options.seller or seller_from_settings(ctx.settings),
        deliver=options.deliver,
        notify_anomalies=options.notify_anomalies,
        due_days=options.due_days,
    )
