"""``evservice outbox``: list the durable outbox, send what is due, resend what failed.

Listings show masked destinations only. ``dispatch`` and ``retry`` send
through the channel the settings configure (the file outbox by default) and
exit 1 when messages are left failed or waiting for another attempt.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from evservice._context import Context
from evservice.delivery import DispatchReport, OutboxEntry, dispatch, list_outbox, retry_failed

__all__ = ["app"]

app = typer.Typer(help="Durable outbox of e-mail and SMS: list, dispatch, retry failed.")


def _line(entry: OutboxEntry) -> str:
    when = entry.sent_at if entry.status == "sent" else entry.next_attempt_at
    error = f"  {entry.last_error}" if entry.last_error else ""
    return (
        f"{entry.id}  {entry.kind:<5}  {entry.to_masked:<24}  {entry.status:<7}  "
        f"{entry.attempts}/{entry.max_attempts}  {when.isoformat() if when else '-'}{error}"
    )


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
    """Show outbox messages (masked destination, status, attempts, next attempt, last error)."""
    entries = list_outbox(Context.default(), status=status, limit=limit)
    if as_json:
        rows = [
            {
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
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not entries:
        typer.echo("the outbox is empty" if status is None else f"no {status} messages")
        return
    for entry in entries:
        typer.echo(_line(entry))


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
