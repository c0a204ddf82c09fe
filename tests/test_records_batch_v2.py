"""Batch records by reference (issue 15, recording overhead): a ``batch`` order's record names each row's
outcome and the order's warnings by the sha256 of content-addressed blobs instead of copying them (content
version 2). Readers see the version-1 keys expanded; the chain covers the references and ``records verify``
checks the blobs; stores holding version-1 batch records (written before) read, verify, export and replay as
before; the same store tests run against SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ecscreen.cli.main import main
from ecscreen.errors import UsageError
from ecscreen.records import NewRecord, RecordStore
from ecscreen.records.rawsqlite import DB_NAME, SqliteRecordWriter, chain_hash
from ecscreen.records.recorder import BatchRecorder
from ecscreen.runners.batch import BatchOptions, run_batch
from records_v1 import append_v1

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "tests" / "fixtures" / "batch" / "orders.csv"
AT = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
RANK = ["clear", "review", "license_required", "prohibited"]

PARTY_ORDERS = ("order_id,date,destination,description,eccn,end_user,end_user_country,purchaser\n"
                "A-1,2026-08-01,CN,Laptop,EAR99,Huawei Technologies Co. Ltd.,CN,Huawei Technologies Co. Ltd.\n"
                "A-1,2026-08-01,CN,GPU,3A090.a,Huawei Technologies Co. Ltd.,CN,\n"
                "A-2,2026-08-01,DE,Laptop,EAR99,Muster Automation GmbH,DE,\n"
                "A-3,2026-08-01,IR,Pump,EAR99,Tehran Trading Co,IR,\n"
                "A-4,2026-08-01,DE,Laptop,EAR99,Muster Automation GmbH,DE,\n"
                "A-5,2026-08-01,Atlantis,Widget,EAR99,Muster Automation GmbH,DE,\n")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return request.getfixturevalue("pg_server").new_database()


class Capturing(BatchRecorder):
    """The recorder, keeping every (order, row outcomes) it was given (to compute the version-1 content)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.seen: list[tuple[Any, list[Any]]] = []

    def add(self, order: Any, outs: Any) -> None:
        self.seen.append((order, list(outs)))
        super().add(order, outs)


def v1_fields(order: Any, outs: list[Any], file: str) -> dict[str, Any]:
    """What a version-1 batch record held inline (the recorder before content version 2)."""
    findings, rows, decisions, errors = [], [], [], []
    for pr, o in zip(order.rows, outs, strict=True):
        decisions.append(o.decision)
        rows.append({"line": pr.raw.line, "decision": o.decision})
        if o.decision == "error":
            errors.append(f"{file}:{pr.raw.line}: {o.message}")
        findings.extend({"line": pr.raw.line, **fd} for fd in o.findings)
    decision = "error" if errors else max(decisions, key=RANK.index)
    return json.loads(json.dumps({
        "findings": findings, "warnings": list(dict.fromkeys(w for o in outs for w in o.warnings)),
        "extra": {"rows": rows}, "errors": errors, "decision": decision}))


def record_batch(store: Any, text: str, engine: Any, *, file: str = "orders.csv", chunk: int = 2,
                 threaded: bool = True) -> Capturing:
    rec = Capturing(store, manifest=store.put_manifest({"run": 1}, at=AT), file=file, at=AT, chunk=chunk,
                    threaded=threaded)
    run_batch(io.BytesIO(text.encode("utf-8")), io.StringIO(), engine, file=file, recorder=rec,
              options=BatchOptions(today=dt.date(2026, 11, 28)))
    return rec


def test_batch_record_names_outcomes_by_reference_and_reads_as_version_1(store_url: str, full_engine: Any) -> None:
    """Every recorded order reads back with exactly the findings (with their line), warnings, row decisions,
    errors and decision the version-1 record copied inline; the stored text holds only references, the
    rows of the same outcome share one blob, and the chain verifies (SQLite and PostgreSQL)."""
    store = RecordStore.open(url=store_url)
    try:
        rec = record_batch(store, PARTY_ORDERS, full_engine)
        assert rec.recorded == 5 and (rec.first_id, rec.last_id) == (1, 5)
        got = {r.subject: r for r in store.query(newest_first=False)}
        assert list(got) == ["A-1", "A-2", "A-3", "A-4", "A-5"]
        for order, outs in rec.seen:
            r = got[order.order_id]
            want = v1_fields(order, outs, "orders.csv")
            assert {k: r.content[k] for k in want} == want
            assert r.decision == want["decision"] and "problems" not in r.content
            text = r.content_text or ""
            assert '"v":2' in text and '"findings"' not in text and '"extra"' not in text
            assert len(r.content["outcomes"]) == len(order.rows)
        assert got["A-1"].decision in ("license_required", "prohibited") and got["A-1"].content["findings"]
        assert got["A-5"].decision == "error" and "Atlantis" in got["A-5"].content["errors"][0]
        # the same outcome and warnings, one blob each
        assert got["A-2"].content["outcomes"] == got["A-4"].content["outcomes"]
        assert got["A-2"].content["warning_refs"] == got["A-4"].content["warning_refs"]
        parties = {p.norm_name: p for p in store.iter_parties()}
        assert parties["huawei technologies co. ltd."].last_outcome != "clear"
        assert parties["muster automation gmbh"].record_ids == [2, 4, 5]
        assert [r.subject for r in store.query(party="huawei")] == ["A-1"]
        res = store.verify()
        assert res.ok and res.checked == 5
    finally:
        store.close()


