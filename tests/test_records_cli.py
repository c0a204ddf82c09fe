"""Recording screenings (issue 15): check, batch, gate and the API write records; history, show,
records export/prune/verify read them. Every test has its own record store (ECSCREEN_HOME)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from ecscreen.cli.main import main
from ecscreen.records import RecordStore
from ecscreen.records.rawsqlite import HEAD_REVISION

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
ORDERS = ROOT / "tests" / "fixtures" / "batch" / "orders.csv"
CATALOG = ROOT / "tests" / "fixtures" / "gate" / "catalog.csv"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def store(home: Path) -> RecordStore:
    return RecordStore.open(home=home)


# --------------------------------------------------------------------------- recording


def test_check_records_each_shipment_with_input_source_findings_and_manifest(home: Path, capsys) -> None:
    code, _, err = run(capsys, "check", EX / "gpu-to-china.yaml", EX / "mixed-batch.yaml", "--no-lists")
    assert code == 3  # mixed-batch holds an invalid shipment
    assert "note: recorded as record 1-4" in err
    s = store(home)
    recs = s.query(newest_first=False)
    assert [(r.subject, r.decision) for r in recs] == [
        ("SHP-GPU-CN", "license_required"), ("OK-1", "clear"), ("BAD-1", "error"), ("FLAG-1", "license_required")]
    gpu = recs[0]
    assert gpu.command == "check" and gpu.source == f"{EX / 'gpu-to-china.yaml'}:2"
    assert gpu.content["input"]["destination"] == "CN"
    assert gpu.content["input"]["items"][0]["eccn"] == "3A090.a"
    assert "AC-3A090A-2023" in [f["rule_id"] for f in gpu.content["findings"]]
    assert [p["name"] for p in gpu.content["parties"]] == ["Example Cloud Computing Co., Ltd."]
    assert recs[2].content["errors"] and recs[2].content["input"] is not None  # the raw document is kept
    manifest = s.get_manifest(gpu.manifest or "")
    assert manifest is not None and manifest["command"] == "check" and manifest["use_lists"] is False
    assert manifest["tool_version"] and manifest["options"]["no_lists"] is True
    # every pack is stored by its sha256: a record can be replayed with exactly these packs
    assert manifest["packs"] and all(p["blob"] == p["sha256"] for p in manifest["packs"])
    for p in manifest["packs"][:3]:
        data = s.get_blob(p["blob"])
        assert data is not None and hashlib.sha256(data).hexdigest() == p["sha256"]
    assert s.verify().ok
    s.close()


def test_check_with_lists_keeps_the_list_snapshot(home: Path, capsys) -> None:
    run(capsys, "check", EX / "gpu-to-germany.yaml")
    s = store(home)
    r = s.query()[0]
    manifest = s.get_manifest(r.manifest or "")
    assert manifest is not None and manifest["lists"]
    li = manifest["lists"][0]
    from ecscreen.parties.store import _decode_store

    data = s.get_blob(li["blob"])
    assert data is not None
    assert _decode_store(data, "blob").info.sha256 == li["sha256"]  # the snapshot decodes to the same list
    s.close()


def test_same_packs_and_lists_are_stored_once(home: Path, capsys) -> None:
    run(capsys, "check", EX / "gpu-to-china.yaml", "--no-lists")
    run(capsys, "check", EX / "gpu-to-germany.yaml", "--no-lists")
    db = home / "records.db"
    with sqlite3.connect(db) as conn:
        manifests = conn.execute("SELECT count(*) FROM blobs WHERE kind = 'manifest'").fetchone()[0]
        packs = conn.execute("SELECT count(*), count(DISTINCT sha256) FROM blobs WHERE kind = 'pack'").fetchone()
        refs = conn.execute("SELECT count(DISTINCT manifest) FROM records").fetchone()[0]
    assert packs[0] == packs[1]
    assert refs == 2 and manifests == 2  # options differ (the file names), packs shared


def test_no_record_writes_nothing(home: Path, capsys) -> None:
    code, _, err = run(capsys, "check", EX / "gpu-to-china.yaml", "--no-lists", "--no-record")
    assert code == 1 and "recorded" not in err
    assert not (home / "records.db").exists()


def test_a_store_that_cannot_be_opened_stops_before_screening(home: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ECSCREEN_DATABASE_URL", "mysql://user@localhost/records")
    code, out, err = run(capsys, "check", EX / "gpu-to-china.yaml", "--no-lists")
    assert code == 2 and out == ""
    assert "unsupported database" in err and "--no-record" in err


def test_batch_records_each_order_in_bulk(home: Path, capsys, tmp_path: Path) -> None:
    out_a, out_b = tmp_path / "a.csv", tmp_path / "b.csv"
    code, _, err = run(capsys, "batch", ORDERS, "--out", out_a, "--no-progress")
    assert code == 3
    assert "note: recorded 7 order(s) as records 1-7" in err
    run(capsys, "batch", ORDERS, "--out", out_b, "--no-progress", "--no-record")
    assert out_a.read_bytes() == out_b.read_bytes()  # recording does not change the output
    s = store(home)
    recs = s.query(newest_first=False)
    assert len(recs) == 7 and s.count() == 7  # the --no-record run added nothing
    so2 = next(r for r in recs if r.subject == "SO-1002")
    assert so2.source == f"{ORDERS}:3-4" and so2.command == "batch"
    assert [row["line"] for row in so2.content["input"]["rows"]] == [3, 4]
    header = json.loads((s.get_blob(so2.content["input"]["header_sha256"]) or b"").decode())
    assert header[:3] == ["order_id", "date", "destination"]
    assert so2.content["input"]["rows"][0]["cells"][3] == "Data-center GPU accelerator"
    assert so2.decision == "license_required"
    assert {f["line"] for f in so2.content["findings"]} == {3}
    atl = next(r for r in recs if r.subject == "SO-1005")
    assert atl.decision == "error" and "Atlantis" in atl.content["errors"][0]
    tehran = next(r for r in recs if r.subject == "SO-1003")
    assert tehran.content["parties"][0]["name"] == "Tehran Trading Co"
    assert s.verify().ok
    s.close()


def test_batch_records_party_outcomes_for_rescreening(home: Path, capsys, tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,date,destination,description,eccn,end_user,end_user_country\n"
                      "A-1,2026-08-01,CN,Laptop,EAR99,Huawei Technologies Co. Ltd.,CN\n"
                      "A-2,2026-08-01,DE,Laptop,EAR99,Muster Automation GmbH,DE\n", encoding="utf-8")
    run(capsys, "batch", orders, "--out", tmp_path / "out.csv", "--no-progress")
    s = store(home)
    seen = {p.norm_name: p for p in s.iter_parties()}
    assert seen["huawei technologies co. ltd."].last_outcome in ("review", "license_required", "prohibited")
    assert (seen["huawei technologies co. ltd."].last_score or 0) > 80
    assert seen["muster automation gmbh"].last_outcome == "clear"
    s.close()


def test_batch_records_rows_with_undecodable_bytes(home: Path, capsys, tmp_path: Path) -> None:
    """Regression: a Latin-1 byte in a UTF-8 file (an error row) stopped the run with 'could not record'."""
    orders = tmp_path / "latin.csv"
    orders.write_bytes(b"order_id,date,destination,description,eccn,end_user,end_user_country\n"
                       + b"A-1,2026-08-01,DE,Pr\xe4zisionswaage,EAR99,M\xfcller GmbH,DE\n"
                       + b"A-2,2026-08-01,DE,Widget,EAR99,Ok GmbH,DE\n")
    code, _, err = run(capsys, "batch", orders, "--out", tmp_path / "out.csv", "--no-progress", "--no-lists")
    assert code == 3 and "could not record" not in err
    s = store(home)
    recs = s.query(newest_first=False)
    assert [r.decision for r in recs] == ["error", "review"]  # review: parties not screened (--no-lists)
    assert recs[0].content["input"]["rows"][0]["cells"][3] == "Pr\udce4zisionswaage"  # the bytes are kept
    assert s.verify().ok
    s.close()


def test_gate_records_each_pair(home: Path, capsys, tmp_path: Path) -> None:
    code, _, _ = run(capsys, "gate", CATALOG, "--format", "json", "--out", tmp_path / "g.json")
    report = json.loads((tmp_path / "g.json").read_text())
    s = store(home)
    recs = s.query(newest_first=False)
    assert len(recs) == len(report["pairs"]) > 0
    assert {r.command for r in recs} == {"gate"}
    assert [r.subject for r in recs] == [p["subject"] for p in report["pairs"]]
    manifest = s.get_manifest(recs[0].manifest or "")
    assert manifest is not None
    catalog = next(f for f in manifest["files"] if f["role"] == "catalog")
    assert s.get_blob(catalog["blob"]) == CATALOG.read_bytes()
    s.close()


def test_api_records_into_the_store_it_is_given(tmp_path: Path) -> None:
    from ecscreen.api import Screener

    s = RecordStore.open(home=tmp_path / "api")
    at = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
    scr = Screener(lists=False, record=s, client="erp-1", clock=lambda: at)
    res = scr.screen({"id": "PO-9", "destination": "CN", "date": "2024-06-01",
                      "items": [{"description": "GPU", "eccn": "3A090.a",
                                 "parameters": {"tpp": 5200, "performance_density": 6.4}}]})
    bad = scr.screen({"destination": "CN"})
    rep = scr.report([{"destination": "DE", "items": [{"description": "Widget", "eccn": "EAR99"}]}])
    recs = s.query(newest_first=False)
    assert [r.source for r in recs] == ["api:erp-1"] * 3
    assert recs[0].subject == "PO-9" and recs[0].decision == res.decision.value
    assert recs[1].decision == "error" == bad.decision and recs[1].content["input"] == {"raw": {"destination": "CN"}}
    assert recs[2].decision == rep.results[0].decision.value
    assert recs[0].recorded_at == at and scr.last_record_ids == [3]
    assert len({r.manifest for r in recs}) == 1
    assert Screener(lists=False).record_store is None  # the API records only into a store it is given
    s.close()


# --------------------------------------------------------------------------- reading


@pytest.fixture
def recorded(home: Path, capsys) -> Path:
    run(capsys, "check", EX / "gpu-to-china.yaml", EX / "gpu-to-germany.yaml", EX / "embargo-iran.yaml",
        "--no-lists")
    return home


def test_history_table_json_csv_and_filters(recorded: Path, capsys) -> None:
    code, out, _ = run(capsys, "history", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [3, 2, 1]
    assert {"id", "recorded_at", "command", "source", "subject", "decision", "rule_ids", "parties", "hash"} <= set(rows[0])
    code, out, _ = run(capsys, "history", "--decision", "license_required", "--format", "json")
    assert [r["subject"] for r in json.loads(out)] == ["SHP-GPU-CN"]
    code, out, _ = run(capsys, "history", "--party", "example cloud", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].startswith("id,kind,recorded_at") and len(lines) == 2 and "SHP-GPU-CN" in lines[1]
    today = dt.datetime.now(dt.UTC).date()
    code, out, _ = run(capsys, "history", "--since", (today + dt.timedelta(days=2)).isoformat(), "--format", "json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "history")
    assert code == 0 and "SHP-GPU-CN" in out
    assert run(capsys, "history", "--since", "yesterday")[0] == 2
    assert run(capsys, "history", "--decision", "maybe")[0] == 2


def test_show_text_and_json(recorded: Path, capsys) -> None:
    code, out, _ = run(capsys, "show", "1")
    assert code == 0
    assert "record 1 (screening)" in out and "SHP-GPU-CN" in out and "AC-3A090A-2023" in out
    assert "pack       us-ear-ccl" in out and "hash" in out
    code, out, _ = run(capsys, "show", "1", "--format", "json")
    doc = json.loads(out)
    assert doc["id"] == 1 and doc["content"]["subject"] == "SHP-GPU-CN" and doc["manifest_content"]["packs"]
    code, _, err = run(capsys, "show", "99")
    assert code == 2 and "record 99 not found" in err


def test_export_jsonl_is_verifiable_without_ecscreen(recorded: Path, capsys, tmp_path: Path) -> None:
    target = tmp_path / "audit.jsonl"
    code, _, err = run(capsys, "records", "export", "--format", "jsonl", "--out", target)
    assert code == 0 and "exported 3 record(s)" in err
    prev = "0" * 64
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    for line in lines:
        r = json.loads(line)
        assert r["prev_hash"] == prev
        assert hashlib.sha256(prev.encode() + b"\n" + r["content"].encode()).hexdigest() == r["hash"]
        assert json.loads(r["content"])["id"] == r["id"]
        prev = r["hash"]
    code, out, _ = run(capsys, "records", "export", "--format", "csv", "--since", "2000-01-01")
    rows = out.strip().splitlines()
    assert rows[0].startswith("id,kind,recorded_at") and len(rows) == 4
    assert run(capsys, "records", "export", "--format", "xml")[0] == 2


def test_records_verify_exit_codes_and_first_bad_id(recorded: Path, capsys) -> None:
    code, out, _ = run(capsys, "records", "verify")
    assert code == 0 and out.startswith("ok: 3 record(s) verified; head 3:")
    head = out.split("head ")[1].strip()
    with sqlite3.connect(recorded / "records.db") as conn:
        conn.execute("UPDATE records SET decision = 'clear' WHERE id = 2")
    code, out, err = run(capsys, "records", "verify")
    assert code == 1 and "first bad record: 2" in out and "record 2 was changed" in err
    with sqlite3.connect(recorded / "records.db") as conn:
        conn.execute("UPDATE records SET decision = (SELECT json_extract(content, '$.decision')) WHERE id = 2")
        conn.execute("DELETE FROM records WHERE id = 3")  # the newest record: only a noted head shows it
    assert run(capsys, "records", "verify")[0] == 0
    code, out, err = run(capsys, "records", "verify", "--head", head)
    assert code == 1 and "first bad record: 3" in out and "deleted" in err
    assert run(capsys, "records", "verify", "--head", "3:abc")[0] == 2


def test_records_verify_detects_a_changed_pack_blob(recorded: Path, capsys) -> None:
    with sqlite3.connect(recorded / "records.db") as conn:
        conn.execute("UPDATE blobs SET data = X'00' WHERE rowid = (SELECT min(rowid) FROM blobs WHERE kind = 'pack')")
    code, _, err = run(capsys, "records", "verify")
    assert code == 1 and "blob" in err


def test_records_prune_refuses_young_records_and_keeps_the_chain(recorded: Path, capsys) -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    code, _, err = run(capsys, "records", "prune", "--before", tomorrow)
    assert code == 2 and "762.6" in err and "--force" in err
    assert run(capsys, "records", "prune", "--before", "2001-01-01")[1] == "nothing to prune\n"
    code, out, _ = run(capsys, "records", "prune", "--before", tomorrow, "--force")
    assert code == 0 and "pruned 3 record(s)" in out and "checkpoint record 4" in out
    code, out, _ = run(capsys, "records", "verify")
    assert code == 0 and "after 3 pruned" in out
    code, out, _ = run(capsys, "show", "4")
    assert "(checkpoint)" in out and "pruned     3 record(s)" in out


def test_records_info(recorded: Path, capsys) -> None:
    code, out, _ = run(capsys, "records", "info", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["records"] == 3 and doc["revision"] == HEAD_REVISION and doc["head"].startswith("3:")


def test_history_on_a_fresh_store(home: Path, capsys) -> None:
    code, out, _ = run(capsys, "history")
    assert code == 0 and "no records match" in out


def test_concurrent_cli_checks_record_every_shipment(home: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "ECSCREEN_HOME": str(home)}
    cmd = [sys.executable, "-c", "import sys; from ecscreen.cli.main import main; sys.exit(main())", "-q", "check", "--no-lists",
           str(EX / "gpu-to-china.yaml"), str(EX / "gpu-to-germany.yaml")]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(3)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [1, 1, 1], errs
    s = store(home)
    assert s.count() == 6 and s.verify().ok
    s.close()


def test_iter_records_streams_in_chunks(recorded: Path) -> None:
    s = store(recorded)
    assert [r.id for r in s.iter_records(chunk=1)] == [1, 2, 3]
    assert [r.id for r in s.iter_records(chunk=2, since="2000-01-01")] == [1, 2, 3]
    s.close()
