"""``evservice outbox``: list the durable outbox and the files, send what is due, resend.

Listings show masked destinations only. ``list`` shows the durable outbox
(invoices, notices) and then the files the file outbox wrote
(``data_dir/outbox/email/*.eml`` and ``sms/*.json``): one-time codes are sent
at once, never queued, so in the embedded set-up that is where they are.
``show ID --reveal`` prints a file's whole text, code included, for local
testing, and only while the file outbox is the configured channel. ``dispatch``
and ``retry`` send through the channel the settings configure and exit 1 when
messages are left failed or waiting for another attempt.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from evservice._context import Context
from evservice.delivery import (
    DispatchReport,
    OutboxEntry,
    OutboxFile,
    dispatch,
    list_outbox,
    list_outbox_files,
    read_outbox_file,
    retry_failed,
)
from evservice.errors import ConfigurationError

__all__ = ["app"]

#: What a one-time code looks like in a message: hidden unless --reveal.
_CODE = re.compile(r"(?<![\w-])\d{6}(?![\w-])")

app = typer.Typer(help="Durable outbox of e-mail and SMS: list, dispatch, retry failed.")


def _line(entry: OutboxEntry) -> str:
    when = entry.sent_at if entry.status == "sent" else entry.next_attempt_at
    error = f"  {entry.last_error}" if entry.last_error else ""
    return (
        f"{entry.id}  {entry.kind:<5}  {entry.to_masked:<24}  {entry.status:<7}  "
        f"{entry.attempts}/{entry.max_attempts}  {when.isoformat() if when else '-'}{error}"
    )


def _file_line(item: OutboxFile) -> str:
    when = item.created_at.isoformat() if item.created_at else "-"
    what = item.tags.get("purpose") or item.tags.get("template") or (item.subject or "")
    return f"{item.id}  {item.kind:<5}  {item.to_masked:<24}  written  {when}  {what}"


def _file_row(item: OutboxFile) -> dict[str, object]:
    return {
        "source": "file",
        "id": item.id,
        "kind": item.kind,
        "to": item.to_masked,
        "subject": item.subject,
        "status": "written",
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "path": str(item.path),
        "tags": item.tags,
    }


def _report(report: DispatchReport) -> None:
    typer.echo(f"sent {report.sent}, retrying later {report.retrying}, failed {report.failed}")
    if report.failed or report.retrying:
        raise typer.Exit(1)


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="Only this status: queued, sending, sent or failed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """Show queued messages (masked destination, status, attempts, ...), then the written files."""
    ctx = Context.default()
    entries = list_outbox(ctx, status=status, limit=limit)
    files = list_outbox_files(ctx.data_dir / "outbox", limit=limit) if status is None else []
    if as_json:
        rows: list[dict[str, object]] = [
            {
                "source": "queue",
                "id": e.id,
                "kind": e.kind,
                "to": e.to_masked,
                "subject": e.subject,
                "status": e.status,
                "attempts": e.attempts,
                "max_attempts": e.max_attempts,
                "created_at": e.created_at.isoformat(),
                "next_attempt_at": e.next_attempt_at.isoformat(),
                "sent_at": e.sent_at.isoformat() if e.sent_at else None,
                "channel": e.channel,
                "provider_id": e.provider_id,
                "last_error": e.last_error,
                "attachments": list(e.attachments),
                "tags": e.tags,
            }
            for e in entries
        ]
        rows += [_file_row(item) for item in files]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not entries and not files:
        typer.echo("the outbox is empty" if status is None else f"no {status} messages")
        return
    for entry in entries:
        typer.echo(_line(entry))
    if files:
        typer.echo(f"files written by the file outbox ({ctx.data_dir / 'outbox'}):")
        for item in files:
            typer.echo(_file_line(item))


@app.command("show")
def show_command(
    message_id: Annotated[str, typer.Argument(help="The id `outbox list` prints for a file.")],
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="Print the whole text, one-time code included (local testing, file outbox only).",
        ),
    ] = False,
) -> None:
    """Show one message the file outbox wrote; with --reveal, its text as the customer reads it."""
    ctx = Context.default()
    if reveal and ctx.settings.delivery_channel != "outbox":
        raise ConfigurationError(
            "--reveal is for local testing with the file outbox "
            "(EVSERVICE_DELIVERY_CHANNEL=outbox); codes sent for real are never shown"
        )
    item, text = read_outbox_file(ctx.data_dir / "outbox", message_id)
    typer.echo(_file_line(item))
    if item.subject:
        typer.echo(f"subject: {item.subject}")
    typer.echo(text if reveal else _CODE.sub("******", text))


@app.command("dispatch")
def dispatch_command(
    limit: Annotated[int, typer.Option(min=1, help="Send at most this many.")] = 100,
) -> None:
    """Send the messages that are due through the configured channel."""
    _report(dispatch(Context.default(), limit=limit))


@app.command("retry")
def retry_command(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Message ids to retry (default: every failed one).")
    ] = None,
    send: Annotated[
        bool, typer.Option("--send/--no-send", help="Dispatch right away after requeueing.")
    ] = True,
    limit: Annotated[int, typer.Option(min=1, help="Send at most this many.")] = 100,
) -> None:
    """Queue failed messages again and (by default) send them now."""
    ctx = Context.default()
    count = retry_failed(ctx, ids=ids or None)
    typer.echo(f"{count} failed message(s) queued again")
    if send:
        _report(dispatch(ctx, limit=limit))
