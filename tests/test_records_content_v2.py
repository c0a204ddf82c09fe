"""Content version 2 for every screening record (h38): ``check``, API/``serve`` and ``gate`` records name
their outcome (decision and findings) and warnings by reference to content-addressed blobs, as ``batch``
records have since h17. Readers see the version-1 keys; version-1 records (every store made before) are
still read, verified, exported and replayed; the blobs are checked by ``records verify`` and kept by
``records prune`` while a record names them. The store-level tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ecscreen.cli.main import main
from ecscreen.records import NewRecord, PartyRef, RecordStore
from ecscreen.records.rawsqlite import SCREENING_CONTENT_VERSION, chain_hash, outcome_blob
from records_v1 import append_v1

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
CATALOG = ROOT / "tests" / "fixtures" / "gate" / "catalog.csv"
AT = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)


def run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def raw_doc(r: Any) -> dict[str, Any]:
    """The record's content as stored (hashed), not expanded."""
    return json.loads(r.content_text)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = (f"sqlite:///{tmp_path / 'records.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_server").new_database())
    s = RecordStore.open(url=url)
    yield s
    s.close()


def shipment(i: int, *, findings: list[dict[str, Any]] | None = None, warnings: list[str] | None = None,
             decision: str = "clear") -> NewRecord:
    return NewRecord(command="check", source=f"s.yaml:{i + 1}", subject=f"S{i}",
                     input={"destination": "CN", "n": i, "items": [{"description": "x"}]}, decision=decision,
                     findings=findings or [], warnings=warnings or [],
                     parties=[PartyRef(name="Acme Trading Co", country="CN", role="end_user")],
                     extra={"as_of": "2026-05-01", "destination": "CN"})


# --------------------------------------------------------------------------- the store


def test_shipment_records_name_their_outcome_and_warnings_by_blob(store: RecordStore) -> None:
    finding = {"rule_id": "R1", "outcome": "license_required", "message": "ECCN 3A090.a to CN (a long text)"}
    ids = store.append_screenings([
        shipment(0, findings=[finding], warnings=["w-1", "w-2"], decision="license_required"),
        shipment(1, findings=[finding], warnings=["w-1"], decision="license_required"),
        shipment(2)], at=AT)
    recs = {r.id: r for r in store.query(newest_first=False)}
    first = raw_doc(recs[ids[0]])
    assert first["v"] == SCREENING_CONTENT_VERSION == 2
    assert "findings" not in first and '"message"' not in (recs[ids[0]].content_text or "")
    sha, data = outcome_blob("license_required", [finding])
    assert first["outcomes"] == [sha] == raw_doc(recs[ids[1]])["outcomes"]  # one blob for the same outcome
    assert store.get_blob(sha) == data
    # readers see the version-1 keys
    r0 = recs[ids[0]].content
    assert r0["findings"] == [finding] and r0["warnings"] == ["w-1", "w-2"]
    assert r0["extra"] == {"as_of": "2026-05-01", "destination": "CN"} and r0["parties"][0]["name"] == "Acme Trading Co"
    assert recs[ids[2]].content["findings"] == [] and recs[ids[2]].content["warnings"] == []
    assert store.get(ids[1]).content["warnings"] == ["w-1"]  # type: ignore[union-attr]
    assert store.verify().ok
    with store.engine.connect() as conn:
        from sqlalchemy import text

        kinds = dict(conn.execute(text("SELECT kind, count(*) FROM blobs GROUP BY kind")).all())
    assert kinds == {"outcome": 2, "text": 2}  # two outcomes (one flagged, one clear), two distinct warnings


def test_verify_names_the_record_whose_outcome_blob_was_changed_or_deleted(store: RecordStore) -> None:
    finding = {"rule_id": "R1", "outcome": "prohibited"}
    store.append_screenings([shipment(0), shipment(1, findings=[finding], decision="prohibited")], at=AT)
    sha, _ = outcome_blob("prohibited", [finding])
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text("UPDATE blobs SET data = :d WHERE sha256 = :s"),
                     {"d": b'{"decision":"clear","findings":[]}', "s": sha})
    res = store.verify()
    assert not res.ok and res.first_bad_id == 2 and "changed" in (res.problem or "")
    got = store.get(2)
    assert got is not None and got.content["findings"] == [] and got.content["problems"]  # never silently clear
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM blobs WHERE sha256 = :s"), {"s": sha})
    res = store.verify()
    assert not res.ok and res.first_bad_id == 2 and "missing" in (res.problem or "")


