"""Run the Alembic migrations shipped with the package (``upgrade heads``).

Each domain package keeps its tables on its own Alembic branch, so the
migration tree has several heads; ``heads`` upgrades all of them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from evservice.errors import StoreError
from evservice.store._engine import get_engine

__all__ = ["alembic_config", "migrate"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_done: set[str] = set()
_lock = threading.Lock()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine | None = None) -> Engine:
    """Bring the store's schema up to date (idempotent; once per process per URL)."""
    engine = engine or get_engine()
    url = engine.url.render_as_string(hide_password=False)
    with _lock:
        if url in _done:
            return engine
        try:
            command.upgrade(alembic_config(engine), "heads")
        except SQLAlchemyError as exc:
            raise StoreError(f"migration failed: {exc}") from exc
        _done.add(url)
    return engine
