"""The worker: issue one chunk of rows (in a pool process, a Dask worker, or inline).

A chunk is drafted, numbered in one transaction (:func:`record_invoices`, whose
``on_recorded`` hook writes the consumption history and the carried credits in
that same transaction), then its documents are rendered and stored a hundred
at a time (:func:`ensure_many_documents`). Anomalies are found and notices
queued after that. A worker sends back only sums and flags
(:class:`ChunkResult`), never the invoices themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from evservice._context import Context
from evservice.batch._anomalies import BilledItem, find_anomalies
from evservice.batch._drafts import Bill, Params, draft_row, row_rejection
from evservice.batch._input import MeterRow, Rejection, Row, SubscriptionRow
from evservice.batch._notices import deliver, notify
from evservice.batch._results import ChunkResult, Outcome
from evservice.batch._tables import BatchCredit, BatchHistory
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.errors import BatchError, EvServiceError, ValidationError
from evservice.invoices import (
    Invoice,
    IssuedInvoice,
    TariffBook,
    ensure_many_documents,
    load_tariffs,
    record_invoices,
)
from evservice.store import transaction

__all__ = ["Job", "issue_chunk", "process", "warm_worker"]

_HISTORY: sa.Table = BatchHistory.__table__  # type: ignore[attr-defined]
_CREDIT: sa.Table = BatchCredit.__table__  # type: ignore[attr-defined]
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


@dataclass(frozen=True)
class Job:
    """One chunk of rows for a worker. ``clock_at`` fixes the clock (None: the real time)."""

    settings: Settings
    clock_at: datetime | None
    params: Params
    rows: tuple[Row, ...]


class _CreditChanged(BatchError):
    """The stored credit moved between drafting and numbering; draft again."""


# -- rows to drafts -----------------------------------------------------------------------


def _on_recorded(
    params: Params, billed: Mapping[str, tuple[Row, Bill]], stored: Mapping[tuple[str, str], int]
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
    params: Params,
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


def _reporter(
    billed: Mapping[str, tuple[Row, Bill]], pending: list[Rejection]
) -> Callable[[IssuedInvoice, EvServiceError], None]:
    """``on_error`` for :func:`ensure_many_documents`: the row of an invoice left pending."""

    def failed(invoice: IssuedInvoice, exc: EvServiceError) -> None:
        assert invoice.invoice.draft.reference is not None  # noqa: S101 - batch drafts
        row, _ = billed[invoice.invoice.draft.reference]
        pending.append(
            Rejection(
                row.row_number,
                row.customer_id,
                "(documents)",
                f"numbered {invoice.label}, but its documents could not be made "
                f"({type(exc).__name__}: {exc}); it stays pending and the next run tries again",
            )
        )

    return failed


def _issue_rows(
    ctx: Context, params: Params, tariffs: TariffBook, rows: Sequence[Row]
) -> tuple[list[Outcome], list[Rejection], list[Rejection]]:
    """Number the chunk's invoices in one transaction, then make their documents.

    Rows that no longer price (a tariff file changed since the validation pass)
    are rejected, not issued. Documents are rendered and stored a hundred
    invoices at a time (:func:`ensure_many_documents`); an invoice whose own
    data cannot be rendered stays pending (numbered, without documents) and is
    reported with its row (the third list), and the others go on.
    """
    for _ in range(_CREDIT_ATTEMPTS):
        stored = _read_credits(ctx, rows)
        billed: dict[str, tuple[Row, Bill]] = {}
        rejections: list[Rejection] = []
        for row in rows:
            credit = stored.get(_credit_key(row), 0) if isinstance(row, SubscriptionRow) else 0
            try:
                bill = draft_row(row, params, tariffs, credit)
            except ValidationError as exc:
                rejections.append(row_rejection(row, exc))
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
        pending: list[Rejection] = []
        failed = _reporter(billed, pending)
        documented = ensure_many_documents(issued, ctx=ctx, on_error=failed)
        outcomes = [
            Outcome(row, bill, invoice)
            for (row, bill), invoice in zip(billed.values(), documented, strict=True)
        ]
        return outcomes, rejections, pending
    raise BatchError(
        f"rows {rows[0].row_number}-{rows[-1].row_number}: a customer's credit kept changing "
        "while the invoices were drafted; is another batch running for the same customers?"
    )


def process(ctx: Context, params: Params, rows: Sequence[Row]) -> ChunkResult:
    """Issue one chunk: each row's invoice and documents, then anomalies and notices."""
    result = ChunkResult()
    tariffs = load_tariffs(ctx.settings.tariff_dir)
    outcomes: list[Outcome] = []
    try:
        outcomes, result.rejections, result.pending = _issue_rows(ctx, params, tariffs, rows)
        for outcome in outcomes:
            result.tally.add(outcome)  # pending ones too: their numbers are used
        result.done = len(rows)
        outcomes = [o for o in outcomes if o.issued.has_documents]  # nothing to send yet
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
            deliver(ctx, params, outcomes, result.tally)
        if params.notify_anomalies:
            notify(ctx, params, outcomes, result.anomalies, result.tally)
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


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_WATCH_SECONDS = 0.5


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # as if killed with the batch: the rerun completes


def _watch_parent(main_pid: int) -> None:
    """Stop this worker when the batch's main process dies, however it dies.

    The pool's workers are forked by the fork server, so the kernel's parent of
    a worker is the fork server, not the batch: ``PR_SET_PDEATHSIG`` (Linux)
    kills the worker when the fork server exits, which it does when the main
    process's end of its pipe closes. As a fallback (another system, a fork
    server that lives on), a daemon thread checks every half second that the
    main process ``main_pid`` is still alive (with a pidfd where there is one,
    so a reused pid cannot fool it) and kills the worker otherwise. A worker
    killed in a chunk leaves what a SIGKILL leaves: numbered invoices whose
    documents the next run completes, never a gap.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    pidfd: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(main_pid)

    def alive() -> bool:
        if pidfd is not None:
            return not select.select([pidfd], [], [], 0)[0]  # readable once it has exited
        try:
            os.kill(main_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    if not alive():
        _die()

    def watch() -> None:
        while alive():
            time.sleep(_WATCH_SECONDS)
        _die()

    threading.Thread(target=watch, name="evservice-parent-watch", daemon=True).start()


def warm_worker(settings: Settings, main_pid: int | None = None) -> None:
    """Load once per worker process what every invoice needs: fonts, key, tariffs, store.

    With ``main_pid`` (the pool passes the batch's process), the worker stops
    when that process dies (:func:`_watch_parent`).
    """
    if main_pid is not None:
        _watch_parent(main_pid)
    from evservice.pdf import register_fonts
    from evservice.signing import load_signer

    register_fonts()
    load_signer(settings)
    load_tariffs(settings.tariff_dir)
    _ = _worker_context(settings, None).engine


def issue_chunk(job: Job) -> ChunkResult:
    """A worker's task (local pool or Dask): issue the rows of one chunk."""
    return process(_worker_context(job.settings, job.clock_at), job.params, job.rows)


# -- the run (in the calling process) -----------------------------------------------------
