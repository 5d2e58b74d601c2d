"""The monthly batch from the command line, and the README's main job on demo data.

* ``evservice invoices batch INPUT --period 2026-11``: issue a period's invoices
  from a CSV file (progress bar on stderr when it is a terminal, summary on
  stdout, ``--json`` for machines). Exit 0 when every row was issued, 1 when
  some rows were rejected (the others issued, ``rejected.csv`` written), 2 on
  an error from our tree (run it again to resume).
  Invoices of coded series (``EVSERVICE_TAX_CODED_SERIES``) are then queued
  for the authority's code (:func:`evservice.tax.queue_coded`) and are not
  delivered by the batch: ``evservice tax send`` delivers them once coded.
* ``evservice demo-data --customers N``: realistic synthetic input.
* ``evservice demo``: the main job on demo data in the data directory, with a
  demo seller and payee when none is configured and development keys.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from evservice._context import Context
from evservice._files import private_dir
from evservice.batch import (
    BatchOptions,
    BatchPeriod,
    BatchSummary,
    last_finished_period,
    parse_period,
    run_batch,
    write_demo_csv,
)
from evservice.cli._invoice import app as invoice_app
from evservice.clock import SystemClock, vn_date
from evservice.config import Settings
from evservice.errors import ValidationError
from evservice.money import format_vnd

__all__ = ["DEMO_SETTINGS", "register"]

#: What ``evservice demo`` uses for settings the environment leaves empty.
DEMO_SETTINGS: dict[str, str] = {
    "seller_name": "Công ty Điện lực Demo (dữ liệu minh họa)",
    "seller_tax_code": "0109999904",
    "seller_address": "Số 11 Cửa Bắc, phường Trúc Bạch, quận Ba Đình, Hà Nội",
    "seller_phone": "19001288",
    "seller_email": "cskh@evservice.example",
    "payee_bank_bin": "970436",
    "payee_account": "0011001234567",
    "payee_name": "CONG TY DIEN LUC DEMO",
}

_QUEUED = ("email", "sms", "anomaly_notices", "undeliverable", "waiting_for_code")
PeriodOpt = Annotated[str, typer.Option("--period", help="Billing month, e.g. 2026-11.")]


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("--/s" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")


class _ProgressBar:
    """A rich progress bar on stderr: validation (rows read), then issuing (rate and ETA)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        task = self._tasks.get(phase)
        if task is None:
            label = "checking rows" if phase == "validate" else "issuing"
            task = self._tasks[phase] = self.progress.add_task(label, total=total)
        self.progress.update(task, completed=done, total=total)


def _date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(field, "must be a date like 2026-11-30") from exc


def _row(table: Table, *cells: Any) -> None:
    table.add_row(*(str(c) for c in cells))