def test_verify_checks_the_blobs_a_batch_record_names(tmp_path: Path, engine: Any) -> None:
    """The chain covers the references; a changed or deleted outcome, warning or header blob breaks
    ``verify`` at the first record naming it, and reading the record names the damage."""
    store = RecordStore.open(home=tmp_path)
    rec = record_batch(store, PARTY_ORDERS, engine)
    a2 = store.query(subject="A-2")[0]
    out_sha, warn_sha = a2.content["outcomes"][0], a2.content["warning_refs"][0]
    header = a2.content["input"]["header_sha256"]
    assert store.verify().ok and rec.recorded == 5
    store.close()
    db = tmp_path / DB_NAME
    for sha, change in ((out_sha, "UPDATE blobs SET data = CAST('{\"decision\":\"clear\",\"findings\":[]}' AS BLOB) "
                                  "WHERE sha256 = ?"),
                        (warn_sha, "UPDATE blobs SET data = CAST('\"no warning\"' AS BLOB) WHERE sha256 = ?"),
                        (header, "DELETE FROM blobs WHERE sha256 = ?")):
        with sqlite3.connect(db) as conn:
            saved = conn.execute("SELECT * FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
            conn.execute(change, (sha,))
        with RecordStore.open(home=tmp_path) as s:
            res = s.verify()
            first = min(r.id for r in s.query(newest_first=False) if sha in (
                r.content.get("outcomes", []) + r.content.get("warning_refs", []) + [r.content["input"]["header_sha256"]]))
            assert not res.ok and res.first_bad_id == first and sha[:16] in (res.problem or "")
            if sha != header:
                assert "problems" in s.get(first).content  # readers are told, not given other findings
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM blobs WHERE sha256 = ?", (sha,))
            conn.execute("INSERT INTO blobs VALUES (?, ?, ?, ?, ?, ?)", saved)
        with RecordStore.open(home=tmp_path) as s:
            assert s.verify().ok
    # the reference itself is covered by the chain: pointing a record at another blob breaks its hash
    with sqlite3.connect(db) as conn:
        content = conn.execute("SELECT content FROM records WHERE id = 2").fetchone()[0]
        conn.execute("UPDATE records SET content = ? WHERE id = 2", (content.replace(out_sha, "0" * 64),))
    with RecordStore.open(home=tmp_path) as s:
        res = s.verify()
        assert not res.ok and res.first_bad_id == 2 and "does not match its hash" in (res.problem or "")


def test_fast_writer_and_record_store_write_the_same_batch_rows(tmp_path: Path, engine: Any) -> None:
    """``batch`` on an existing store records through the stdlib writer: the same records, parties and blobs
    as through RecordStore, byte for byte (threaded or not)."""
    a, b = tmp_path / "a", tmp_path / "b"
    for h in (a, b):
        RecordStore.open(home=h).close()
    full = RecordStore.open(home=a)
    fast = SqliteRecordWriter.open(b / DB_NAME)
    assert fast is not None
    record_batch(full, PARTY_ORDERS, engine, threaded=False)
    record_batch(fast, PARTY_ORDERS, engine)
    full.close()
    fast.close()
    dumps = []
    for h in (a, b):
        with sqlite3.connect(h / DB_NAME) as conn:
            dumps.append({t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                          for t in ("records", "record_parties", "blobs")})
    assert dumps[0] == dumps[1] and len(dumps[0]["records"]) == 5


def test_a_store_that_fails_stops_the_run_from_the_writer_thread(tmp_path: Path, engine: Any) -> None:
    """A chunk the store refuses in the writer thread stops the run (UsageError naming the store) at the
    next chunk or at finish, and the thread is stopped."""

    class Failing:
        shown = "sqlite:///broken.db"

        def put_blob(self, *a: Any, **kw: Any) -> str:
            return "0" * 64

        def put_manifest(self, *a: Any, **kw: Any) -> str:
            return "1" * 64

        def append_batch(self, *a: Any, **kw: Any) -> list[int]:
            raise RuntimeError("disk I/O error")

    with pytest.raises(UsageError, match="could not record the screening in sqlite:///broken.db: disk I/O error"):
        rec = record_batch(Failing(), PARTY_ORDERS, engine)
    rec = Capturing(Failing(), manifest=None, file="f.csv", at=AT, chunk=1)
    rec.start(["order_id"])
    rec.flush()
    assert rec._thread is None and rec.recorded == 0


def test_batch_cli_records_v2_and_history_show_export_replay_verify_work(home: Path, capsys,
                                                                          tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(PARTY_ORDERS, encoding="utf-8")
    assert main(["batch", str(orders), "--out", str(tmp_path / "o.csv"), "--no-progress"]) == 3
    capsys.readouterr()
    assert main(["history", "--format", "json"]) == 0
    hist = json.loads(capsys.readouterr().out)
    a1 = next(h for h in hist if h["subject"] == "A-1")
    assert a1["rule_ids"]  # the rule ids come from the expanded findings
    assert main(["show", str(a1["id"])]) == 0
    shown = capsys.readouterr().out
    assert "findings   " in shown and "[line 2]" in shown and "warning" in shown
    for rid in (r["id"] for r in hist):
        assert main(["replay", str(rid)]) == 0, rid
        assert "identical" in capsys.readouterr().out
    assert main(["records", "verify"]) == 0
    capsys.readouterr()
    assert main(["records", "export", "--format", "jsonl", "-o", str(tmp_path / "audit.jsonl")]) == 0
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    prev = "0" * 64
    for ln in lines:  # the chain and every blob it names check without ecscreen
        assert ln["prev_hash"] == prev and hashlib.sha256(f"{prev}\n{ln['content']}".encode()).hexdigest() == ln["hash"]
        prev = ln["hash"]
        content = json.loads(ln["content"])
        assert set(ln["blobs"]) == {*content["outcomes"], *content["warnings"], content["input"]["header_sha256"]}
        for sha, text in ln["blobs"].items():
            assert hashlib.sha256(text.encode("utf-8")).hexdigest() == sha


def test_version_1_batch_records_still_read_verify_export_and_replay(home: Path, capsys, tmp_path: Path) -> None:
    """A store written before content version 2 holds batch records with their findings inline: they read,
    verify, export (no blobs key) and replay identical next to version-2 records."""
    orders = tmp_path / "orders.csv"
    orders.write_text(PARTY_ORDERS, encoding="utf-8")
    assert main(["batch", str(orders), "--out", str(tmp_path / "o.csv"), "--no-progress"]) == 3
    capsys.readouterr()
    with RecordStore.open(home=home) as s:
        v2 = s.query(newest_first=False)
        # the same orders as the version-1 recorder wrote them (NewRecord with everything inline)
        old = [NewRecord(command="batch", source=r.source or "", subject=r.subject, input=r.content["input"],
                         decision=r.decision or "", findings=r.content["findings"], parties=r.content["parties"],
                         manifest=r.manifest, warnings=r.content["warnings"], errors=r.content["errors"],
                         extra=r.content["extra"]) for r in v2]
        ids = append_v1(s, old, at=AT)
        v1 = {r.id: r for r in s.query(newest_first=False) if r.id in ids}
        assert s.verify().ok
    for a, rid in zip(v2, ids, strict=True):
        b = v1[rid]
        assert b.content["v"] == 1 and '"findings"' in (b.content_text or "")
        for k in ("findings", "warnings", "extra", "errors", "parties", "input"):
            assert json.loads(json.dumps(a.content[k])) == json.loads(json.dumps(b.content[k])), k
        assert main(["replay", str(rid)]) == 0
        assert "identical" in capsys.readouterr().out
    assert main(["records", "export", "--format", "jsonl"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert all(("blobs" in ln) == (ln["id"] not in ids) for ln in lines)
    assert all(chain_hash(ln["prev_hash"], ln["content"]) == ln["hash"] for ln in lines)


def test_replay_of_a_batch_record_whose_outcome_blob_was_changed_names_it(home: Path, capsys,
                                                                          tmp_path: Path) -> None:
    """Regression: with a row outcome blob changed, replay compared against what was left of the findings;
    it now says the recorded outcome cannot be read (not identical, exit 1)."""
    orders = tmp_path / "orders.csv"
    orders.write_text(PARTY_ORDERS, encoding="utf-8")
    main(["batch", str(orders), "--out", str(tmp_path / "o.csv"), "--no-progress"])
    with RecordStore.open(home=home) as s:
        a1 = s.query(subject="A-1")[0]
    sha = a1.content["outcomes"][1]
    with sqlite3.connect(home / DB_NAME) as conn:
        conn.execute("UPDATE blobs SET data = CAST('{\"decision\":\"clear\",\"findings\":[]}' AS BLOB) "
                     "WHERE sha256 = ?", (sha,))
    capsys.readouterr()
    assert main(["replay", str(a1.id)]) == 1
    out = capsys.readouterr().out
    assert "cannot be replayed as recorded" in out and sha[:16] in out and "identical" not in out


def test_hand_built_batch_content_is_the_canonical_json_of_its_input(tmp_path: Path, engine: Any) -> None:
    """The recorder writes a batch record's input JSON by hand (no per-order dict and encoder): its
    ``input_sha256`` must be the sha256 of ``canonical(input)``, as every other record's is, also for cells
    holding quotes, backslashes, non-ASCII text and control characters, and for an order id that is not ASCII."""
    from ecscreen.records.rawsqlite import canonical

    text = ("order_id,date,destination,description,eccn,end_user,end_user_country\n"
            'B-1,2026-08-01,DE,"Laptop ""Pro"" \\\\ 15\'\'",EAR99,Müller & Söhne GmbH,DE\n'
            "B-1,2026-08-01,DE,Dock\tstation,EAR99,Müller & Söhne GmbH,DE\n"
            "Ü-2,2026-08-01,FR,Écran 北京,EAR99,Société Générale,FR\n")
    store = RecordStore.open(url=f"sqlite:///{tmp_path / 'records.db'}")
    try:
        rec = record_batch(store, text, engine)
        assert rec.recorded == 2
        records = store.query(newest_first=False)
        assert [r.subject for r in records] == ["B-1", "Ü-2"]
        assert '"Pro"' in records[0].content["input"]["rows"][0]["cells"][3]
        assert "\t" in records[0].content["input"]["rows"][1]["cells"][3]
        for r in records:
            assert r.input_sha256 == hashlib.sha256(canonical(r.content["input"]).encode("utf-8")).hexdigest()
        assert store.verify().ok
    finally:
        store.close()


def _blob_kinds(store: RecordStore) -> dict[str, str]:
    from sqlalchemy import select

    from ecscreen.records.schema import blobs

    with store.engine.connect() as conn:
        return {sha: kind for sha, kind in conn.execute(select(blobs.c.sha256, blobs.c.kind))}


def test_prune_deletes_the_blobs_only_pruned_records_named_and_keeps_the_rest(store_url: str, engine: Any) -> None:
    """``records prune`` used to leave behind every outcome, warning and header blob of the batch records it
    deleted (orphans nothing names), and deleted the clearances file of a run whose records it kept (the
    manifest's ``files`` were not counted as used). Now: the blobs only pruned records named are gone, every
    blob a remaining record or its manifest names is kept, and the store verifies (SQLite and PostgreSQL)."""
    old_at = dt.datetime(2018, 5, 1, tzinfo=dt.UTC)
    store = RecordStore.open(url=store_url)
    try:
        old = BatchRecorder(store, manifest=store.put_manifest({"run": "old"}, at=old_at), file="old.csv", at=old_at)
        run_batch(io.BytesIO(PARTY_ORDERS.encode("utf-8")), io.StringIO(), engine, file="old.csv", recorder=old,
                  options=BatchOptions(today=dt.date(2026, 11, 28)))
        young_text = ("order_id,date,destination,description,eccn,end_user,end_user_country\n"
                      "B-1,2026-08-01,DE,Laptop,EAR99,Muster Automation GmbH,DE\n")
        clear_file = store.put_blob(b"name,country\nMuster Automation GmbH,DE\n", "clearances", at=AT)
        manifest = store.put_manifest({"run": "young", "files": [{"role": "clearances", "blob": clear_file}]}, at=AT)
        young = BatchRecorder(store, manifest=manifest, file="young.csv", at=AT)
        run_batch(io.BytesIO(young_text.encode("utf-8")), io.StringIO(), engine, file="young.csv", recorder=young,
                  options=BatchOptions(today=dt.date(2026, 11, 28)))
        before = _blob_kinds(store)
        kept = store.get(6)
        assert kept is not None and kept.subject == "B-1"
        named = {*kept.content["outcomes"], *kept.content["warning_refs"], kept.content["input"]["header_sha256"]}
        orphans = {sha for sha, kind in before.items() if kind in ("outcome", "text", "header")} - named
        assert orphans  # A-1's findings, A-5's error, the old file's header... only the old records name them

        res = store.prune(dt.date(2020, 1, 1), at=AT)
        assert res.pruned == 5 and res.refused is None
        after = _blob_kinds(store)
        assert named <= set(after) and clear_file in after and manifest in after
        assert orphans & set(after) == set()
        assert [sha for sha, kind in after.items() if kind == "manifest"] == [manifest]
        assert res.blobs_deleted == len(before) - len(after) == len(orphans) + 1  # + the old run's manifest
        v = store.verify()
        assert v.ok and v.checked == 2  # B-1 and the checkpoint
        r = store.get(6)
        assert r is not None and "problems" not in r.content and r.content["decision"] == kept.content["decision"]
    finally:
        store.close()
