"""Alembic environment: runs on the engine handed over by ``evservice.store.migrate``."""

from __future__ import annotations

from alembic import context

from evservice.store._models import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
