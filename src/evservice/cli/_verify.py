"""``evservice verify FILE...``: check every signature in invoice PDFs and XMLs, offline.

Prints a readable report per file (``--json`` for machines) and exits 1 when
anything fails: a changed byte, an untrusted or expired certificate, a PDF
modified after signing, an embedded XML that differs, totals that disagree, content
no signature covers. Every file is reported, however broken; a file that cannot be
read at all is an error line (and exit 2) after the others are reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evservice._context import Context
from evservice.errors import ValidationError
from evservice.verification import VerificationReport, verify

__all__ = ["register", "verify_command"]


def verify_command(
    files: Annotated[list[Path], typer.Argument(help="PDF or XML files to verify.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    allow_legacy: Annotated[
        bool | None,
        typer.Option(
            "--allow-legacy/--no-allow-legacy",
            help="Accept SHA-1 and RSA keys under 2048 bits of older invoices (default: settings).",
        ),
    ] = None,
    trust_root: Annotated[
        list[Path] | None,
        typer.Option("--trust-root", help="Also trust this root certificate (repeatable)."),
    ] = None,
) -> None:
    """Verify the signatures of invoice PDFs and XMLs; exit 1 if any check fails."""
    ctx = Context.default()
    reports: list[VerificationReport] = []
    unreadable: list[str] = []
    for path in files:
        try:
            reports.append(
                verify(path, ctx=ctx, allow_legacy=allow_legacy, trust_roots=trust_root or ())
            )
        except ValidationError as exc:  # not a readable file: said after the others
            unreadable.append(str(exc))
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
    else:
        for report in reports:
            typer.echo(report.text())
            typer.echo("")
        failed = sum(not r.ok for r in reports) + len(unreadable)
        total = len(reports) + len(unreadable)
        typer.echo(f"{total - failed} of {total} file(s) verified, {failed} failed")
    for message in unreadable:
        typer.echo(f"error: {message}", err=True)
    if unreadable:
        raise typer.Exit(2)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the top-level ``verify`` command."""
    app.command("verify")(verify_command)
