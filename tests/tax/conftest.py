"""A month of demo invoices (a batch, a replacement, an adjustment) for the tax reports."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from evservice._context import Context
from evservice.batch import BatchOptions, BatchSummary, parse_period, run_batch, write_demo_csv
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import (
    InvoiceLine,
    IssuedInvoice,
    adjust,
    list_invoices,
    replace,
)

from .authority import Authority, make_authority

SELLER_SETTINGS = {
    "seller_name": "Tổng công ty Điện lực TP Hà Nội",
    "seller_tax_code": "0100101114",
    "seller_address": "69 Đinh Tiên Hoàng, quận Hoàn Kiếm, Hà Nội",
    "payee_bank_bin": "970436",
    "payee_account": "0011001234567",
    "payee_name": "EVN HANOI",
    "tax_authority_code": "10100",
    "tax_authority_name": "Cục Thuế thành phố Hà Nội",
    "tax_place": "Hà Nội",
}
# The clock fixture stands at 2026-11-01 09:00 in Vietnam: the October batch is issued today.
BATCH_PERIOD = "2026-10"
REPORT_PERIOD = "2026-11"


@dataclass(frozen=True)
class Month:
    ctx: Context
    batch: BatchSummary
    replaced: IssuedInvoice
    replacement: IssuedInvoice
    adjusted: IssuedInvoice
    adjustment: IssuedInvoice


def tax_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=SELLER_SETTINGS)


def correct(ctx: Context, invoices: list[IssuedInvoice]) -> tuple[IssuedInvoice, ...]:
    """Replace the first invoice (a lower price) and adjust the second (+ 10,000 dong)."""
    first, second = invoices[0], invoices[1]
    lines = [
        line.model_copy(update={"unit_price": line.unit_price - 1, "amount": None})
        if line.unit_price is not None and line.unit_price > 1
        else line
        for line in first.invoice.draft.lines
    ]
    new = first.invoice.draft.model_copy(update={"lines": lines, "reference": None})
    replacement = replace(first.row_id, new, reason="Sai đơn giá", ctx=ctx)
    vat = next(line.vat_rate for line in second.invoice.draft.lines if line.vat_rate)
    extra = InvoiceLine(name="Điều chỉnh tăng tiền điện", amount=Decimal(10_000), vat_rate=vat)
    adjustment_draft = second.invoice.draft.model_copy(update={"lines": [extra], "reference": None})
    adjustment = adjust(second.row_id, adjustment_draft, reason="Sai chỉ số công tơ", ctx=ctx)
    return first, replacement, second, adjustment


def make_month(ctx: Context, tmp_path: Path, customers: int) -> Month:
    source = write_demo_csv(
        tmp_path / "input.csv", customers=customers, period=parse_period(BATCH_PERIOD)
    )
    batch = run_batch(source, BATCH_PERIOD, ctx=ctx, options=BatchOptions(workers=0))
    assert batch.issued == customers
    invoices = list_invoices(ctx=ctx, limit=10_000)
    replaced, replacement, adjusted, adjustment = correct(ctx, invoices)
    return Month(ctx, batch, replaced, replacement, adjusted, adjustment)


@pytest.fixture
def tctx(settings: Settings, clock: ManualClock) -> Context:
    """A context with the seller (the reporting taxpayer), on each back end."""
    return Context(settings=tax_settings(settings), clock=clock)


@pytest.fixture
def month(tctx: Context, tmp_path: Path) -> Month:
    return make_month(tctx, tmp_path, customers=30)


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """The test tax authority's root CA and signing certificate (made once)."""
    return make_authority(tmp_path_factory.mktemp("authority"))
