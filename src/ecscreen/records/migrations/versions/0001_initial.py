"""The record store: records (hash chain), their parties, content-addressed blobs, the chain base.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def _bigint() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", _bigint(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("command", sa.String(32)),
        sa.Column("source", sa.Text()),
        sa.Column("subject", sa.Text()),
        sa.Column("decision", sa.String(32)),
        sa.Column("ref_id", sa.BigInteger()),
        sa.Column("input_sha256", sa.String(64)),
        sa.Column("manifest", sa.String(64)),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_records_recorded_at", "records", ["recorded_at"])
    op.create_index("ix_records_decision", "records", ["decision"])
    op.create_index("ix_records_subject", "records", ["subject"])
    op.create_index("ix_records_ref_id", "records", ["ref_id"])
    op.create_table(
        "record_parties",
        sa.Column("record_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("norm_name", sa.Text(), nullable=False),
        sa.Column("country", sa.String(16)),
        sa.Column("role", sa.String(32)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("score", sa.Float()),
    )
    op.create_index("ix_record_parties_norm", "record_parties", ["norm_name", "country"])
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(128)),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_blobs_kind_ref", "blobs", ["kind", "ref"])
    op.create_table(
        "chain_base",
        sa.Column("one", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("base_id", sa.BigInteger(), nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for name in ("chain_base", "blobs", "record_parties", "records"):
        op.drop_table(name)
