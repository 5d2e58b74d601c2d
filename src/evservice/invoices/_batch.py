"""The monthly batch: one period's invoices for every customer, from a CSV file.

:func:`run_batch` makes two streaming passes over the input (columns in
:mod:`evservice.invoices._batch_input`):

1. Validation. Every row is read, priced and turned into a draft; a row that
   fails (bad cell, no tariff for its dates, a name too long for the invoice,
   ...) goes to ``rejected.csv`` with its row number, field and reason. Nothing
   is issued before this pass is complete.
2. Issuing. The valid rows are read again and sent in chunks to workers: a
   local process pool (``workers`` processes, each loading fonts, keys and
   tariffs once) or a Dask cluster. Only a bounded number of chunks is in
   flight, so memory stays flat however long the file. A worker numbers a
   whole chunk in one transaction (:func:`record_invoices`: one counter lock,
   one insert, one audit append), renders each invoice's signed XML and PDF
   and stores them a hundred at a time (:func:`ensure_many_documents`: one
   flush to disk, one transaction); numbering stays gapless with any number
   of workers.

Exactly once, resumable: each (period, customer, meter or plan) has one
reference, and :func:`record_invoices` gives back the invoice already issued
under it, so a rerun after a kill issues only what is missing, with the next
consecutive numbers. A run starts by completing the documents a killed run left
unwritten (:func:`complete_pending`). What the batch remembers is written in the
transaction it belongs to: the consumption history and the carried credit in
the numbering transaction (the ``on_recorded`` hook, which a rerun never calls
again for an issued invoice), and each queued message with its ``batch_notice``
row, so a rerun neither spends a credit twice nor sends a notice twice.

Credit: a subscription row's ``credit`` cell adds to the balance stored for the
customer's plan; the invoice spends what it can (:func:`apply_credit`) and the
rest is stored for later periods.

The run ends by publishing an audit checkpoint and, with ``deliver``, sending
what the outbox holds. The result is a :class:`BatchSummary`, also written as
``summary.json`` next to ``rejected.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import multiprocessing
import multiprocessing.context
import os
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSet, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice._pydantic import parse_model
from evservice.batch._tables import BatchCredit, BatchHistory, BatchNotice
from evservice.clock import ManualClock, SystemClock, vn_date
from evservice.config import Settings
from evservice.delivery import (
    Channel,
    Message,
    channel_from_settings,
    dispatch,
    enqueue,
    invoice_email,
    invoice_sms,
)
from evservice.errors import (
    BatchError,
    ConfigurationError,
    DocumentError,
    EvServiceError,
    StoreError,
    ValidationError,
)
from evservice.invoices._anomalies import Anomaly, BilledItem, find_anomalies, notice_messages
from evservice.invoices._batch_input import (
    BatchPeriod,
    MeterRow,
    Rejection,
    SubscriptionRow,
    parse_period,
    read_batch_csv,
)
from evservice.invoices._identifiers import validate_series_for_date, validate_template
from evservice.invoices._issue import (
    IssuedInvoice,
    complete_pending,
    ensure_many_documents,
    record_invoices,
)
from evservice.invoices._model import Buyer, Invoice, InvoiceDraft, InvoiceLine, Seller
from evservice.invoices._pricing import PricedReading, price_reading
from evservice.invoices._subscriptions import apply_credit, bill_subscription
from evservice.invoices._tariffs import TariffBook, load_tariffs
from evservice.money import ZERO
from evservice.store import transaction

__all__ = [
    "BatchOptions",
    "BatchSummary",
    "ProgressCallback",
    "batch_reference",
    "run_batch",
    "seller_from_settings",
]

Row = MeterRow | SubscriptionRow
#: ``progress(phase, done, total)``: phase ``"validate"`` (rows read, total unknown)
#: then ``"issue"`` (rows issued or found issued, of the valid rows).
ProgressCallback = Callable[[str, int, int | None], None]

_HISTORY: sa.Table = BatchHistory.__table__  # type: ignore[attr-defined]
_CREDIT: sa.Table = BatchCredit.__table__  # type: ignore[attr-defined]
_NOTICE: sa.Table = BatchNotice.__table__  # type: ignore[attr-defined]
_CREDIT_ATTEMPTS = 5
_SET_CREDIT = (
    sa.update(_CREDIT)
    .where(_CREDIT.c.customer_id == sa.bindparam("c"), _CREDIT.c.plan_code == sa.bindparam("p"))
    .values(
        balance=sa.bindparam("balance"),
        period=sa.bindparam("period"),
        updated_at=sa.bindparam("updated_at"),
    )
)
_REJECTED_COLUMNS = ("row_number", "customer_id", "field", "reason")
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


# -- options and summary ------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch. Every field has a working default.

    ``series`` defaults to ``settings.invoice_series``, else ``C<yy>TEV`` of the
    issue year; ``issue_date`` to today in Vietnam (by the context's clock);
    ``seller`` to the ``EVSERVICE_SELLER_*`` settings. ``workers`` is the size of
    the local process pool (default: the CPU count; 0 issues in the calling
    process). A script that starts workers must guard its entry point with
    ``if __name__ == "__main__":``, as the workers import the main module.
    ``engine="dask"`` sends the chunks to the Dask scheduler at ``scheduler``
    instead. ``chunk_size`` is the most rows a worker gets at once (small files
    use fewer: about ten chunks per worker). ``deliver`` queues each invoice's
    e-mail (PDF and XML attached) and SMS in the outbox and sends them at the
    end with ``channel`` (default: from the settings); ``notify_anomalies``
    queues a notice to customers whose invoice is flagged. ``report_dir``
    defaults to ``data_dir/reports/<period>``. ``progress`` is called as rows
    are checked and issued; ``listed`` caps the anomalies and rejections the
    summary lists (its counts are complete).
    """

    series: str | None = None
    template: str = "1"
    issue_date: date | None = None
    seller: Seller | None = None
    workers: int | None = None
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    chunk_size: int = 100
    deliver: bool = False
    notify_anomalies: bool = False
    due_days: int = 10
    report_dir: Path | None = None
    progress: ProgressCallback | None = None
    channel: Channel | None = None
    listed: int = 50


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did: counts, totals by VAT rate and by tier, anomalies, paths, speed.

    ``issued`` counts invoices numbered by this run, ``already_issued`` those a
    previous run had issued for rows of this file; the totals cover both (the
    whole period of this file). ``anomalies``/``rejections`` list the first
    ``BatchOptions.listed`` of each; the counts are complete. ``workers`` is the
    local pool's size, or the Dask cluster's worker threads.
    """

    period: str
    input: Path
    series: str
    template: str
    issue_date: date
    engine: str
    workers: int
    rows: int
    valid: int
    issued: int
    already_issued: int
    rejected: int
    completed_pending: int
    meters: int
    subscriptions: int
    by_vat_rate: Mapping[str, Mapping[str, Decimal]]
    by_tier: Mapping[int, Mapping[str, Decimal]]
    total_before_tax: Decimal
    total_tax: Decimal
    total_payable: Decimal
    credit_used: Decimal
    anomaly_counts: Mapping[str, int]
    anomalies: tuple[Anomaly, ...]
    rejections: tuple[Rejection, ...]
    deliveries: Mapping[str, int]
    first_number: int | None
    last_number: int | None
    checkpoint_size: int | None
    data_dir: Path
    report_dir: Path
    rejected_csv: Path
    summary_json: Path
    elapsed_seconds: float

    @property
    def invoices_per_second(self) -> float:
        """Invoices numbered and signed by this run per second of its whole run time."""
        return self.issued / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def anomaly_total(self) -> int:
        return sum(self.anomaly_counts.values())

    @property
    def exit_code(self) -> int:
        """0 when every row was issued, 1 when some were rejected (the others issued)."""
        return 1 if self.rejected else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as strings, dates in ISO form, paths absolute."""

        def amounts(values: Mapping[str, Decimal]) -> dict[str, str]:
            return {k: str(v) for k, v in values.items()}

        return {
            "period": self.period,
            "input": str(self.input),
            "series": self.series,
            "template": self.template,
            "issue_date": self.issue_date.isoformat(),
            "engine": self.engine,
            "workers": self.workers,
            "counts": {
                "rows": self.rows,
                "valid": self.valid,
                "issued": self.issued,
                "already_issued": self.already_issued,
                "rejected": self.rejected,
                "completed_pending": self.completed_pending,
                "meters": self.meters,
                "subscriptions": self.subscriptions,
            },
            "numbers": {"first": self.first_number, "last": self.last_number},
            "totals": {
                "before_tax": str(self.total_before_tax),
                "tax": str(self.total_tax),
                "payable": str(self.total_payable),
                "credit_used": str(self.credit_used),
            },
            "by_vat_rate": {rate: amounts(v) for rate, v in self.by_vat_rate.items()},
            "by_tier": {str(tier): amounts(v) for tier, v in self.by_tier.items()},
            "anomalies": {
                "count": self.anomaly_total,
                "by_kind": dict(self.anomaly_counts),
                "listed": [a.to_dict() for a in self.anomalies],
            },
            "rejections": [dataclasses.asdict(r) for r in self.rejections],
            "deliveries": dict(self.deliveries),
            "checkpoint_size": self.checkpoint_size,
            "paths": {
                "data_dir": str(self.data_dir),
                "invoices": str(self.data_dir / "invoices"),
                "report_dir": str(self.report_dir),
                "rejected_csv": str(self.rejected_csv),
                "summary_json": str(self.summary_json),
            },
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "invoices_per_second": round(self.invoices_per_second, 2),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


# -- what a worker needs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Params:
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
class _Job:
    """One chunk of rows for a worker. ``clock_at`` fixes the clock (None: the real time)."""

    settings: Settings
    clock_at: datetime | None
    params: _Params
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class _Bill:
    """A row turned into a draft, with what the summary and the history need."""

    draft: InvoiceDraft
    priced: PricedReading | None
    kwh: Decimal | None
    credit_left: Decimal | None  # subscriptions: the balance to store after this invoice


@dataclass(frozen=True)
class _Outcome:
    row: Row
    bill: _Bill
    issued: IssuedInvoice


@dataclass
class _Tally:
    """Counts and sums of issued rows; chunks make their own and the run merges them."""

    issued: int = 0
    already_issued: int = 0
    meters: int = 0
    subscriptions: int = 0
    by_rate: dict[str, list[Decimal]] = field(default_factory=dict)  # [amount, tax]
    by_tier: dict[int, list[Decimal]] = field(default_factory=dict)  # [kwh, amount]
    credit_used: Decimal = ZERO
    first_number: int | None = None
    last_number: int | None = None
    deliveries: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: _Outcome) -> None:
        issued = outcome.issued
        if issued.created:
            self.issued += 1
            number = issued.number
            self.first_number = min(self.first_number or number, number)
            self.last_number = max(self.last_number or number, number)
        else:
            self.already_issued += 1
        totals = issued.invoice.totals
        for group in totals.by_rate:
            sums = self.by_rate.setdefault(group.rate, [ZERO, ZERO])
            sums[0] += group.amount
            sums[1] += group.tax or ZERO
        if isinstance(outcome.row, MeterRow):
            self.meters += 1
        else:
            self.subscriptions += 1
            self.credit_used += totals.trade_discount
        if outcome.bill.priced is not None:
            for segment in outcome.bill.priced.segments:
                for charge in segment.tiers:
                    sums = self.by_tier.setdefault(charge.tier, [ZERO, ZERO])
                    sums[0] += charge.kwh
                    sums[1] += charge.amount

    def merge(self, other: _Tally) -> None:
        self.issued += other.issued
        self.already_issued += other.already_issued
        self.meters += other.meters
        self.subscriptions += other.subscriptions
        for rate, (amount, tax) in other.by_rate.items():
            sums = self.by_rate.setdefault(rate, [ZERO, ZERO])
            sums[0] += amount
            sums[1] += tax
        for tier, (kwh, amount) in other.by_tier.items():
            sums = self.by_tier.setdefault(tier, [ZERO, ZERO])
            sums[0] += kwh
            sums[1] += amount
        self.credit_used += other.credit_used
        numbers = [n for n in (self.first_number, other.first_number) if n is not None]
        self.first_number = min(numbers) if numbers else None
        numbers = [n for n in (self.last_number, other.last_number) if n is not None]
        self.last_number = max(numbers) if numbers else None
        self.deliveries.update(other.deliveries)


