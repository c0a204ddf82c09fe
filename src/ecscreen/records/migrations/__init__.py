"""Alembic environment and revisions of the record store (run by ``RecordStore.open``)."""
