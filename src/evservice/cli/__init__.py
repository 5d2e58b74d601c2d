"""The ``evservice`` command: one typer sub-app per command group (``_<group>.py``).

Errors from our tree print as one line on stderr (``error: field: reason``) and
exit with status 2; a command that finishes with rejected items exits 1. The
app and its entry point are in :mod:`._app`.
"""

from evservice.cli._app import app, main

__all__ = ["app", "main"]
