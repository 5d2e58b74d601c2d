"""The context every public entry point runs in: settings, clock and store.

A ``Context`` is cheap to pass around and caches per process what must not be
built twice (the engine; domains add their own caches keyed on the settings).
Public functions take ``ctx: Context | None = None`` and fall back to
:meth:`Context.default`, built from the environment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy.engine import Engine

from evservice.clock import Clock, SystemClock
from evservice.config import Settings, get_settings

__all__ = ["Context"]

_default_lock = threading.Lock()
_default: Context | None = None


@dataclass(frozen=True, eq=False)
class Context:
    """Settings, clock and store for one deployment (or one test)."""

    settings: Settings = field(default_factory=get_settings)
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def default(cls) -> Context:
        """The process-wide context from the environment."""
        global _default
        with _default_lock:
            if _default is None:
                _default = cls()
            return _default

    @cached_property
    def engine(self) -> Engine:
        """The store, migrated to the current schema (once per process)."""
        from evservice._files import private_dir
        from evservice.store import get_engine, migrate

        private_dir(self.settings.data_dir)
        return migrate(get_engine(self.settings.db_url))

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


def resolve(ctx: Context | None) -> Context:
    """``ctx`` or the default context."""
    return ctx if ctx is not None else Context.default()