@dataclass
class _ChunkResult:
    """What a worker sends back: never the invoices themselves, only sums and flags."""

    done: int = 0
    tally: _Tally = field(default_factory=_Tally)
    anomalies: list[Anomaly] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    error: str | None = None  # our errors travel as text: their classes need keyword args


class _CreditChanged(BatchError):
    """The stored credit moved between drafting and numbering; draft again."""


# -- rows to drafts -----------------------------------------------------------------------


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


def _rejection(row: Row, exc: ValidationError) -> Rejection:
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


def _bill(row: Row, params: _Params, tariffs: TariffBook, stored_credit: int = 0) -> _Bill:
    """Price ``row`` and make its draft. Raises :class:`ValidationError` naming the field."""
    buyer = _buyer(row)
    priced: PricedReading | None = None
    kwh: Decimal | None = None
    credit_left: Decimal | None = None
    extra = {"KyHoaDon": str(params.period)}
    lines: Sequence[InvoiceLine]
    if isinstance(row, MeterRow):
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
    return _Bill(draft=draft, priced=priced, kwh=kwh, credit_left=credit_left)


# -- issuing one chunk (in a worker) ------------------------------------------------------


def _on_recorded(
    params: _Params, billed: Mapping[str, tuple[Row, _Bill]], stored: Mapping[tuple[str, str], int]
) -> Callable[[Session, Sequence[Invoice]], None]:
    """The hook run in the numbering transaction: history rows, then the credit balances.

    ``billed`` maps each draft's reference to its row and bill; ``stored`` holds
    the credit balances the bills were drafted with.
    """

    def hook(session: Session, invoices: Sequence[Invoice]) -> None:
        history: list[dict[str, Any]] = []
        credits: list[tuple[SubscriptionRow, Invoice, int]] = []
        for invoice in invoices:
            assert invoice.draft.reference is not None  # noqa: S101 - batch drafts have one
            row, bill = billed[invoice.draft.reference]
            totals = invoice.totals
            history.append(
                {
                    "customer_id": row.customer_id,
                    "item_key": row.item_key,
                    "period": str(params.period),
                    "invoice_id": str(invoice.id),
                    "kwh": None if bill.kwh is None else int(bill.kwh),
                    "amount": int(totals.before_tax),
                    "payable": int(totals.payable),
                    "rolled_over": isinstance(row, MeterRow) and row.rolled_over,
                    "recorded_at": invoice.issued_at,
                }
            )
            if isinstance(row, SubscriptionRow):
                credits.append((row, invoice, int(bill.credit_left or 0)))
        session.execute(sa.insert(_HISTORY), history)
        if credits:
            _store_credits(session, params, credits, stored)

    return hook