def test_prune_keeps_the_blobs_of_remaining_shipment_records(store: RecordStore) -> None:
    old_only = {"rule_id": "OLD", "outcome": "review"}
    shared = {"rule_id": "BOTH", "outcome": "review"}
    store.append_screenings([shipment(0, findings=[old_only], warnings=["old"], decision="review"),
                             shipment(1, findings=[shared], decision="review")],
                            at=dt.datetime(2015, 1, 1, tzinfo=dt.UTC))
    store.append_screenings([shipment(2, findings=[shared], warnings=["new"], decision="review")],
                            at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    res = store.prune(dt.date(2016, 1, 1), at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert res.pruned == 2 and res.blobs_deleted >= 2
    gone, _ = outcome_blob("review", [old_only])
    kept, _ = outcome_blob("review", [shared])
    assert store.has_blobs([gone, kept]) == {kept}
    assert store.verify().ok
    assert store.get(3).content["findings"] == [shared]  # type: ignore[union-attr]
    assert store.get(3).content["warnings"] == ["new"]  # type: ignore[union-attr]


def test_version_1_and_version_2_shipment_records_in_one_chain(tmp_path: Path) -> None:
    """A store made before h38 holds version-1 shipment records (findings inline); new ones are version 2,
    chained on them; both read the same and verify."""
    s = RecordStore.open(url=f"sqlite:///{tmp_path / 'records.db'}")
    finding = {"rule_id": "R1", "outcome": "review", "message": "m"}
    recs = [shipment(0, findings=[finding], warnings=["w"], decision="review"), shipment(1)]
    old = append_v1(s, recs, at=AT)
    new = s.append_screenings(recs, at=AT)
    assert s.verify().ok
    got = {r.id: r for r in s.query(newest_first=False)}
    for a, b in zip(old, new, strict=True):
        assert raw_doc(got[a])["v"] == 1 and raw_doc(got[b])["v"] == 2
        for k in ("input", "findings", "warnings", "parties", "errors", "extra", "decision", "subject", "source"):
            assert got[a].content[k] == got[b].content[k], k
        assert got[a].input_sha256 == got[b].input_sha256
    s.close()


# --------------------------------------------------------------------------- the commands


def test_check_records_are_version_2_and_replay_identical(home: Path, capsys) -> None:
    code, out, _ = run(capsys, "check", EX / "gpu-to-china.yaml", EX / "gpu-to-germany.yaml", "--no-lists",
                       "--format", "json")
    assert code == 1
    report = json.loads(out)
    with RecordStore.open(home=home) as s:
        recs = s.query(newest_first=False)
        assert [raw_doc(r)["v"] for r in recs] == [2, 2]
        for r, res in zip(recs, report["results"], strict=True):
            assert [f["rule_id"] for f in r.content["findings"]] == [f["rule_id"] for f in res["findings"]]
            assert [f["message"] for f in r.content["findings"]] == [f["message"] for f in res["findings"]]
            assert r.content["warnings"] == res["warnings"]
        n_blobs = len(s.referenced_blobs(recs[0]))
    assert n_blobs >= 1
    for rid in (1, 2):
        code, out, _ = run(capsys, "replay", rid)
        assert code == 0 and "identical" in out
    code, out, _ = run(capsys, "show", 1)
    assert code == 0 and "AC-3A090A-2023" in out
    # the same shipment screened again: its outcome is stored once
    with sqlite3.connect(home / "records.db") as conn:
        before = conn.execute("SELECT count(*) FROM blobs WHERE kind = 'outcome'").fetchone()[0]
    run(capsys, "check", EX / "gpu-to-china.yaml", "--no-lists")
    with sqlite3.connect(home / "records.db") as conn:
        after = conn.execute("SELECT count(*) FROM blobs WHERE kind = 'outcome'").fetchone()[0]
    assert after == before
    assert run(capsys, "records", "verify")[0] == 0


def test_export_of_version_2_check_records_carries_their_blobs(home: Path, capsys) -> None:
    run(capsys, "check", EX / "gpu-to-china.yaml", "--no-lists")
    code, out, _ = run(capsys, "records", "export", "--format", "jsonl")
    assert code == 0
    (ln,) = [json.loads(x) for x in out.splitlines()]
    content = json.loads(ln["content"])
    assert chain_hash(ln["prev_hash"], ln["content"]) == ln["hash"]
    assert set(ln["blobs"]) == {*content["outcomes"], *content["warnings"]}
    for sha, text in ln["blobs"].items():
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == sha


def test_gate_records_are_version_2_with_extra_inline_and_replay(home: Path, capsys, tmp_path: Path) -> None:
    run(capsys, "gate", CATALOG, "--format", "json", "--out", tmp_path / "g.json")
    report = json.loads((tmp_path / "g.json").read_text())
    with RecordStore.open(home=home) as s:
        recs = s.query(newest_first=False)
        assert {raw_doc(r)["v"] for r in recs} == {2}
        for r, p in zip(recs, report["pairs"], strict=True):
            assert r.content["extra"]["status"] == p["status"]
            assert [f["rule_id"] for f in r.content["findings"]] == [f["rule_id"] for f in p["findings"]]
        assert s.verify().ok
        flagged = next(r.id for r in recs if r.content["findings"])
    code, out, _ = run(capsys, "replay", flagged)
    assert code == 0 and "identical" in out


def test_api_records_are_version_2(tmp_path: Path) -> None:
    from ecscreen.api import Screener

    s = RecordStore.open(home=tmp_path / "api")
    scr = Screener(lists=False, record=s, client="erp-1", clock=lambda: AT)
    res = scr.screen({"id": "PO-9", "destination": "CN", "date": "2024-06-01",
                      "items": [{"description": "GPU", "eccn": "3A090.a",
                                 "parameters": {"tpp": 5200, "performance_density": 6.4}}]})
    bad = scr.screen({"destination": "CN"})
    recs = s.query(newest_first=False)
    assert [raw_doc(r)["v"] for r in recs] == [2, 2]
    assert [f["rule_id"] for f in recs[0].content["findings"]] == [f.rule_id for f in res.findings]
    assert recs[1].decision == "error" == bad.decision and recs[1].content["errors"]
    assert s.verify().ok
    s.close()


def test_version_1_check_records_still_read_verify_export_and_replay(home: Path, capsys) -> None:
    """A store made before h38 holds check records in content version 1 (findings inline, no blobs): they
    read as the version-2 records of the same screening, verify, export without blobs and replay identical."""
    run(capsys, "check", EX / "gpu-to-china.yaml", EX / "embargo-iran.yaml", "--no-lists")
    with RecordStore.open(home=home) as s:
        v2 = s.query(newest_first=False)
        old = [NewRecord(command="check", source=r.source or "", subject=r.subject, input=r.content["input"],
                         decision=r.decision or "", findings=r.content["findings"],
                         parties=[PartyRef(**p) for p in r.content["parties"]], manifest=r.manifest,
                         warnings=r.content["warnings"], errors=r.content["errors"], extra=r.content["extra"])
               for r in v2]
        ids = append_v1(s, old, at=AT)
        got = {r.id: r for r in s.query(newest_first=False)}
        assert s.verify().ok
    for a, rid in zip(v2, ids, strict=True):
        b = got[rid]
        assert raw_doc(b)["v"] == 1 and '"findings"' in (b.content_text or "")
        for k in ("findings", "warnings", "extra", "errors", "parties", "input"):
            assert a.content[k] == b.content[k], k
        code, out, _ = run(capsys, "replay", rid)
        assert code == 0 and "identical" in out
    code, out, _ = run(capsys, "records", "export", "--format", "jsonl")
    lines = [json.loads(x) for x in out.splitlines()]
    assert [("blobs" in ln) for ln in lines] == [True, True, False, False]
