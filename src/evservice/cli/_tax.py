"""``evservice tax``: the data summary tables and the notices of invoices with errors.

``summary --period 2026-11`` builds (or, with nothing new, only lists) the
month's signed data summary tables; ``notice INVOICE`` makes the 04/SS-HĐĐT
notice of a replacement's or adjustment's original, ``explain INVOICE --reason``
an explanation notice. No command cancels: Decree 70/2025 ended cancellation.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from evservice.cli._common import JsonOpt, context, echo_json
from evservice.errors import ValidationError
from evservice.tax import MAX_ROWS, ErrorNotice, build_summary, explain, notify_correction

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
