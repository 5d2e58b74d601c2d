"""The store: SQLModel tables, the engine factory, transactions and migrations.

SQLite (a file under ``data_dir``) is the zero-configuration default;
PostgreSQL is chosen by URL. Each domain package owns its tables in its own
``_tables.py`` and its migrations as an Alembic branch named after it; see
``migrations/README``.
"""

from evservice.store._engine import get_engine, is_postgres, is_sqlite, transaction
from evservice.store._migrate import migrate
from evservice.store._rows import insert_if_absent
from evservice.store._types import UTCDateTime

__all__ = [
    "UTCDateTime",
    "get_engine",
    "insert_if_absent",
    "is_postgres",
    "is_sqlite",
    "migrate",
    "transaction",
]
