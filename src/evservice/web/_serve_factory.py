"""The app factory uvicorn imports in each worker process of ``evservice serve --workers N``."""

from __future__ import annotations

from fastapi import FastAPI

from evservice._context import Context
from evservice.config import Settings
from evservice.web._app import create_app

__all__ = ["app"]


def app() -> FastAPI:
    """A portal for the environment's settings (uvicorn calls this once per worker)."""
    return create_app(Context(settings=Settings()))