def print_summary(summary: BatchSummary, console: Console) -> None:
    """The summary for a person: counts, totals, anomalies, rejections, paths, speed."""
    head = Table(
        title=f"Batch {summary.period}: {summary.template}{summary.series}", show_header=False
    )
    numbers = (
        f"{summary.first_number} - {summary.last_number}" if summary.first_number else "none new"
    )
    for name, value in (
        ("lines read", f"{summary.lines} ({summary.blank_lines} blank)"),
        ("rows read", summary.rows),
        ("issued now", summary.issued),
        ("already issued", summary.already_issued),
        ("rejected", summary.rejected),
        ("documents completed", summary.completed_pending),
        ("documents still pending", summary.documents_pending),
        ("meters / subscriptions", f"{summary.meters} / {summary.subscriptions}"),
        ("numbers issued now", numbers),
        ("issue date", summary.issue_date.isoformat()),
        ("total payable", f"{format_vnd(summary.total_payable)} VND"),
        ("credit used", f"{format_vnd(summary.credit_used)} VND"),
        ("anomalies", summary.anomaly_total),
        ("elapsed", f"{summary.elapsed_seconds:.1f} s"),
        ("invoices per second", f"{summary.invoices_per_second:.2f}"),
        ("engine", f"{summary.engine} ({summary.workers} workers)"),
    ):
        _row(head, name, value)
    if summary.deliveries:
        d = summary.deliveries
        queued = ", ".join(f"{k.replace('_', ' ')} {d[k]}" for k in _QUEUED if d.get(k))
        _row(head, "messages queued now", queued or "none")
        _row(head, "messages sent", f"{d.get('sent', 0)} (retrying {d.get('retrying', 0)}, "
             f"failed {d.get('failed', 0)})")  # fmt: skip
    console.print(head)
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if summary.by_vat_rate:
        rates = Table(title="By VAT rate (VND)")
        for column in ("rate", "before tax", "tax", "payable"):
            rates.add_column(column, justify="right")
        for rate, sums in summary.by_vat_rate.items():
            _row(rates, rate, *(format_vnd(sums[k]) for k in ("before_tax", "tax", "payable")))
        console.print(rates)
    if summary.by_tier:
        tiers = Table(title="Electricity by tier")
        for column in ("tier", "kWh", "amount (VND)"):
            tiers.add_column(column, justify="right")
        for tier, sums in summary.by_tier.items():
            _row(tiers, tier, format_vnd(sums["kwh"]), format_vnd(sums["amount"]))
        console.print(tiers)
    if summary.anomalies:
        flagged = Table(title=f"Anomalies ({summary.anomaly_total})")
        for column in ("kind", "customer", "invoice", "payable", "3-period average"):
            flagged.add_column(column)
        for a in summary.anomalies[:20]:
            average = "-" if a.average is None else format_vnd(a.average)
            _row(flagged, a.kind, a.customer_id, a.invoice, format_vnd(a.payable), average)
        console.print(flagged)
    if summary.rejections:
        rejected = Table(title=f"Rejected rows ({summary.rejected})")
        for column in ("row", "customer", "field", "reason"):
            rejected.add_column(column)
        for r in summary.rejections[:20]:
            _row(rejected, r.row_number, r.customer_id or "", r.field, r.reason)
        console.print(rejected)
    console.print(f"invoices      {summary.data_dir / 'invoices'}")
    console.print(f"rejected rows {summary.rejected_csv}")
    console.print(f"summary       {summary.summary_json}")


def _run(
    ctx: Context, input_path: Path, period: BatchPeriod | str, options: BatchOptions
) -> BatchSummary:
    """Run the batch, with a progress bar on stderr when a person watches it."""
    if not sys.stderr.isatty():
        return run_batch(input_path, period, ctx=ctx, options=options)
    bar = _ProgressBar()
    with bar.progress:
        return run_batch(input_path, period, ctx=ctx, options=replace(options, progress=bar))