def _credit_key(row: SubscriptionRow) -> tuple[str, str]:
    return (row.customer_id, row.plan_code)


def _store_credits(
    session: Session,
    params: _Params,
    credits: Sequence[tuple[SubscriptionRow, Invoice, int]],
    expected: Mapping[tuple[str, str], int],
) -> None:
    """Set each plan's balance to what its invoice left, if it is still what was drafted with.

    The balances are locked first (in one query); one that moved since it was read
    raises :class:`_CreditChanged` and the chunk is drafted again.
    """
    customers = sorted({row.customer_id for row, _, _ in credits})
    query = (
        sa.select(_CREDIT.c.customer_id, _CREDIT.c.plan_code, _CREDIT.c.balance)
        .where(_CREDIT.c.customer_id.in_(customers))
        .order_by(_CREDIT.c.customer_id, _CREDIT.c.plan_code)
        .with_for_update()
    )
    found = {(c, p): int(b) for c, p, b in session.execute(query)}
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for row, invoice, left in credits:
        key = _credit_key(row)
        if found.get(key, 0) != expected.get(key, 0):
            raise _CreditChanged(f"the credit of customer {row.customer_id} changed meanwhile")
        values = {"balance": left, "period": str(params.period), "updated_at": invoice.issued_at}
        if key in found:
            updates.append({"c": row.customer_id, "p": row.plan_code, **values})
        elif left:
            inserts.append({"customer_id": row.customer_id, "plan_code": row.plan_code, **values})
    if updates:
        session.execute(_SET_CREDIT, updates)
    if inserts:
        session.execute(sa.insert(_CREDIT), inserts)


