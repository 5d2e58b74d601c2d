"""``evservice tax``: the data summary tables and the notices of invoices with errors.

``summary --period 2026-11`` builds (or, with nothing new, only lists) the
month's signed data summary tables; ``notice INVOICE`` makes the 04/SS-HĐĐT
notice of a replacement's or adjustment's original, ``explain INVOICE --reason``
an explanation notice. ``send`` queues the invoices of coded series for their
code, submits what is queued through the configured gateway, applies the
answers and delivers the invoices whose code came back (not with
``--no-deliver``); ``status`` shows what is pending, accepted and rejected
(with the authority's reasons, in Vietnamese). No command cancels: Decree
70/2025 ended cancellation.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from evservice.cli._common import JsonOpt, context, echo_json
from evservice.errors import ValidationError
from evservice.tax import (
    MAX_ROWS,
    CodedDelivery,
    ErrorNotice,
    TaxMessage,
    build_summary,
    deliver_coded,
    explain,
    list_messages,
    notify_correction,
    queue_coded,
    send_pending,
)

__all__ = ["app"]

app = typer.Typer(help="Reporting to the tax authority: data summary tables, 04/SS-HĐĐT notices.")


@app.command("summary")
def summary_command(
    period: Annotated[str, typer.Option(help="The month, like 2026-11.")],
    max_rows: Annotated[int, typer.Option(help="Rows per table at most.")] = MAX_ROWS,
    as_json: JsonOpt = False,
) -> None:
    """Build the month's signed data summary tables (01/TH-HĐĐT) of invoices not reported yet."""
    build = build_summary(period, ctx=context(), max_rows=max_rows)
    if as_json:
        echo_json(
            {
                "period": build.period,
                "created": [t.id for t in build.created],
                "tables": [t.to_dict() for t in build.tables],
            }
        )
        return
    created = {t.id for t in build.created}
    typer.echo(f"{build.period}: {len(build.created)} new table(s), {len(build.tables)} in all")
    for t in build.tables:
        kind = "lần đầu" if t.first else f"bổ sung lần {t.supplement}"
        mark = "new" if t.id in created else "   "
        typer.echo(f"{mark}  {t.sequence:>3}  {kind:<16}  {t.rows:>5} rows  {t.xml_path}")


def _print_notice(notice: ErrorNotice, as_json: bool) -> None:
    if as_json:
        echo_json({**notice.to_dict(), "created": notice.created})
    else:
        state = "made" if notice.created else "already made"
        typer.echo(f"notice {notice.id} ({state}): {notice.xml_path}")


@app.command("notice")
def notice_command(
    correction: Annotated[str, typer.Argument(help="The replacement or adjustment invoice.")],
    as_json: JsonOpt = False,
) -> None:
    """Make the 04/SS-HĐĐT notice of the invoice a replacement or adjustment corrects."""
    _print_notice(notify_correction(correction, ctx=context()), as_json)


@app.command("explain")
def explain_command(
    invoice: Annotated[str, typer.Argument(help="The invoice (id, label or lookup code).")],
    reason: Annotated[str, typer.Option(help="What is wrong (at most 255 characters).")],
    authority_notice: Annotated[
        str | None, typer.Option(help="The authority's notice answered: NUMBER@YYYY-MM-DD.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make an explanation notice (04/SS-HĐĐT, TCTBao 4) of an invoice that needs no new one."""
    answered: tuple[str, date] | None = None
    if authority_notice is not None:
        number, _, when = authority_notice.rpartition("@")
        try:
            answered = (number, date.fromisoformat(when))
        except ValueError as exc:
            raise ValidationError("authority_notice", "must be NUMBER@YYYY-MM-DD") from exc
    _print_notice(
        explain(invoice, reason=reason, authority_notice=answered, ctx=context()), as_json
    )


@app.command("send")
def send_command(
    deliver: Annotated[
        bool,
        typer.Option(
            "--deliver/--no-deliver", help="Queue the e-mail and SMS of newly coded invoices."
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Queue the invoices of coded series for their code, submit the queued messages (each
    once), apply the answers (each once), then deliver the invoices whose code came back.

    Exits 1 while messages wait for another attempt or have failed, or when a coded
    invoice could not be delivered (its coded XML missing or damaged: named on
    stderr with the reason and left pending; the others are delivered).
    """
    ctx = context()
    queued = queue_coded(ctx)
    report = send_pending(ctx)
    delivered = deliver_coded(ctx) if deliver else CodedDelivery()
    if as_json:
        echo_json({**report.__dict__, "queued_for_code": len(queued),
                   "coded_delivered": delivered.to_dict()})  # fmt: skip
    else:
        typer.echo(
            f"queued for code {len(queued)}, "
            f"submitted {report.submitted}, already held {report.already_held}, "
            f"retrying {report.retrying}, failed {report.failed}, refused {report.refused}, "
            f"answers {report.answers} (duplicates {report.duplicates}), "
            f"coded invoices delivered {delivered.invoices} (e-mail {delivered.emails}, "
            f"SMS {delivered.sms}, undeliverable {delivered.undeliverable})"
        )
    for label, reason in delivered.failed:
        typer.echo(f"not delivered, left pending: {label}: {reason}", err=True)
    if report.retrying or report.failed or delivered.failed:
        raise typer.Exit(1)


_LABELS = {
    "queued": "chờ gửi",
    "sending": "đang gửi",
    "sent": "đã gửi, chờ kết quả",
    "accepted": "đã chấp nhận",
    "rejected": "bị từ chối",
    "failed": "gửi không được",
}


def _status_line(m: TaxMessage) -> str:
    line = f"{m.id}  {m.type}  {m.subject_id:<34}  {_LABELS.get(m.status, m.status)}"
    if m.reasons:
        line += "  lý do: " + "; ".join(m.reasons)
    elif m.last_error and m.status in ("queued", "failed"):
        line += f"  ({m.last_error})"
    return line


@app.command("status")
def status_command(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """What was sent to the tax authority: pending, accepted, rejected (with the reasons)."""
    messages = list_messages(context(), status=status, limit=limit)
    if as_json:
        echo_json([m.to_dict() for m in messages])
        return
    groups = {"pending": ("queued", "sending", "sent"), "accepted": ("accepted",),
              "rejected": ("rejected", "failed")}  # fmt: skip
    for title, states in groups.items():
        chosen = [m for m in messages if m.status in states]
        typer.echo(f"{title}: {len(chosen)}")
        for m in chosen:
            typer.echo("  " + _status_line(m))
