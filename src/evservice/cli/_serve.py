"""``evservice serve``: the customer portal on uvicorn (needs the ``web`` extra).

Defaults to 127.0.0.1:8000 with the embedded set-up (the SQLite store and
development keys under ``EVSERVICE_DATA_DIR``), like ``evservice demo``. The
access log never shows a signing link's token: paths under ``/c/`` and
``/hoa-don/t/`` are logged with the token replaced by ``…``.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

import typer

from evservice._context import Context
from evservice.config import Settings
from evservice.errors import ConfigurationError

__all__ = ["TokenRedactor", "register", "serve_command"]

_TOKEN_PATH = re.compile(r"(/c/|/hoa-don/t/|/api/v1/contracts/)[A-Za-z0-9_-]{20,60}")


class TokenRedactor(logging.Filter):
    """Hide signed tokens in uvicorn's access-log lines (they are bearer capabilities)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log")] = True,
) -> None:
    """Run the customer portal (contract signing, invoice lookup, verify, transparency)."""
    try:
        import uvicorn

        from evservice.web import create_app
    except ImportError as exc:
        raise ConfigurationError(
            "the portal needs the web extra: pip install 'evservice[web]'"
        ) from exc
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("uvicorn.access").addFilter(TokenRedactor())
    typer.echo(f"evservice portal on http://{host}:{port}/ (data in {settings.data_dir})")
    if workers > 1:
        uvicorn.run(
            "evservice.web._serve_factory:app",
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            factory=True,
        )
        return
    uvicorn.run(create_app(Context(settings=settings)), host=host, port=port, access_log=access_log)


def register(app: typer.Typer) -> None:
    """Add the top-level ``serve`` command."""
    app.command("serve")(serve_command)