def _read_credits(ctx: Context, rows: Iterable[Row]) -> dict[tuple[str, str], int]:
    """Stored balances of the chunk's subscription rows, in one query."""
    wanted = {(r.customer_id, r.plan_code) for r in rows if isinstance(r, SubscriptionRow)}
    if not wanted:
        return {}
    customers = sorted({customer for customer, _ in wanted})
    query = sa.select(_CREDIT.c.customer_id, _CREDIT.c.plan_code, _CREDIT.c.balance).where(
        _CREDIT.c.customer_id.in_(customers)
    )
    with transaction(ctx.engine) as session:
        found = session.execute(query).all()
    return {(c, p): int(b) for c, p, b in found if (c, p) in wanted}


def _issue_rows(
    ctx: Context, params: _Params, tariffs: TariffBook, rows: Sequence[Row]
) -> tuple[list[_Outcome], list[Rejection]]:
    """Number the chunk's invoices in one transaction, then make their documents.

    Rows that no longer price (a tariff file changed since the validation pass)
    are rejected, not issued. Documents are rendered and stored a hundred
    invoices at a time (:func:`ensure_many_documents`).
    """
    for _ in range(_CREDIT_ATTEMPTS):
        stored = _read_credits(ctx, rows)
        billed: dict[str, tuple[Row, _Bill]] = {}
        rejections: list[Rejection] = []
        for row in rows:
            credit = stored.get(_credit_key(row), 0) if isinstance(row, SubscriptionRow) else 0
            try:
                bill = _bill(row, params, tariffs, credit)
            except ValidationError as exc:
                rejections.append(_rejection(row, exc))
                continue
            assert bill.draft.reference is not None  # noqa: S101 - batch drafts have one
            billed[bill.draft.reference] = (row, bill)
        try:
            issued = record_invoices(
                [bill.draft for _, bill in billed.values()],
                ctx=ctx,
                on_recorded=_on_recorded(params, billed, stored),
            )
        except _CreditChanged:
            continue
        documented = ensure_many_documents(issued, ctx=ctx)
        outcomes = [
            _Outcome(row, bill, invoice)
            for (row, bill), invoice in zip(billed.values(), documented, strict=True)
        ]
        return outcomes, rejections
    raise BatchError(
        f"rows {rows[0].row_number}-{rows[-1].row_number}: a customer's credit kept changing "
        "while the invoices were drafted; is another batch running for the same customers?"
    )


def _notices(ctx: Context, invoice_ids: Sequence[str]) -> dict[str, set[str]]:
    """The notice kinds already queued for each of ``invoice_ids``."""
    if not invoice_ids:
        return {}
    found: dict[str, set[str]] = {}
    with transaction(ctx.engine) as session:
        query = sa.select(_NOTICE.c.invoice_id, _NOTICE.c.kind).where(
            _NOTICE.c.invoice_id.in_(list(invoice_ids))
        )
        for invoice_id, kind in session.execute(query):
            found.setdefault(invoice_id, set()).add(kind)
    return found


def _queue_once(
    ctx: Context,
    issued: IssuedInvoice,
    messages: Sequence[tuple[str, Message]],
    event_type: str,
    extra: Mapping[str, str] | None = None,
) -> list[str]:
    """Queue the messages not queued before for this invoice, with one audit event.

    Returns the kinds queued now. The ``batch_notice`` rows, the outbox rows and
    the event share one transaction; a twin process that got there first makes
    this one's insert conflict, and then nothing is queued twice.
    """
    try:
        with transaction(ctx.engine) as session:
            done = {
                kind
                for (kind,) in session.execute(
                    sa.select(_NOTICE.c.kind).where(_NOTICE.c.invoice_id == issued.row_id)
                )
            }
            fresh = [(kind, message) for kind, message in messages if kind not in done]
            if not fresh:
                return []
            now = ctx.clock.now()
            for kind, message in fresh:
                enqueue(session, message, ctx=ctx)
                session.execute(
                    sa.insert(_NOTICE).values(
                        invoice_id=issued.row_id, kind=kind, message_id=message.id, created_at=now
                    )
                )
            audit.record(
                session,
                type=event_type,
                subject=issued.row_id,
                actor="system",
                at=now,
                data={
                    "invoice": issued.label,
                    "channels": sorted(message.kind for _, message in fresh),
                    "messages": [message.id for _, message in fresh],
                    **(extra or {}),
                },
            )
    except StoreError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            return []  # queued meanwhile by another process
        raise
    return [kind for kind, _ in fresh]


