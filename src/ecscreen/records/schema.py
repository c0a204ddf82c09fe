"""The record store's tables (SQLAlchemy Core). Alembic revisions under ``migrations/`` create them;
``tests/test_records_store.py`` checks the migrated database and this metadata agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from ecscreen.records.rawsqlite import HEAD_REVISION  # the newest Alembic revision (one value, set there)

__all__ = ["HEAD_REVISION", "blobs", "chain_base", "metadata", "record_parties", "records"]

metadata = MetaData()

records = Table(
    "records", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("recorded_at", String(32), nullable=False),  # ISO 8601 UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'
    Column("command", String(32)),
    Column("source", Text),
    Column("subject", Text),
    Column("decision", String(32)),
    Column("ref_id", BigInteger),
    Column("input_sha256", String(64)),
    Column("manifest", String(64)),
    Column("content", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_records_recorded_at", "recorded_at"),
    Index("ix_records_decision", "decision"),
    Index("ix_records_subject", "subject"),
    # partial (migration 0004): only decision records are sought by kind, only they carry a ref_id; the
    # store's queries compare kind with a literal so that SQLite and PostgreSQL use the partial index
    Index("ix_records_ref_id_set", "ref_id", sqlite_where=text("ref_id IS NOT NULL"),
          postgresql_where=text("ref_id IS NOT NULL")),
    Index("ix_records_kind_decision", "kind", sqlite_where=text("kind = 'decision'"),
          postgresql_where=text("kind = 'decision'")),
)

record_parties = Table(
    "record_parties", metadata,
    Column("record_id", BigInteger, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("norm_name", Text, nullable=False),
    Column("country", String(16)),
    Column("role", String(32)),
    Column("outcome", String(32)),
    Column("score", Float),
    # no index on norm_name: no query seeks by it, and its random inserts made batch recording slow down
    # as the store grew (migration 0003)
)

blobs = Table(
    "blobs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ref", String(128)),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_blobs_kind_ref", "kind", "ref"),
)

# One row: records up to base_id were pruned; the record base_id + 1 must carry base_hash as prev_hash.
chain_base = Table(
    "chain_base", metadata,
    Column("one", Integer, primary_key=True, autoincrement=False),
    Column("base_id", BigInteger, nullable=False),
    Column("base_hash", String(64), nullable=False),
)
