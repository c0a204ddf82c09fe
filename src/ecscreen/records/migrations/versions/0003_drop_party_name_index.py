"""Drop the index on record_parties (norm_name, country): no command's query uses it, and keeping it cost
batch recording most of its growth with the store.

Every recorded party inserted a key at a random place of this index. Once the index outgrew SQLite's page
cache (a few hundred thousand recorded parties), each insert read and rewrote a page of it: appending
20,000 batch records to a store of 362k records cost 69 us CPU per record with the index and 43 us
without (1,000,000 ERP rows record 364,299 orders; recording added 14.5 % CPU to that batch run).
``history --party`` matches a part of the name (``LIKE '%...%'``), which scans the table with or
without the index; ``rescreen`` reads the parties in record order; ``iter_parties`` sorts by name
itself (a temporary B-tree, as it did for the country and record id already).

Revision ID: 0003_drop_party_name_index
Revises: 0002_kind_index
"""

from __future__ import annotations

from alembic import op

revision = "0003_drop_party_name_index"
down_revision = "0002_kind_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_record_parties_norm", table_name="record_parties")


def downgrade() -> None:
    op.create_index("ix_record_parties_norm", "record_parties", ["norm_name", "country"])