def _documents(issued: IssuedInvoice) -> tuple[bytes, bytes]:
    if issued.pdf_path is None or issued.xml_path is None:
        raise DocumentError(f"invoice {issued.label} has no documents to send yet")
    try:
        return issued.pdf_path.read_bytes(), issued.xml_path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"cannot read the documents of invoice {issued.label}: {exc.strerror}"
        ) from exc


def _deliver(ctx: Context, params: _Params, outcomes: Sequence[_Outcome], tally: _Tally) -> None:
    """Queue each invoice's e-mail (PDF and XML attached) and SMS, once per invoice."""
    queued = _notices(ctx, [o.issued.row_id for o in outcomes])
    for outcome in outcomes:
        row, issued = outcome.row, outcome.issued
        done = queued.get(issued.row_id, set())
        invoice = issued.invoice
        due = invoice.draft.issue_date + timedelta(days=params.due_days)
        payable = invoice.totals.payable
        base = invoice.id.hex
        messages: list[tuple[str, Message]] = []
        try:
            if row.email and "invoice-email" not in done:
                pdf, xml = _documents(issued)
                email = invoice_email(
                    to=row.email,
                    customer_name=row.name,
                    seller_name=params.seller.name,
                    invoice_label=issued.label,
                    amount=payable,
                    due_date=due,
                    lookup_code=issued.lookup_code,
                    lookup_url=ctx.settings.lookup_url,
                    pdf=pdf,
                    xml=xml,
                )
                messages.append(("invoice-email", dataclasses.replace(email, id=f"{base}-ie")))
        except ValidationError:
            tally.deliveries["undeliverable"] += 1
        try:
            if row.phone and "invoice-sms" not in done:
                sms = invoice_sms(
                    to=row.phone,
                    invoice_label=issued.label,
                    amount=payable,
                    due_date=due,
                    lookup_code=issued.lookup_code,
                    lookup_url=ctx.settings.lookup_url,
                )
                messages.append(("invoice-sms", dataclasses.replace(sms, id=f"{base}-is")))
        except ValidationError:
            tally.deliveries["undeliverable"] += 1
        if messages:
            for kind in _queue_once(ctx, issued, messages, "invoice.delivered"):
                tally.deliveries["email" if kind == "invoice-email" else "sms"] += 1


def _notify(
    ctx: Context,
    params: _Params,
    outcomes: Sequence[_Outcome],
    anomalies: Sequence[Anomaly],
    tally: _Tally,
) -> None:
    """Queue the anomaly notices of flagged invoices, once per invoice."""
    flagged = [a for a in anomalies if a.kind != "rollover"]
    if not flagged:
        return
    by_invoice = {o.issued.row_id: o for o in outcomes}
    queued = _notices(ctx, [a.invoice_id for a in flagged])
    for anomaly in flagged:
        outcome = by_invoice[anomaly.invoice_id]
        done = queued.get(anomaly.invoice_id, set())
        try:
            messages = notice_messages(
                anomaly,
                period=params.period,
                lookup_code=outcome.issued.lookup_code,
                seller_name=params.seller.name,
                phone=outcome.row.phone,
                email=outcome.row.email,
            )
        except ValidationError:
            tally.deliveries["undeliverable"] += 1
            continue
        fresh = [(kind, message) for kind, message in messages if kind not in done]
        if fresh:
            kinds = _queue_once(
                ctx, outcome.issued, fresh, "invoice.anomaly_notified", {"anomaly": anomaly.kind}
            )
            tally.deliveries["anomaly_notices"] += len(kinds)


def _process(ctx: Context, params: _Params, rows: Sequence[Row]) -> _ChunkResult:
    """Issue one chunk: each row's invoice and documents, then anomalies and notices."""
    result = _ChunkResult()
    tariffs = load_tariffs(ctx.settings.tariff_dir)
    outcomes: list[_Outcome] = []
    try:
        outcomes, result.rejections = _issue_rows(ctx, params, tariffs, rows)
        for outcome in outcomes:
            result.tally.add(outcome)
        result.done = len(rows)
        items = [
            BilledItem(
                customer_id=o.row.customer_id,
                item_key=o.row.item_key,
                invoice_id=o.issued.row_id,
                invoice=o.issued.label,
                payable=o.issued.invoice.totals.payable,
                kwh=o.bill.kwh,
                rolled_over=isinstance(o.row, MeterRow) and o.row.rolled_over,
            )
            for o in outcomes
        ]
        with transaction(ctx.engine) as session:
            result.anomalies = find_anomalies(session, params.period, items)
        if params.deliver:
            _deliver(ctx, params, outcomes, result.tally)
        if params.notify_anomalies:
            _notify(ctx, params, outcomes, result.anomalies, result.tally)
    except EvServiceError as exc:
        where = f"rows {rows[0].row_number}-{rows[-1].row_number}: " if not result.done else ""
        result.error = f"{where}{type(exc).__name__}: {exc}"
    return result