def _report(summary: BatchSummary, as_json: bool) -> None:
    if as_json:
        typer.echo(summary.to_json())
    else:
        print_summary(summary, Console())
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def batch_command(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV of readings/plans.")],
    period: PeriodOpt,
    series: Annotated[
        str | None, typer.Option(help="KHHDon, e.g. C26TEV (default: settings or C<yy>TEV).")
    ] = None,
    issue_date: Annotated[
        str | None, typer.Option("--issue-date", help="NLap (default: today in Vietnam).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Local worker processes (default: CPUs).")
    ] = None,
    engine: Annotated[str, typer.Option(help="local (process pool) or dask.")] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786).")
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver", help="E-mail (PDF+XML) and SMS each invoice.")
    ] = False,
    notify_anomalies: Annotated[
        bool, typer.Option("--notify-anomalies", help="Tell customers about a spike or zero.")
    ] = False,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Where rejected.csv and summary.json go.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per task.")] = 100,
    open_period: Annotated[
        bool,
        typer.Option("--open-period", help="Allow a month that has not ended by the issue date."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Issue a period's invoices from INPUT: check every row, issue the valid ones, summarise.

    Exit 0 if all rows were issued, 1 if some were rejected (see rejected.csv),
    2 on an error (run again to resume: nothing is issued twice).
    """
    if engine not in ("local", "dask"):
        raise ValidationError("engine", "must be local or dask")
    options = BatchOptions(
        series=series,
        issue_date=_date(issue_date, "issue_date"),
        workers=workers,
        engine="dask" if engine == "dask" else "local",
        scheduler=scheduler,
        chunk_size=chunk_size,
        deliver=deliver,
        notify_anomalies=notify_anomalies,
        report_dir=report_dir,
        open_period=open_period,
    )
    ctx = Context(settings=Settings())
    summary = _run(ctx, input_path, period, options)
    _queue_coded(ctx)
    _report(summary, as_json)


def _queue_coded(ctx: Context) -> None:
    """Queue the run's invoices of coded series for the authority's code (said on stderr)."""
    if not ctx.settings.coded_series:
        return
    from evservice.tax import queue_coded

    queued = queue_coded(ctx)
    typer.echo(
        f"queued {len(queued)} invoice(s) for the tax authority's code "
        "(evservice tax send submits them)",
        err=True,
    )


def _last_finished_month() -> BatchPeriod:
    """What the demo bills: the last month that has ended (never days still to come)."""
    return last_finished_period(vn_date(SystemClock().now()))


def demo_data_command(
    customers: Annotated[int, typer.Option(min=1, help="How many customers.")] = 1000,
    period: Annotated[
        str | None,
        typer.Option("--period", help="Billing month (default: the last one ended)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="CSV to write (default: demo-<period>.csv).")
    ] = None,
    bad_rows: Annotated[int, typer.Option(min=0, help="Rows the batch must reject.")] = 0,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 2026,
) -> None:
    """Write realistic synthetic batch input: Vietnamese customers, meters and plans."""
    billing = parse_period(period) if period else _last_finished_month()
    target = out or Path(f"demo-{billing}.csv")
    write_demo_csv(target, customers=customers, period=billing, seed=seed, bad_rows=bad_rows)
    typer.echo(f"wrote {customers + bad_rows} rows for {billing} to {target}")


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the demo seller and payee where the environment set none."""
    seller = ("seller_name", "seller_tax_code", "seller_address", "seller_phone", "seller_email")
    payee = ("payee_bank_bin", "payee_account", "payee_name")
    updates: dict[str, Any] = {}
    for group in (seller, payee):
        if not any(getattr(settings, name) for name in group):
            updates |= {name: DEMO_SETTINGS[name] for name in group}
    return settings.model_copy(update=updates)


def demo_command(
    customers: Annotated[int, typer.Option(min=1, help="How many demo customers.")] = 200,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Worker processes (default: CPUs).")
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="Queue and send e-mail and SMS.")
    ] = True,
    bad_rows: Annotated[
        int, typer.Option(min=0, help="Add rows the batch must reject (exit status 1).")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """The main job on demo data: keys, input, this month's invoices, delivery, summary.

    Works in the configured data directory (default ./evservice-data) on the
    embedded SQLite store; a demo seller and payee stand in for unset settings.
    Run it again: nothing is issued twice. Exit status as for ``invoices batch``:
    with ``--bad-rows`` the rejection report is shown and the status is 1.
    """
    from evservice.cli._init import STEPS

    settings = demo_settings(Settings())
    ctx = Context(settings=settings)
    private_dir(settings.data_dir)
    tax_code = settings.seller_tax_code or DEMO_SETTINGS["seller_tax_code"]

    def say(text: str) -> None:
        if not as_json:
            typer.echo(text)

    for _name, step in STEPS:
        say(step(ctx, False, tax_code))
    period = _last_finished_month()
    input_path = settings.data_dir / "demo" / f"input-{period}.csv"
    write_demo_csv(input_path, customers=customers, period=period, bad_rows=bad_rows)
    say(f"demo input: {input_path} ({customers} customers, {bad_rows} bad rows, period {period})")
    options = BatchOptions(workers=workers, deliver=deliver, notify_anomalies=deliver)
    summary = _run(ctx, input_path, period, options)
    if as_json:
        typer.echo(summary.to_json())
    else:
        print_summary(summary, Console())
        say(f"outbox        {settings.data_dir / 'outbox'}")
        say(f"store         {settings.db_url}")
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``invoice batch`` to the invoice group, and the top-level demo commands."""
    invoice_app.command("batch")(batch_command)
    app.command("demo-data")(demo_data_command)
    app.command("demo")(demo_command)
