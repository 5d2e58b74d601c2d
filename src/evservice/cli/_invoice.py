"""``evservice invoice``: issue, show, list, render again and correct invoices.

Drafts are JSON files (``-`` reads standard input) in the shape of
:class:`~evservice.invoices.InvoiceDraft`; write amounts as strings
(``"1984"``) or integers, never as floats. Every command builds its context
from the environment (``EVSERVICE_*``) when it runs. ``--json`` prints one JSON
document on stdout for scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evservice.cli._common import JsonOpt, context, echo_json, read_text
from evservice.invoices import (
    IssuedInvoice,
    adjust,
    complete_pending,
    get,
    history,
    issue,
    list_invoices,
    render_to,
    replace,
)
from evservice.money import format_vnd

__all__ = ["app"]

app = typer.Typer(
    help="Invoices: issue from a JSON draft, show, list, render again, replace or adjust.",
    no_args_is_help=True,
)

KeyArg = Annotated[str, typer.Argument(help="Invoice id, lookup code or label (1C26TAA-00000001).")]
DraftArg = Annotated[str, typer.Argument(help="Draft JSON file, or - for standard input.")]
ReasonOpt = Annotated[str, typer.Option(help="Why the original is corrected (printed as GChu).")]


def _issued_lines(issued: IssuedInvoice, verb: str) -> None:
    """The short report after issuing or correcting."""
    typer.echo(f"{verb} {issued.label}")
    typer.echo(f"  lookup code  {issued.lookup_code}")
    typer.echo(f"  total        {format_vnd(issued.invoice.totals.payable)} VND")
    typer.echo(f"  xml          {issued.xml_path or '(pending)'}")
    typer.echo(f"  pdf          {issued.pdf_path or '(pending)'}")


def _report_issued(issued: IssuedInvoice, verb: str, as_json: bool) -> None:
    if as_json:
        echo_json({**issued.summary(), "created": issued.created})
        return
    _issued_lines(issued, verb if issued.created else "already issued")


@app.command("issue")
def issue_command(draft: DraftArg, as_json: JsonOpt = False) -> None:
    """Issue an invoice: number it, store it, write its XML and PDF.

    A draft whose reference was issued before gives back that invoice. An
    invoice of a coded series (``EVSERVICE_TAX_CODED_SERIES``) is queued for
    the authority's code (``evservice tax send`` submits it).
    """
    ctx = context()
    issued = issue(read_text(draft, "DRAFT"), ctx=ctx)
    d = issued.invoice.draft
    if ctx.settings.is_coded(d.template, d.series):
        from evservice.tax import request_code

        message_id = request_code(issued.row_id, ctx=ctx)
        typer.echo(f"waiting for the tax authority's code: message {message_id}", err=True)
    _report_issued(issued, "issued", as_json)


@app.command("show")
def show_command(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Show one invoice: identity, status, parties, totals, files and what it corrects."""
    issued = get(key, ctx=context())
    if as_json:
        echo_json({**issued.summary(), "draft": issued.invoice.draft.model_dump(mode="json")})
        return
    d = issued.invoice.draft
    totals = issued.invoice.totals
    typer.echo(f"{issued.label}  {d.title}  [{issued.status.value}]")
    typer.echo(f"  issue date   {d.issue_date.isoformat()}")
    typer.echo(f"  lookup code  {issued.lookup_code}")
    if d.reference:
        typer.echo(f"  reference    {d.reference}")
    typer.echo(f"  seller       {d.seller.name} (MST {d.seller.tax_code})")
    buyer = d.buyer.name or d.buyer.person_name
    typer.echo(
        f"  buyer        {buyer}" + (f" (MST {d.buyer.tax_code})" if d.buyer.tax_code else "")
    )
    typer.echo(f"  lines        {len(d.lines)}")
    for rate in totals.by_rate:
        tax = "-" if rate.tax is None else format_vnd(rate.tax)
        typer.echo(f"  VAT {rate.rate:<8} amount {format_vnd(rate.amount)}  tax {tax}")
    typer.echo(f"  total        {format_vnd(totals.payable)} {d.currency}")
    if d.related is not None:
        r = d.related
        typer.echo(
            f"  {r.kind.name.lower()} of {r.template}{r.series}-{r.number:08d} "
            f"of {r.issue_date.isoformat()}" + (f": {r.note}" if r.note else "")
        )
    typer.echo(f"  xml          {issued.xml_path or '(pending)'}")
    typer.echo(f"  pdf          {issued.pdf_path or '(pending)'}")


@app.command("list")
def list_command(
    series: Annotated[str | None, typer.Option(help="Only this series (C26TAA).")] = None,
    status: Annotated[str | None, typer.Option(help="issued, replaced or adjusted.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List invoices in number order."""
    found = list_invoices(ctx=context(), series=series, status=status, limit=limit)
    if as_json:
        echo_json([i.summary() for i in found])
        return
    if not found:
        typer.echo("no invoices")
    for i in found:
        typer.echo(
            f"{i.label}  {i.invoice.draft.issue_date.isoformat()}  {i.status.value:<8}  "
            f"{i.lookup_code}  {format_vnd(i.invoice.totals.payable):>15}"
        )


@app.command("render")
def render_command(
    key: KeyArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the XML and PDF to.")],
) -> None:
    """Render an issued invoice's XML and PDF again into a directory (the store is unchanged)."""
    xml_path, pdf_path = render_to(key, out, ctx=context())
    typer.echo(f"xml  {xml_path}")
    typer.echo(f"pdf  {pdf_path}")


@app.command("replace")
def replace_command(
    original: KeyArg, draft: DraftArg, reason: ReasonOpt, as_json: JsonOpt = False
) -> None:
    """Issue a replacement of ORIGINAL from DRAFT; the original becomes 'replaced'."""
    issued = replace(original, read_text(draft, "DRAFT"), reason=reason, ctx=context())
    _report_issued(issued, "issued replacement", as_json)


@app.command("adjust")
def adjust_command(
    original: KeyArg, draft: DraftArg, reason: ReasonOpt, as_json: JsonOpt = False
) -> None:
    """Issue an adjustment of ORIGINAL (lines are the differences, negative to decrease)."""
    issued = adjust(original, read_text(draft, "DRAFT"), reason=reason, ctx=context())
    _report_issued(issued, "issued adjustment", as_json)


@app.command("history")
def history_command(key: KeyArg, as_json: JsonOpt = False) -> None:
    """List the invoice's chain of corrections, the first invoice first."""
    chain = history(key, ctx=context())
    if as_json:
        echo_json([i.summary() for i in chain])
        return
    for i in chain:
        related = i.invoice.draft.related
        what = "original" if related is None else f"{related.kind.name.lower()}"
        typer.echo(
            f"{i.label}  {i.invoice.draft.issue_date.isoformat()}  {i.status.value:<8}  "
            f"{what:<10}  {format_vnd(i.invoice.totals.payable):>15}"
        )


@app.command("complete")
def complete_command(as_json: JsonOpt = False) -> None:
    """Write the documents that a crash left missing (rows without files)."""
    done = complete_pending(ctx=context())
    if as_json:
        echo_json([i.summary() for i in done])
        return
    typer.echo(f"completed {len(done)} invoice{'s' if len(done) != 1 else ''}")
    for i in done:
        typer.echo(f"  {i.label}  {i.pdf_path}")
