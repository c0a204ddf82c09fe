"""Screening records: an append-only, hash-chained store (SQLite by default, PostgreSQL for teams).

See :mod:`ecscreen.records.store` for the interface and :mod:`ecscreen.records.models` for the shapes.
The names below are imported on first use: ``ecscreen check`` writes through
:mod:`ecscreen.records.rawsqlite` and never imports SQLAlchemy (``store``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecscreen.records.models import (
        Decision,
        NewRecord,
        PartyRef,
        PartySeen,
        PruneResult,
        StoredRecord,
        VerifyResult,
    )
    from ecscreen.records.rawsqlite import GENESIS, canonical, norm_name, timestamp
    from ecscreen.records.store import RETENTION_YEARS, RecordStore

__all__ = ["GENESIS", "RETENTION_YEARS", "Decision", "NewRecord", "PartyRef", "PartySeen", "PruneResult",
           "RecordStore", "StoredRecord", "VerifyResult", "canonical", "norm_name", "timestamp"]

_WHERE = {"GENESIS": "rawsqlite", "canonical": "rawsqlite", "norm_name": "rawsqlite", "timestamp": "rawsqlite",
          "RETENTION_YEARS": "store", "RecordStore": "store"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'ecscreen.records' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"ecscreen.records.{_WHERE.get(name, 'models')}"), name)
