"""``evservice verify FILE...``: check every signature in invoice PDFs and XMLs, offline.

Prints a readable report per file (``--json`` for machines) and exits 1 when
anything fails: a changed byte, an untrusted or expired certificate, a PDF
modified after signing, an embedded XML that differs, totals that disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evservice._context import Context
from evservice.verification import verify

__all__ = ["register", "verify_command"]


def verify_command(
    files: Annotated[list[Path], typer.Argument(help="PDF or XML files to verify.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    allow_legacy: Annotated[
        bool | None,
        typer.Option(
            "--allow-legacy/--no-allow-legacy",
            help="Accept RSA-SHA1 XML signatures of older invoices (default: settings).",
        ),
    ] = None,
    trust_root: Annotated[
        list[Path] | None,
        typer.Option("--trust-root", help="Also trust this root certificate (repeatable)."),
    ] = None,
) -> None:
    """Verify the signatures of invoice PDFs and XMLs; exit 1 if any check fails."""
    ctx = Context.default()
    reports = [
        verify(path, ctx=ctx, allow_legacy=allow_legacy, trust_roots=trust_root or ())
        for path in files
    ]
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
    else:
        for report in reports:
            typer.echo(report.text())
            typer.echo("")
        failed = sum(not r.ok for r in reports)
        typer.echo(f"{len(reports) - failed} of {len(reports)} file(s) verified, {failed} failed")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the top-level ``verify`` command."""
    app.command("verify")(verify_command)
