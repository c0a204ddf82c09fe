"""Screening records: an append-only, hash-chained store (SQLite by default, PostgreSQL for teams).

See :mod:`ecscreen.records.store` for the interface and :mod:`ecscreen.records.models` for the shapes.
"""

from __future__ import annotations

from ecscreen.records.models import (
    Decision,
    NewRecord,
    PartyRef,
    PartySeen,
    PruneResult,
    StoredRecord,
    VerifyResult,
)
from ecscreen.records.store import GENESIS, RETENTION_YEARS, RecordStore, canonical, norm_name, timestamp

__all__ = ["GENESIS", "RETENTION_YEARS", "Decision", "NewRecord", "PartyRef", "PartySeen", "PruneResult",
           "RecordStore", "StoredRecord", "VerifyResult", "canonical", "norm_name", "timestamp"]
