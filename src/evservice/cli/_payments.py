"""``evservice payments``: import bank statements, see what is outstanding, remind.

* ``import FILE`` -- a camt.053 / camt.054 statement or a CSV export (columns
  named by options), matched and applied (``--dry-run`` only shows the outcome);
  exits 1 when transfers are left for review or unmatched.
* ``status --period 2026-11`` -- paid, partly paid, unpaid and overdue bills by
  count and amount, and the outstanding amount by age.
* ``statement CUSTOMER`` -- a customer's bills, payments and carried credit.
* ``track`` -- open receivables for the invoices issued in a date range.
* ``remind`` -- queue today's reminders in the outbox.
* ``review KEY [INVOICE]`` -- apply a transfer that waits for review.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from evservice.cli._common import JsonOpt, context, echo_json
from evservice.errors import ValidationError
from evservice.invoices import list_invoices
from evservice.money import format_vnd
from evservice.reconcile import (
    CsvColumns,
    ReceivablesStatus,
    ReminderPolicy,
    apply_reviewed,
    customer_statement,
    read_camt,
    read_csv_statement,
    read_statement,
    receivables_status,
    reconcile,
    send_reminders,
    track_invoices,
)

__all__ = ["app"]

app = typer.Typer(
    help="Getting paid: import bank statements, receivables status, statements, reminders.",
    no_args_is_help=True,
)


def _date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(field, "must be a date like 2026-11-30") from exc


def _vnd(amount: int) -> str:
    return f"{format_vnd(Decimal(amount)):>16} đ"


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="camt.053/camt.054 XML or CSV statement.")],
    kind: Annotated[str, typer.Option("--format", help="auto, camt or csv.")] = "auto",
    account: Annotated[str, typer.Option(help="Our account (CSV without one).")] = "",
    col_id: Annotated[str, typer.Option(help="CSV column: bank's transaction id.")] = (
        "transaction_id"
    ),
    col_date: Annotated[str, typer.Option(help="CSV column: booking date.")] = "date",
    col_amount: Annotated[str, typer.Option(help="CSV column: amount.")] = "amount",
    col_memo: Annotated[str, typer.Option(help="CSV column: transfer text.")] = "description",
    col_customer: Annotated[str | None, typer.Option(help="CSV column: customer id.")] = None,
    date_format: Annotated[str, typer.Option(help="CSV date format.")] = "%Y-%m-%d",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    thousands: Annotated[str, typer.Option(help="CSV thousands separator.")] = "",
    decimal: Annotated[str, typer.Option(help="CSV decimal separator.")] = ".",
    dry_run: Annotated[bool, typer.Option(help="Match, show, apply nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Match a statement's transfers to invoices and apply them (each bank transfer once)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ValidationError("file", f"cannot read {file}: {exc.strerror or exc}") from exc
    columns = CsvColumns(
        bank_ref=col_id,
        booked_on=col_date,
        amount=col_amount,
        memo=col_memo,
        customer=col_customer,
        date_format=date_format,
        delimiter=delimiter,
        thousands=thousands,
        decimal=decimal,
    )
    if kind == "camt":
        statement = read_camt(data)
    elif kind == "csv":
        statement = read_csv_statement(data, columns, account=account)
    elif kind == "auto":
        statement = read_statement(data, columns)
    else:
        raise ValidationError("format", "must be auto, camt or csv")
    report = reconcile(statement, ctx=context(), actor="operator:cli", dry_run=dry_run)
    if as_json:
        echo_json(
            {
                **report.as_dict(),
                "dry_run": dry_run,
                "format": statement.format,
                "review": [
                    {
                        "key": o.key,
                        "bank_ref": o.bank_ref,
                        "amount": str(o.amount),
                        "reason": o.reason,
                        "invoice_id": o.invoice_id,
                    }
                    for o in report.outcomes
                    if o.status in ("needs_review", "unmatched")
                ],
            }
        )
    else:
        typer.echo(f"{statement.format}: {report.summary()}{' (dry run)' if dry_run else ''}")
        for where, reason in report.skipped:
            typer.echo(f"  skipped  {where}: {reason}")
        for o in report.outcomes:
            if o.status in ("needs_review", "unmatched"):
                proposal = f" -> {o.invoice_id}" if o.invoice_id else ""
                typer.echo(
                    f"  {o.status:<12} {o.key}  {o.bank_ref}  {o.amount}  {o.reason}{proposal}"
                )
    if report.counts["needs_review"] or report.counts["unmatched"]:
        raise typer.Exit(1)


def _print_status(status: ReceivablesStatus) -> None:
    typer.echo(f"Receivables of {status.period} as of {status.as_of.isoformat()}")
    header = f"  {'':<12} {'bills':>9} {'amount due':>18} {'paid':>18} {'outstanding':>18}"
    typer.echo(header)
    rows = [*status.groups.items(), ("total", status.total)]
    for name, g in rows:
        typer.echo(
            f"  {name:<12} {g.count:>9,} {_vnd(g.amount_due)} {_vnd(g.paid)} {_vnd(g.outstanding)}"
        )
    typer.echo("  outstanding by days past due:")
    for name, g in status.ageing.items():
        typer.echo(f"  {name:<12} {g.count:>9,} {'':>18} {'':>18} {_vnd(g.outstanding)}")


@app.command("status")
def status_command(
    period: Annotated[str, typer.Option(help="Billing period YYYY-MM.")],
    as_of: Annotated[str | None, typer.Option(help="Day to age from (default today).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Paid, partly paid, unpaid and overdue bills of a period, and ageing of what is owed."""
    status = receivables_status(period, as_of=_date(as_of, "as_of"), ctx=context())
    if as_json:
        echo_json(status.as_dict())
    else:
        _print_status(status)


