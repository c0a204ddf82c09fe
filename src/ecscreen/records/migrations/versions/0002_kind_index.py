"""Index on records.kind: `serve` and `review list` ask for the decision records often.

Revision ID: 0002_kind_index
Revises: 0001_initial
"""

from __future__ import annotations

from alembic import op

revision = "0002_kind_index"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_kind", "records", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_records_kind", table_name="records")
