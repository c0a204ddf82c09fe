"""Alembic environment: ``RecordStore.open`` passes an open connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from ecscreen.records.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the store runs these migrations
    raise RuntimeError("run the record store migrations through ecscreen.records.RecordStore.open")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
