"""The record store's SQLite connections read pages through a memory map (``PRAGMA mmap_size``).

Regression (lead, stop 24): recording a 1,000,000-row batch cost +34 % against ``--no-record`` (1 GB store);
the batch's inserts into the random-key indexes (subject, party names) read pages all over the file, one
``read()`` each beyond SQLite's 2 MB page cache. With the map: +20 % on the same run (lead, idle). The store's own
connections (the driver connection of the raw writer and every SQLAlchemy connection) carry the pragma."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ecscreen.records.rawsqlite import MMAP_BYTES, configure_connection


def test_configure_connection_maps_the_store(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "records.db")
    try:
        configure_connection(conn)
        got = conn.execute("PRAGMA mmap_size").fetchone()[0]
        # SQLite may clamp the request to its compile-time maximum; it must not be left at 0 (off)
        assert 0 < got <= MMAP_BYTES
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_the_stores_own_connection_is_mapped(tmp_path: Path) -> None:
    from ecscreen.records import RecordStore

    store = RecordStore.open(f"sqlite:///{tmp_path / 'records.db'}")
    try:
        with store.engine.connect() as c:
            got = c.exec_driver_sql("PRAGMA mmap_size").fetchone()
        assert got is not None and got[0] > 0
    finally:
        store.close()