#: Contexts of a worker process, one per settings (fonts, keys and engine are cached per
#: process by their own modules; this keeps the Context and its engine lookup too).
_contexts: dict[Settings, Context] = {}


def _worker_context(settings: Settings, clock_at: datetime | None) -> Context:
    if clock_at is not None:
        return Context(settings=settings, clock=ManualClock(clock_at))
    ctx = _contexts.get(settings)
    if ctx is None:
        ctx = _contexts[settings] = Context(settings=settings)
    return ctx


def _warm_worker(settings: Settings) -> None:
    """Load once per worker process what every invoice needs: fonts, key, tariffs, store."""
    from evservice import _fonts
    from evservice.signing import load_signer

    _fonts.register()
    load_signer(settings)
    load_tariffs(settings.tariff_dir)
    _ = _worker_context(settings, None).engine


def issue_chunk(job: _Job) -> _ChunkResult:
    """A worker's task (local pool or Dask): issue the rows of one chunk."""
    return _process(_worker_context(job.settings, job.clock_at), job.params, job.rows)


# -- the run (in the calling process) -----------------------------------------------------


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


def _params(ctx: Context, period: BatchPeriod, options: BatchOptions) -> _Params:
    today = vn_date(ctx.clock.now())
    issue_date = options.issue_date or today
    if issue_date > today:
        raise ValidationError(
            "issue_date", f"{issue_date.isoformat()} is after today ({today.isoformat()})"
        )
    if not 0 <= options.due_days <= 365:
        raise ValidationError("due_days", "must be between 0 and 365")
    series = options.series or ctx.settings.invoice_series or f"C{issue_date.year % 100:02d}TEV"
    return _Params(
        period=period,
        template=validate_template(options.template),
        series=validate_series_for_date(series, issue_date),
        issue_date=issue_date,
        seller=options.seller or seller_from_settings(ctx.settings),
        deliver=options.deliver,
        notify_anomalies=options.notify_anomalies,
        due_days=options.due_days,
    )


class _RejectionLog:
    """``rejected.csv``, written as rejections come; keeps the first few for the summary."""

    def __init__(self, path: Path, listed: int) -> None:
        self.path = path
        self.count = 0
        self.listed: list[Rejection] = []
        self._limit = listed
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise BatchError(f"cannot write the rejection report {path}: {exc.strerror}") from exc
        self._writer = csv.writer(self._handle)
        self._writer.writerow(_REJECTED_COLUMNS)

    def add(self, rejection: Rejection) -> None:
        customer = (rejection.customer_id or "")[:60]
        if customer[:1] in ("=", "+", "-", "@"):
            customer = "'" + customer  # never a formula when opened in a spreadsheet
        self._writer.writerow((rejection.row_number, customer, rejection.field, rejection.reason))
        self.count += 1
        if len(self.listed) < self._limit:
            self.listed.append(rejection)

    def close(self) -> None:
        self._handle.close()


