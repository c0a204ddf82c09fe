"""The check path's record writer (records/rawsqlite.py, issue 10 item 5): ``ecscreen check`` on an existing
SQLite store at the head revision records through the stdlib driver without importing SQLAlchemy, writing the
very rows, chain and blobs :class:`RecordStore` writes; the store stays readable, verifiable and replayable by
the SQLAlchemy path; a new store, an older schema or a database URL go through RecordStore.open."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ecscreen.cli.main import main
from ecscreen.cli.options import open_record_store
from ecscreen.records import NewRecord, PartyRef, RecordStore
from ecscreen.records.rawsqlite import DB_NAME, PARTY_COLUMNS, RECORD_COLUMNS, SqliteRecordWriter
from ecscreen.records.schema import record_parties, records

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
AT = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)

SHIP = """id: PO-FAST
destination: CN
date: 2026-09-01
items:
  - description: GPU accelerator
    eccn: 3A090.a
parties:
  - role: end_user
    name: Huawei Technolgies Co Ltd
    country: CN
"""


def _recs() -> list[NewRecord]:
    return [
        NewRecord(command="check", source="a.yaml:1", subject="S-1", input={"destination": "CN", "b": [1, 2]},
                  decision="license_required", findings=[{"rule_id": "R-1", "outcome": "license_required"}],
                  parties=[PartyRef(name="Ünïcode  Trading  GmbH", country="DE", role="end_user", outcome="review",
                                    score=91.5), PartyRef(name="Plain Co", role="consignee")],
                  manifest="ab" * 32, warnings=["w"], extra={"as_of": "2026-09-01"}),
        NewRecord(command="check", source="a.yaml:9", subject="bad\udcff", input={"raw": "x"}, decision="error",
                  errors=["a.yaml:9: broken"]),
    ]


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("records", "record_parties", "blobs")}


def test_rawsqlite_columns_are_the_schema_tables_columns() -> None:
    assert tuple(c.name for c in records.columns) == RECORD_COLUMNS
    assert tuple(c.name for c in record_parties.columns) == PARTY_COLUMNS


def test_fast_writer_writes_the_same_rows_as_the_record_store(tmp_path: Path) -> None:
    """Two stores, the same appends and blobs, one through RecordStore and one through the writer: every
    row of records, record_parties and blobs is identical (content, hashes, normalised names, escapes)."""
    a, b = tmp_path / "a", tmp_path / "b"
    for h in (a, b):
        RecordStore.open(home=h).close()
    full = RecordStore.open(home=a)
    fast = SqliteRecordWriter.open(b / DB_NAME)
    assert fast is not None
    for s in (full, fast):
        assert s.put_blob(b"pack text", "pack", ref="p1", at=AT) == s.put_blob(b"pack text", "pack", ref="p1", at=AT)
        sha = s.put_manifest({"tool": "ecscreen", "packs": [{"id": "p1"}]}, at=AT)
        assert s.has_blobs([sha, "0" * 64]) == {sha}
        assert s.find_blob("pack", "p1") is not None and s.find_blob("pack", "nope") is None
        assert s.append_screenings(_recs(), at=AT) == [1, 2]
        assert s.append_screenings(_recs()[:1], at=AT + dt.timedelta(seconds=1)) == [3]
        s.close()
    assert _dump(a / DB_NAME) == _dump(b / DB_NAME)


def test_fast_writer_reads_decisions_as_the_record_store(tmp_path: Path) -> None:
    from ecscreen.records import Decision

    s = RecordStore.open(home=tmp_path)
    s.append_screenings(_recs(), at=AT)
    s.append_decision(Decision(record_id=1, rule_id="R-1", decision="cleared", reason="checked",
                               approver="qa", party=PartyRef(name="Plain Co")), at=AT)
    want = s.decisions()
    s.close()
    fast = SqliteRecordWriter.open(tmp_path / DB_NAME)
    assert fast is not None
    assert fast.decisions() == want and len(want) == 1
    fast.close()


def test_fast_writer_opens_only_an_existing_store_at_the_head_revision(tmp_path: Path, home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert SqliteRecordWriter.open(tmp_path / "none.db") is None
    (tmp_path / "empty.db").write_bytes(b"")
    assert SqliteRecordWriter.open(tmp_path / "empty.db") is None
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001_initial')")
    assert SqliteRecordWriter.open(tmp_path / "old.db") is None
    # a first check creates (and migrates) the store through RecordStore; the next ones use the writer
    first = open_record_store(fast=True)
    assert isinstance(first, RecordStore)
    first.close()
    second = open_record_store(fast=True)
    assert isinstance(second, SqliteRecordWriter)
    second.close()
    assert open_record_store(True, fast=True) is None
    monkeypatch.setenv("ECSCREEN_DATABASE_URL", f"sqlite:///{tmp_path / 'url.db'}")
    third = open_record_store(fast=True)
    assert isinstance(third, RecordStore)
    third.close()


def test_check_records_without_sqlalchemy_and_the_store_verifies_and_replays(home: Path, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]
                                                                              ) -> None:
    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    assert main(["check", str(ship), "--no-lists"]) == 1  # creates the store (RecordStore: migration)
    probe = ("import sys; from ecscreen.cli.main import main; rc = main(); "
             "sys.stderr.write('SQLALCHEMY=%s\\n' % ('sqlalchemy' in sys.modules)); sys.exit(rc)")
    env = {**os.environ, "ECSCREEN_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    env.pop("ECSCREEN_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", probe, "check", str(ship), str(EX / "gpu-to-germany.yaml")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    assert "SQLALCHEMY=False" in done.stderr and "recorded as record 2-3" in done.stderr
    capsys.readouterr()
    s = RecordStore.open(home=home)
    recs = s.query(newest_first=False)
    assert [(r.id, r.subject) for r in recs] == [(1, "PO-FAST"), (2, "PO-FAST"), (3, "SHP-GPU-DE")]
    manifest = s.get_manifest(recs[1].manifest or "")
    assert manifest is not None and manifest["use_lists"] is True and manifest["lists"]
    assert all(p["blob"] for p in manifest["packs"]) and all(x["blob"] for x in manifest["lists"])
    assert s.get_blob(manifest["lists"][0]["blob"])  # the list snapshot, stored by the fast writer
    s.close()
    code = main(["records", "verify"])
    assert code == 0 and "ok: 3 record(s) verified" in capsys.readouterr().out
    assert main(["replay", "2"]) == 0, capsys.readouterr()


def test_concurrent_fast_path_checks_keep_one_chain(home: Path) -> None:
    """Three ``check`` processes on an existing store (all through the stdlib writer) and one RecordStore append
    interleave whole transactions: every record lands once, ids are consecutive and the chain verifies."""
    RecordStore.open(home=home).close()
    env = {**os.environ, "ECSCREEN_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    env.pop("ECSCREEN_DATABASE_URL", None)
    cmd = [sys.executable, "-c", "import sys; from ecscreen.cli.main import main; sys.exit(main())", "-q", "check",
           "--no-lists", str(EX / "gpu-to-china.yaml"), str(EX / "gpu-to-germany.yaml")]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(3)]
    s = RecordStore.open(home=home)
    s.append_screenings(_recs(), at=AT)
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [1, 1, 1], errs
    assert s.count() == 8 and s.verify().ok
    assert [r.id for r in s.query(newest_first=False)] == list(range(1, 9))
    s.close()


def test_batch_records_without_sqlalchemy_on_an_existing_store_and_it_verifies_and_replays(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``batch`` on a store at the head revision records through the stdlib writer too (no SQLAlchemy import:
    ~0.3 s of a daily 5,000-row run), and what it wrote verifies and replays through RecordStore."""
    orders = EX / "orders" / "orders.csv"
    out = tmp_path / "out.csv"
    main(["batch", str(orders), "--out", str(out), "--no-lists"])  # creates the store (RecordStore: migration)
    capsys.readouterr()
    first = RecordStore.open(home=home)
    n_first = len(first.query(newest_first=False))
    first.close()
    probe = ("import sys; from ecscreen.cli.main import main; rc = main(); "
             "sys.stderr.write('SQLALCHEMY=%s\\n' % ('sqlalchemy' in sys.modules)); sys.exit(rc)")
    env = {**os.environ, "ECSCREEN_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    env.pop("ECSCREEN_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", probe, "batch", str(orders), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 3, done.stderr  # the example has one unscreenable row (exit 3), recorded as such
    assert "SQLALCHEMY=False" in done.stderr and "recorded 7 order(s)" in done.stderr
    s = RecordStore.open(home=home)
    recs = s.query(newest_first=False)
    assert n_first > 0 and len(recs) == 2 * n_first
    assert {r.command for r in recs} == {"batch"}
    s.close()
    assert main(["records", "verify"]) == 0 and f"ok: {2 * n_first} record(s) verified" in capsys.readouterr().out
    assert main(["replay", str(recs[-1].id)]) == 0, capsys.readouterr()


def test_no_record_runs_read_the_review_decisions_without_sqlalchemy(home: Path, tmp_path: Path) -> None:
    """A ``--no-record`` run still applies the store's review decisions; it opened the store through
    RecordStore to read them (SQLAlchemy imported and an engine built: ~0.3 CPU-s of a batch's start-up,
    more than recording's own start-up). An SQLite store at the head revision is now read with the stdlib
    driver, as a recorded run writes it (``test_review`` checks the decisions are applied)."""
    RecordStore.open(home=home).close()
    orders = EX / "orders" / "orders.csv"
    probe = ("import sys; from ecscreen.cli.main import main; rc = main(); "
             "sys.stderr.write('SQLALCHEMY=%s\\n' % ('sqlalchemy' in sys.modules)); sys.exit(rc)")
    env = {**os.environ, "ECSCREEN_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    env.pop("ECSCREEN_DATABASE_URL", None)
    for cmd in (["batch", str(orders), "--out", str(tmp_path / "out.csv"), "--no-lists", "--no-record"],
                ["check", str(EX / "gpu-to-germany.yaml"), "--no-record"]):
        done = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode in (0, 1, 3), done.stderr
        assert "SQLALCHEMY=False" in done.stderr, (cmd[0], done.stderr)
    s = RecordStore.open(home=home)
    assert s.count(kind=None) == 0  # nothing recorded
    s.close()