@app.command("statement")
def statement_command(
    customer: Annotated[str, typer.Argument(help="Customer id (MKHang).")],
    as_json: JsonOpt = False,
) -> None:
    """A customer's bills, the payments on each, and the credit carried forward."""
    statement = customer_statement(customer, ctx=context())
    if as_json:
        echo_json(statement.as_dict())
        return
    typer.echo(f"Customer {statement.customer_id}")
    for line in statement.lines:
        typer.echo(
            f"  {line.label}  {line.issue_date.isoformat()}  due {line.due_date.isoformat()}  "
            f"{_vnd(line.amount_due)}  paid {_vnd(line.paid)}  {line.status}"
        )
        for kind, source, amount in line.payments:
            typer.echo(f"      {kind:<8} {source:<30} {_vnd(amount)}")
    typer.echo(f"  outstanding {_vnd(statement.outstanding)}")
    if statement.held_credit:
        typer.echo(f"  credit held for the next bill {_vnd(statement.held_credit)}")
    for plan, balance in statement.plan_credit.items():
        typer.echo(f"  credit on plan {plan} (before VAT) {_vnd(balance)}")


@app.command("track")
def track_command(
    issued_from: Annotated[str, typer.Option("--from", help="First issue date.")],
    issued_to: Annotated[str, typer.Option("--to", help="Last issue date.")],
    due_days: Annotated[int | None, typer.Option(help="Days to pay (default setting).")] = None,
) -> None:
    """Open receivables for the invoices issued between two dates (again is harmless)."""
    ctx = context()
    days = ctx.settings.payment_due_days if due_days is None else due_days
    first, last = _date(issued_from, "from"), _date(issued_to, "to")
    opened = offset = 0
    while True:
        page = list_invoices(
            ctx=ctx, issued_from=first, issued_to=last, limit=10_000, offset=offset
        )
        opened += track_invoices(page, due_days=days, ctx=ctx)
        if len(page) < 10_000:
            break
        offset += len(page)
    typer.echo(f"opened {opened} receivables")


@app.command("remind")
def remind_command(
    today: Annotated[str | None, typer.Option(help="Act as on this day.")] = None,
    locale: Annotated[str, typer.Option(help="vi or en.")] = "vi",
) -> None:
    """Queue today's reminders (before and after the due date) in the outbox, once each."""
    ctx = context()
    base = ReminderPolicy.from_settings(ctx.settings)
    policy = ReminderPolicy(base.days_before, base.days_after, locale)  # type: ignore[arg-type]
    report = send_reminders(ctx=ctx, policy=policy, today=_date(today, "today"))
    typer.echo(report.summary())


@app.command("review")
def review_command(
    key: Annotated[str, typer.Argument(help="The transfer's key (from import).")],
    invoice: Annotated[str | None, typer.Argument(help="Invoice id (default: proposed).")] = None,
    operator: Annotated[str, typer.Option(help="Who decided (audit actor).")] = "cli",
) -> None:
    """Apply a transfer that waits for review to the proposed (or given) invoice."""
    outcome = apply_reviewed(key, invoice, ctx=context(), actor=f"operator:{operator}")
    typer.echo(f"applied {outcome.applied} d to {outcome.invoice_id} ({outcome.reason})")
