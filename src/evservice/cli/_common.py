"""What every command group shares: the context, reading JSON input, printing JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from evservice._context import Context
from evservice.config import Settings
from evservice.errors import ValidationError

__all__ = ["JsonOpt", "context", "echo_json", "read_text"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def context() -> Context:
    """A context from the environment as it is now (not the process-wide cached one)."""
    return Context(settings=Settings())


def read_text(source: str, field: str) -> str:
    """The UTF-8 text of file ``source`` (``-`` reads standard input); errors name ``field``."""
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(field, f"cannot read {source}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(field, f"{source} is not UTF-8 text") from exc


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
