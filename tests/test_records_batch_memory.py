"""A recorded batch run's memory does not grow with the run (issue 15: recording a 1,000,000-row batch held
~280 MB more than ``--no-record``, 726 against 445 MB; h50):

* the recorder's memo of an order's clear parties is bounded (it held all 92,376 distinct party sets of the
  1M-row ERP file, ~110 MB), and the records are the same whatever its bound;
* the writer lets go of the store's memory map every few chunks (every page read through the map stayed in
  the resident set: ~130 MB of store pages at 1M rows), and SQLite reads the store again after it."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from ecscreen.records import RecordStore, recorder
from ecscreen.records.rawsqlite import DB_NAME, SqliteRecordWriter, configure_connection, release_map
from ecscreen.records.recorder import BatchRecorder
from ecscreen.runners.batch import BatchOptions, run_batch

AT = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
HEAD = "order_id,date,destination,description,eccn,end_user,end_user_country,consignee,consignee_country,purchaser\n"
SETS = [("Muster Automation GmbH", "DE", "Spedition Nord KG", "DE", "Einkauf AG"),
        ("Atelier Lumiere SA", "FR", "", "", "Atelier Lumiere SA"),
        ("Nordic Tools AB", "SE", "Fjord Freight AS", "NO", ""),
        ("Kowalski Sp. z o.o.", "PL", "", "", "Kowalski Sp. z o.o.")]


def _orders() -> bytes:
    lines = [HEAD]
    for n in range(40):  # the sets recur (memo hits, and misses after the memo was cleared), some orders two lines
        s = SETS[(n * 3) % len(SETS)] if n % 5 else SETS[n % 2]
        for item in (("Laptop", "EAR99"), ("Mouse", "EAR99"))[: 1 + n % 2]:
            lines.append(f"O-{n:03d},2026-08-01,{s[1]},{item[0]},{item[1]},{s[0]},{s[1]},{s[2]},{s[3]},{s[4]}\n")
    return "".join(lines).encode("utf-8")


def _record(home: Path, engine: Any, **kw: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], BatchRecorder]:
    store = RecordStore.open(home=home)
    try:
        rec = BatchRecorder(store, manifest=store.put_manifest({"run": 1}, at=AT), file="o.csv", at=AT, **kw)
        run_batch(io.BytesIO(_orders()), io.StringIO(), engine, file="o.csv", recorder=rec,
                  options=BatchOptions(today=dt.date(2026, 11, 28)))
        assert store.verify().ok
    finally:
        store.close()
    with sqlite3.connect(home / DB_NAME) as conn:
        recs = conn.execute("SELECT id, subject, content, hash FROM records ORDER BY id").fetchall()
        parties = conn.execute("SELECT * FROM record_parties ORDER BY record_id, idx").fetchall()
    return recs, parties, rec


def test_clear_party_memo_is_bounded_and_records_do_not_depend_on_it(tmp_path: Path, engine: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    want_recs, want_parties, _ = _record(tmp_path / "a", engine)
    monkeypatch.setattr(recorder, "_PARTIES_MEMO", 2)
    got_recs, got_parties, rec = _record(tmp_path / "b", engine)
    assert len(rec._clear_parties) <= 2
    assert got_recs == want_recs and len(got_recs) == 40
    assert got_parties == want_parties and len(got_parties) > 40


def test_writer_releases_the_map_every_few_chunks_and_records_stay_whole(tmp_path: Path, engine: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    want_recs, want_parties, _ = _record(tmp_path / "a", engine)
    calls: list[int] = []
    real = RecordStore.release_map
    monkeypatch.setattr(RecordStore, "release_map", lambda self: (calls.append(1), real(self))[1])
    monkeypatch.setattr(recorder, "_UNMAP_EVERY", 3)
    got_recs, got_parties, rec = _record(tmp_path / "b", engine, chunk=4)
    assert rec.recorded == 40 and len(calls) == 10 // 3  # 10 chunks of 4 orders
    assert (got_recs, got_parties) == (want_recs, want_parties)


def _mapped_kb(path: Path) -> int | None:
    """Resident kB of the process's mappings of ``path`` (Linux), None where /proc is not there."""
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return None
    total, inside = 0, False
    for line in text.splitlines():
        if line[:1].isalnum() and "-" in line.split(" ", 1)[0]:  # a mapping's header line
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_release_map_drops_the_store_pages_from_the_resident_set(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    configure_connection(conn)
    try:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(4000)])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the pages in the file itself: read through the map
        assert conn.execute("SELECT count(*), sum(length(x)) FROM t").fetchone() == (4000, 2_000_000)
        before = _mapped_kb(path)
        assert before is not None and before >= 1000  # ~2 MB of table pages read through the map
        release_map(conn)
        after = _mapped_kb(path)
        assert after is not None and after < before // 10
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] > 0  # still mapped for the next reads
        assert conn.execute("SELECT count(*), sum(length(x)) FROM t").fetchone() == (4000, 2_000_000)
    finally:
        conn.close()


def test_fast_writer_release_map_outside_a_transaction_only(tmp_path: Path) -> None:
    RecordStore.open(home=tmp_path).close()  # a store at the head revision
    w = SqliteRecordWriter.open(tmp_path / DB_NAME)
    assert w is not None
    try:
        w._conn.execute("BEGIN")
        w.release_map()  # inside a transaction: left as it is
        w._conn.execute("COMMIT")
        w.release_map()
        assert w._conn.execute("PRAGMA mmap_size").fetchone()[0] > 0
    finally:
        w.close()