class _SeenKeys(MutableSet[tuple[str, str]]):
    """The (customer, meter or plan) keys of a file, in a temporary SQLite file.

    A set in memory costs about 200 bytes a row (gigabytes for a national
    file); this keeps the batch's memory flat for any number of rows.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = tempfile.TemporaryDirectory(prefix=".keys-", dir=directory)
        self._db = sqlite3.connect(Path(self._dir.name) / "keys.db", isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -8192"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE k (c TEXT, i TEXT, PRIMARY KEY (c, i)) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._count = 0

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        found = self._db.execute("SELECT 1 FROM k WHERE c = ? AND i = ?", key).fetchone()
        return found is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT c, i FROM k")

    def __len__(self) -> int:
        return self._count

    def add(self, value: tuple[str, str]) -> None:
        self._count += self._db.execute("INSERT OR IGNORE INTO k VALUES (?, ?)", value).rowcount

    def discard(self, value: tuple[str, str]) -> None:
        self._count -= self._db.execute("DELETE FROM k WHERE c = ? AND i = ?", value).rowcount

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


def _read(path: Path, params: _Params, scratch: Path) -> Iterator[Row | Rejection]:
    """The rows of the input, duplicates found with keys kept on disk in ``scratch``."""
    seen = _SeenKeys(scratch)
    try:
        yield from read_batch_csv(path, params.period, seen=seen)
    finally:
        seen.close()


def _validate(
    path: Path,
    params: _Params,
    tariffs: TariffBook,
    log: _RejectionLog,
    progress: ProgressCallback | None,
) -> tuple[int, int, set[int]]:
    """Pass 1: (rows, valid rows, numbers of rows rejected after parsing)."""
    rows = valid = 0
    rejected: set[int] = set()
    for item in _read(path, params, log.path.parent):
        rows += 1
        if isinstance(item, Rejection):
            log.add(item)
        else:
            try:
                _bill(item, params, tariffs)
            except ValidationError as exc:
                log.add(_rejection(item, exc))
                rejected.add(item.row_number)
            else:
                valid += 1
        if progress is not None and rows % 500 == 0:
            progress("validate", rows, None)
    if progress is not None:
        progress("validate", rows, rows)
    return rows, valid, rejected


def _chunk_size(largest: int, rows: int, workers: int) -> int:
    """At most ``largest`` rows, fewer for a small file: about ten chunks per worker.

    Small chunks keep every worker busy to the end and the progress bar moving;
    a chunk costs a few queries, so large files use the largest.
    """
    return max(1, min(largest, -(-rows // (10 * max(workers, 1)))))


def _chunks(
    path: Path, params: _Params, skip: set[int], size: int, scratch: Path
) -> Iterator[tuple[Row, ...]]:
    """Pass 2: the valid rows again, ``size`` at a time."""
    chunk: list[Row] = []
    for item in _read(path, params, scratch):
        if isinstance(item, Rejection) or item.row_number in skip:
            continue
        chunk.append(item)
        if len(chunk) >= size:
            yield tuple(chunk)
            chunk = []
    if chunk:
        yield tuple(chunk)


class _Collector:
    """Merges chunk results as they come back (in the calling process)."""

    def __init__(self, log: _RejectionLog, total: int, options: BatchOptions) -> None:
        self.tally = _Tally()
        self.anomaly_counts: Counter[str] = Counter()
        self.anomalies: list[Anomaly] = []
        self.done = 0
        self.late_rejections = 0
        self.workers: int | None = None  # what the engine really used, when it says
        self._log = log
        self._total = total
        self._options = options

    def __call__(self, result: _ChunkResult) -> None:
        self.tally.merge(result.tally)
        for anomaly in result.anomalies:
            self.anomaly_counts[anomaly.kind] += 1
            if len(self.anomalies) < self._options.listed:
                self.anomalies.append(anomaly)
        for rejection in result.rejections:
            self._log.add(rejection)
        self.late_rejections += len(result.rejections)
        self.done += result.done
        if self._options.progress is not None:
            self._options.progress("issue", self.done, self._total)
        if result.error is not None:
            raise BatchError(f"the batch stopped at {result.error}; run it again to resume")


#: Runs the chunks of pass 2, handing each result to the collector.
_Execute = Callable[[Iterable[tuple[Row, ...]], "_Collector"], None]


def _clock_at(ctx: Context) -> datetime | None:
    """Workers use the real time, unless the caller's clock is not the real one (tests)."""
    return None if isinstance(ctx.clock, SystemClock) else ctx.clock.now()


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that imported the batch once (else spawned).

    Never forked from this process, which may hold open store connections and
    threads. The fork server pays the imports (a few seconds) once per run
    instead of once per worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


def _started() -> None:
    """A no-op task: submitting it starts a worker (which warms up) while rows are checked."""


@contextlib.contextmanager
def _executor(
    ctx: Context, params: _Params, options: BatchOptions, workers: int
) -> Iterator[_Execute]:
    """The engine for pass 2, started before pass 1 so that workers warm up meanwhile."""
    if options.engine == "dask":
        with _dask_client(options.scheduler or "") as client:
            yield lambda chunks, collect: _run_dask(ctx, params, chunks, collect, client)
        return
    if workers == 0:
        yield lambda chunks, collect: _run_inline(ctx, params, chunks, collect)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_pool_context(),
        initializer=_warm_worker,
        initargs=(ctx.settings,),
    )
    try:
        for _ in range(workers):
            pool.submit(_started)
        yield lambda chunks, collect: _run_pool(ctx, params, chunks, collect, pool, workers)
    except BrokenProcessPool as exc:
        raise BatchError(f"a worker process died ({exc}); run the batch again to resume") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_inline(
    ctx: Context, params: _Params, chunks: Iterable[tuple[Row, ...]], collect: _Collector
) -> None:
    for rows in chunks:
        collect(_process(ctx, params, rows))


def _run_pool(
    ctx: Context,
    params: _Params,
    chunks: Iterable[tuple[Row, ...]],
    collect: _Collector,
    pool: ProcessPoolExecutor,
    workers: int,
) -> None:
    """Chunks on the local pool, ``2 x workers`` in flight."""
    pending: set[Future[_ChunkResult]] = set()
    for rows in chunks:
        if len(pending) >= 2 * workers:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                collect(future.result())
        job = _Job(ctx.settings, _clock_at(ctx), params, rows)
        pending.add(pool.submit(issue_chunk, job))
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            collect(future.result())


@contextlib.contextmanager
def _dask_client(scheduler: str) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigurationError("the Dask engine needs the 'dask' extra: evservice[dask]") from exc
    try:
        client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        yield client


def _run_dask(
    ctx: Context,
    params: _Params,
    chunks: Iterable[tuple[Row, ...]],
    collect: _Collector,
    client: Any,
) -> None:
    """Chunks on a Dask cluster, twice as many in flight as it has worker threads."""
    from distributed import as_completed

    collect.workers = sum(client.nthreads().values())
    limit = max(2, 2 * collect.workers)
    running = as_completed()  # type: ignore[no-untyped-call]
    in_flight = 0
    for rows in chunks:
        if in_flight >= limit:
            collect(next(running).result())
            in_flight -= 1
        job = _Job(ctx.settings, _clock_at(ctx), params, rows)
        running.add(client.submit(issue_chunk, job, pure=False))  # type: ignore[no-untyped-call]
        in_flight += 1
    for future in running:
        collect(future.result())


