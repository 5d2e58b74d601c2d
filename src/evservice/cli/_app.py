"""The ``evservice`` typer app: one sub-app per command group (``_<group>.py``), loaded here.

Errors from our tree print as one line on stderr (``error: field: reason``) and
exit with status 2; a command that finishes with rejected items exits 1.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from evservice.errors import EvServiceError

__all__ = ["app", "main"]

app = typer.Typer(
    name="evservice",
    help="Paperless customer service: signed e-invoices and contracts, QR, OTP consent, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, command name, hidden alias). Each module defines ``app`` (a group) or
# ``register(app)`` (top-level commands). Keep sorted by module.
_GROUPS: list[tuple[str, str | None, str | None]] = [
    ("_audit", "audit", None),
    ("_batch", None, None),
    ("_contract", "contract", "contracts"),
    ("_init", None, None),
    ("_invoice", "invoice", "invoices"),
    ("_keys", None, None),
    ("_otp", "otp", None),
    ("_outbox", "outbox", None),
    ("_payments", "payments", None),
    ("_qr", "qr", None),
    ("_serve", None, None),
    ("_tax", "tax", None),
    ("_verify", None, None),
]


def _load() -> None:
    for module_name, name, alias in _GROUPS:
        module = importlib.import_module(f"evservice.cli.{module_name}")
        if hasattr(module, "register"):
            module.register(app)
            continue
        app.add_typer(module.app, name=name)
        if alias:
            app.add_typer(module.app, name=alias, hidden=True)


_load()


def _configure_logging() -> None:
    """Library logs go to stderr only when ``EVSERVICE_LOG_LEVEL`` asks (e.g. ``DEBUG``).

    Otherwise a failed command prints exactly one line, ``error: ...``: without a
    handler of its own, Python's last-resort handler would print the library's
    warnings too (a refused code came out twice).
    """
    level = os.environ.get("EVSERVICE_LOG_LEVEL", "").strip().upper()
    if level:
        logging.basicConfig(
            level=getattr(logging, level, logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning our errors into a clean message and exit code 2."""
    _configure_logging()
    try:
        # Without standalone mode click *returns* the code of ``typer.Exit(n)``.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except EvServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Usage errors: click's, or those of the click that typer >= 0.20 vendors
        # (``typer._click``), which are not ``click.ClickException``s.
        show = getattr(exc, "show", None)
        exit_code = getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
