"""Batch recording with the writer in a child process (issue 15, recording overhead): ``batch`` on a SQLite
store hands its chunks to a forked writer process instead of a writer thread. The records, parties and blobs
are the same, byte for byte; a store the child cannot write stops the run as a thread's failure does; stores
that are not SQLite files keep the thread."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ecscreen.errors import UsageError
from ecscreen.records import RecordStore
from ecscreen.records.rawsqlite import DB_NAME, SqliteRecordWriter
from ecscreen.records.recorder import BatchRecorder
from ecscreen.runners.batch import BatchOptions, run_batch
from test_records_batch_v2 import AT, PARTY_ORDERS

MORE_ORDERS = PARTY_ORDERS + "".join(f"B-{i},2026-08-01,DE,Laptop,EAR99,Firma {i % 7} GmbH,DE,\n" for i in range(40))


def _run(store: Any, *, process: bool, chunk: int = 3, text: str = MORE_ORDERS) -> BatchRecorder:
    rec = BatchRecorder(store, manifest=store.put_manifest({"run": 1}, at=AT), file="o.csv", at=AT, chunk=chunk,
                        process=process)
    run_batch(io.BytesIO(text.encode("utf-8")), io.StringIO(), _ENGINE[0], file="o.csv", recorder=rec,
              options=BatchOptions(today=dt.date(2026, 11, 28)))
    return rec


_ENGINE: list[Any] = []


@pytest.fixture(autouse=True)
def _engine(engine: Any) -> Any:
    _ENGINE[:] = [engine]
    yield
    _ENGINE.clear()


def _dump(home: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(home / DB_NAME) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("records", "record_parties", "blobs")}


@pytest.mark.parametrize("fast", [False, True])
def test_process_writer_writes_what_the_thread_writes(tmp_path: Path, fast: bool) -> None:
    """The same records, parties and blobs, byte for byte, through RecordStore or the stdlib writer; the
    recorder counts the ids the child wrote; the chain verifies."""
    a, b = tmp_path / "a", tmp_path / "b"
    for h in (a, b):
        RecordStore.open(home=h).close()
    thread_store = RecordStore.open(home=a)
    proc_store: Any = SqliteRecordWriter.open(b / DB_NAME) if fast else RecordStore.open(home=b)
    try:
        by_thread = _run(thread_store, process=False)
        by_proc = _run(proc_store, process=True)
        assert by_proc.process and not by_thread.process
        assert by_proc._proc is None and by_proc._thread is None  # the child ended with finish()
        assert (by_proc.recorded, by_proc.first_id, by_proc.last_id) == (45, 1, 45)
        assert (by_thread.recorded, by_thread.first_id, by_thread.last_id) == (45, 1, 45)
    finally:
        thread_store.close()
        proc_store.close()
    got, want = _dump(b), _dump(a)
    assert got == want and len(got["records"]) == 45
    with RecordStore.open(home=b) as s:
        assert s.verify().ok


def test_process_writer_appends_after_records_already_stored(tmp_path: Path) -> None:
    """The child chains on the store's head as it finds it (records written before the run)."""
    with RecordStore.open(home=tmp_path) as store:
        _run(store, process=False, text=PARTY_ORDERS)
        rec = _run(store, process=True)
        assert (rec.first_id, rec.last_id) == (6, 50)
        assert store.verify().ok


def test_a_store_the_child_cannot_write_stops_the_run(tmp_path: Path) -> None:
    """A store the child cannot write (here: its schema is not the current one) stops the run with the
    usage error a failing writer thread gives, and nothing is recorded."""
    store = RecordStore.open(home=tmp_path)
    try:
        with sqlite3.connect(tmp_path / DB_NAME) as conn:
            conn.execute("UPDATE alembic_version SET version_num = 'older'")
        rec = BatchRecorder(store, manifest=None, file="o.csv", at=AT, chunk=3, process=True)
        with pytest.raises(UsageError, match="could not record the screening in sqlite:///.*not a record store"):
            run_batch(io.BytesIO(MORE_ORDERS.encode("utf-8")), io.StringIO(), _ENGINE[0], file="o.csv", recorder=rec,
                      options=BatchOptions(today=dt.date(2026, 11, 28)))
        rec.close()  # as the CLI does when the run stops: the child ends
        assert rec._proc is None
    finally:
        store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_stores_that_are_not_sqlite_files_keep_the_writer_thread(tmp_path: Path) -> None:
    """A store without a SQLite file (another database, a stand-in) records through the thread; so does an
    unthreaded recorder."""

    class Stand:
        shown = "stand-in"
        dialect = "postgresql"

    assert not BatchRecorder(Stand(), manifest=None, file="f", at=AT, process=True).process  # type: ignore[arg-type]
    with RecordStore.open(home=tmp_path) as store:
        assert BatchRecorder(store, manifest=None, file="f", at=AT, process=True).process
        assert not BatchRecorder(store, manifest=None, file="f", at=AT, process=True, threaded=False).process


def test_process_writer_keeps_undecodable_bytes_as_the_thread_does(tmp_path: Path) -> None:
    """Cells with bytes that are not UTF-8 (kept as lone surrogates) reach the child and are stored as the
    thread stores them."""
    text = PARTY_ORDERS.replace("Tehran Trading Co", "Tehran Tr\udcffding Co")
    a, b = tmp_path / "a", tmp_path / "b"
    for h, process in ((a, False), (b, True)):
        with RecordStore.open(home=h) as store:
            rec = BatchRecorder(store, manifest=None, file="o.csv", at=AT, chunk=2, process=process)
            run_batch(io.BytesIO(text.encode("utf-8", "surrogateescape")), io.StringIO(), _ENGINE[0], file="o.csv",
                      recorder=rec, options=BatchOptions(today=dt.date(2026, 11, 28)))
            assert rec.recorded == 5 and store.verify().ok
    got, want = _dump(b), _dump(a)
    assert got == want and any("\\udcff" in str(r) or "\\xff" in str(r) for r in got["records"])