def _dispatch_all(ctx: Context, channel: Channel | None) -> Counter[str]:
    """Send what the outbox holds until nothing is due (retries wait for their time)."""
    sent: Counter[str] = Counter()
    own = channel is None
    channel = channel or channel_from_settings(ctx.settings, clock=ctx.clock)
    try:
        while True:
            report = dispatch(ctx, channel, limit=500)
            sent.update(sent=report.sent, retrying=report.retrying, failed=report.failed)
            if report.claimed == 0:
                break
    finally:
        if own:
            channel.close()
    return sent


def run_batch(
    input_path: Path | str,
    period: BatchPeriod | str,
    *,
    ctx: Context | None = None,
    options: BatchOptions | None = None,
) -> BatchSummary:
    """Issue one period's invoices from the CSV at ``input_path``; see the module docstring.

    Bad rows do not stop the batch: they are counted and written to
    ``rejected.csv`` (``summary.exit_code`` is 1). Errors that stop it come from
    our tree (:class:`BatchError` for a worker's failure, naming the row); run
    it again to resume.
    """
    started = time.perf_counter()
    ctx = resolve(ctx)
    options = options or BatchOptions()
    if not isinstance(period, BatchPeriod):
        period = parse_period(period)
    path = Path(input_path)
    if not path.is_file():
        raise ValidationError("input", f"{path} is not a file")
    if not 1 <= options.chunk_size <= 10_000:
        raise ValidationError("chunk_size", "must be between 1 and 10000")
    workers = (os.cpu_count() or 1) if options.workers is None else options.workers
    if workers < 0:
        raise ValidationError("workers", "must not be negative")
    if options.engine not in ("local", "dask"):
        raise ValidationError("engine", "must be local or dask")
    if options.engine == "dask" and not options.scheduler:
        raise ValidationError("scheduler", "the dask engine needs the scheduler's address")
    params = _params(ctx, period, options)
    report_dir = (options.report_dir or ctx.data_dir / "reports" / str(period)).resolve()

    from evservice.signing import load_signer

    _ = ctx.engine  # migrated once, here, before any worker starts
    load_signer(ctx.settings)  # a development key is made here, not by racing workers
    completed = len(complete_pending(ctx=ctx))
    tariffs = load_tariffs(ctx.settings.tariff_dir)
    log = _RejectionLog(report_dir / "rejected.csv", options.listed)
    try:
        with _executor(ctx, params, options, workers) as execute:
            rows, valid, skip = _validate(path, params, tariffs, log, options.progress)
            collect = _Collector(log, valid, options)
            if options.progress is not None:
                options.progress("issue", 0, valid)
            size = _chunk_size(options.chunk_size, valid, workers)
            execute(_chunks(path, params, skip, size, report_dir), collect)
    finally:
        log.close()
    deliveries = Counter(collect.tally.deliveries)
    if options.deliver or options.notify_anomalies:
        deliveries.update(_dispatch_all(ctx, options.channel))
    checkpoint = audit.publish_checkpoint(ctx)
    summary = _summary(
        params, options, path, report_dir, ctx, rows, valid, completed, collect, log,
        deliveries, checkpoint.size, workers, time.perf_counter() - started,
    )  # fmt: skip
    write_atomically(summary.summary_json, summary.to_json().encode())
    return summary


def _summary(
    params: _Params,
    options: BatchOptions,
    path: Path,
    report_dir: Path,
    ctx: Context,
    rows: int,
    valid: int,
    completed: int,
    collect: _Collector,
    log: _RejectionLog,
    deliveries: Counter[str],
    checkpoint_size: int,
    workers: int,
    elapsed: float,
) -> BatchSummary:
    tally = collect.tally
    by_rate = {
        rate: {"before_tax": amount, "tax": tax, "payable": amount + tax}
        for rate, (amount, tax) in sorted(tally.by_rate.items())
    }
    by_tier = {
        tier: {"kwh": kwh, "amount": amount}
        for tier, (kwh, amount) in sorted(tally.by_tier.items())
    }
    before_tax = sum((v["before_tax"] for v in by_rate.values()), ZERO)
    tax = sum((v["tax"] for v in by_rate.values()), ZERO)
    return BatchSummary(
        period=str(params.period),
        input=path.resolve(),
        series=params.series,
        template=params.template,
        issue_date=params.issue_date,
        engine=options.engine,
        workers=workers if collect.workers is None else collect.workers,
        rows=rows,
        valid=valid - collect.late_rejections,
        issued=tally.issued,
        already_issued=tally.already_issued,
        rejected=log.count,
        completed_pending=completed,
        meters=tally.meters,
        subscriptions=tally.subscriptions,
        by_vat_rate=by_rate,
        by_tier=by_tier,
        total_before_tax=before_tax,
        total_tax=tax,
        total_payable=before_tax + tax,
        credit_used=tally.credit_used,
        anomaly_counts=dict(collect.anomaly_counts),
        anomalies=tuple(collect.anomalies),
        rejections=tuple(log.listed),
        deliveries=dict(deliveries),
        first_number=tally.first_number,
        last_number=tally.last_number,
        checkpoint_size=checkpoint_size,
        data_dir=ctx.data_dir.resolve(),
        report_dir=report_dir,
        rejected_csv=log.path,
        summary_json=report_dir / "summary.json",
        elapsed_seconds=elapsed,
    )
