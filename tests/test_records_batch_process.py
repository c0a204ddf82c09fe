"""Batch recording with the writer in a child process (issue 15, recording overhead): ``batch`` on a SQLite
store hands its chunks to a forked writer process instead of a writer thread. The records, parties and blobs
are the same, byte for byte; a store the child cannot write stops the run as a thread's failure does; stores
that are not SQLite files keep the thread."""

from __future__ import annotations

import datetime as dt
import io
import json
import marshal
import sqlite3
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from ecscreen.errors import UsageError
from ecscreen.records import RecordStore, recorder
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


class _Shade(StrEnum):
    dark = "dark"


def test_the_screening_process_keeps_only_bytes_and_the_child_builds_the_records(tmp_path: Path) -> None:
    """With the writer in a child process the screening process keeps each order packed as marshal bytes (no
    object the cyclic GC tracks while a chunk fills) and queues no blobs: the child builds the records and
    blobs from the plain values (the stores equal the thread writer's: the test above)."""
    kept: list[Any] = []

    class Watching(BatchRecorder):
        def add(self, order: Any, outs: Any) -> None:
            super().add(order, outs)
            kept.extend(self.buf)
            assert not self._new_blobs and not self._refs

    with RecordStore.open(home=tmp_path) as store:
        rec = Watching(store, manifest=None, file="o.csv", at=AT, chunk=50, process=True)
        run_batch(io.BytesIO(MORE_ORDERS.encode("utf-8")), io.StringIO(), _ENGINE[0], file="o.csv", recorder=rec,
                  options=BatchOptions(today=dt.date(2026, 11, 28)))
        assert rec.recorded == 45 and store.verify().ok
    assert kept and all(type(b) is bytes for b in kept)
    order_id, found, b_in, rows = marshal.loads(kept[0])
    assert order_id == "A-1" and found[0][0] == "Huawei Technologies Co. Ltd." and json.loads(b_in)["rows"]
    assert [r[:2] for r in rows] == [(2, "license_required"), (3, "license_required")] and rows[0][2] and rows[0][4]


def test_values_marshal_cannot_write_are_sent_as_json_data_with_the_same_record(tmp_path: Path) -> None:
    """A findings or hits value that is not plain JSON data (an enum, a date) cannot be marshalled: that order
    goes as the JSON data of those values, and the child builds the very record and blobs the thread writer
    builds from the original values."""
    with RecordStore.open(home=tmp_path) as store:
        rec = BatchRecorder(store, manifest=None, file="o.csv", at=AT, process=False)
        rec.start(["order_id", "end_user", "end_user_country"], [("end_user", "end_user_country", "end_user")])
        finding = {"rule_id": "R-1", "outcome": "review", "message": "m", "shade": _Shade.dark,
                   "on": dt.date(2026, 11, 28)}
        hit = {"rule_id": "R-1", "field": "parties[0].name", "score": 91.5, "shade": _Shade.dark}
        item = ("O-1", (("Acme", "DE", "end_user"),), b'{"header_sha256":"x","rows":[]}',
                [(2, "review", [finding], ["a warning"], [hit], None), (3, "error", None, None, None, "bad cell")])
        data = recorder._marshal_packed(item)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            marshal.dumps(item)
        sent = marshal.loads(data)
        assert sent[3][0][2][0]["shade"] == "dark" and sent[3][0][2][0]["on"] == "2026-11-28"
        want: list[Any] = []
        rec._build(item, want)  # type: ignore[arg-type]
        want_blobs, rec._new_blobs, rec._refs = rec._new_blobs, [], {}
        got: list[Any] = []
        rec._build(sent, got)
        assert got == want and rec._new_blobs == want_blobs
        assert want[0][4] == "error" and want[0][6][0][4:] == ("review", 91.5)
