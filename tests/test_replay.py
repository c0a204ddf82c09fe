"""`ecscreen replay ID` (issue 15 item 3): a fresh record replays identical from its stored packs and lists;
a tampered blob or a changed code path is reported as a difference (exit 1)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ecscreen.cli.main import main
from ecscreen.records import RecordStore
from ecscreen.runners.replay import compare_findings, replay

SHIP = """id: PO-7
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


@pytest.fixture()
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A home with one recorded `check` (record 1)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ECSCREEN_HOME", str(home))
    monkeypatch.delenv("ECSCREEN_DATABASE_URL", raising=False)
    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    assert main(["check", str(ship), "--format", "json"]) == 1
    capsys.readouterr()
    return home


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["replay", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fresh_record_replays_identical(recorded: Path, capsys) -> None:
    code, out, _ = _replay(capsys, "1")
    assert code == 0
    assert "record 1: identical (decision license_required" in out
    code, out, _ = _replay(capsys, "1", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["identical"] is True and doc["packs"] >= 10 and doc["lists"] >= 1
    assert doc["decision"] == {"recorded": "license_required", "replayed": "license_required"}


def test_replay_uses_the_recorded_lists_not_the_current_ones(recorded: Path, tmp_path: Path, capsys) -> None:
    # a list imported after the screening names the party: a new check flags it, the replay does not
    own = tmp_path / "own.yaml"
    own.write_text("kind: party_list\nname: Own list\nsource: test\ndate: 2026-09-01\nsource_code: SDN\n"
                   "entries:\n  - id: OWN-1\n    name: Huawei Technolgies Co Ltd\n    countries: [CN]\n",
                   encoding="utf-8")
    assert main(["lists", "import", str(own)]) == 0
    out = capsys.readouterr().out
    # the import says how many recorded parties the new entry affects, and how to list them
    assert "1 of 1 distinct recorded parties now hit one of the 1 added or changed list entries, on 1 record" in out
    assert "ecscreen rescreen --since" in out
    code, out, _ = _replay(capsys, "1")
    assert code == 0 and "identical" in out
    # rescreen against the current lists reports the party and its record
    capsys.readouterr()
    assert main(["rescreen", "--format", "json", "--workers", "1"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["worsened"] == 1 and doc["parties"][0]["records"] == [1]
    assert "new hit: OWN-1" in doc["parties"][0]["reasons"]
    capsys.readouterr()
    assert main(["rescreen", "--format", "csv", "--since", "2000-01-01"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("party,country,outcome") and "OWN-1" in lines[1] and lines[1].endswith(",1")
    assert main(["rescreen", "--since", "2999-01-01"]) == 0  # no party recorded in the window


def test_tampered_pack_blob_is_reported(recorded: Path, capsys) -> None:
    db = sqlite3.connect(recorded / "records.db")
    sha = db.execute("SELECT sha256 FROM blobs WHERE kind='pack' ORDER BY sha256 LIMIT 1").fetchone()[0]
    db.execute("UPDATE blobs SET data = CAST(data || X'0A23' AS BLOB) WHERE sha256 = ?", (sha,))
    db.commit()
    db.close()
    code, out, _ = _replay(capsys, "1")
    assert code == 1
    assert "cannot be replayed as recorded" in out and sha[:16] in out and "damaged" in out


def test_tampered_list_blob_is_reported(recorded: Path, capsys) -> None:
    db = sqlite3.connect(recorded / "records.db")
    n = db.execute("DELETE FROM blobs WHERE kind='list'").rowcount
    db.commit()
    db.close()
    assert n >= 1
    code, out, _ = _replay(capsys, "1", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["identical"] is False and "missing from the store" in doc["problems"][0]


def test_changed_code_path_is_reported(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the screening code changes behaviour (here: party findings get another message and outcome)
    import ecscreen.parties.screening as parties_mod

    real = parties_mod._finding

    def changed(*a, **kw):
        f = real(*a, **kw)
        return f.model_copy(update={"outcome": parties_mod.Outcome.prohibited, "message": f.message + " (changed)"})

    monkeypatch.setattr(parties_mod, "_finding", changed)
    with RecordStore.open(None, recorded) as store:
        rec = store.get(1)
        assert rec is not None
        result = replay(store, rec)
    assert not result.identical
    assert result.decision_before == "license_required" and result.decision_after == "prohibited"
    ch = [c for c in result.changed if c["rule_id"] == "PARTY-EL"]
    assert ch and set(ch[0]["fields"]) == {"message", "outcome"}
    assert ch[0]["fields"]["outcome"] == {"recorded": "license_required", "replayed": "prohibited"}


def test_compare_findings_added_removed_changed() -> None:
    a = {"rule_id": "R-1", "outcome": "review", "message": "m", "evidence": [{"field": "items[0].eccn"}]}
    b = {"rule_id": "R-2", "outcome": "prohibited", "message": "n"}
    a2 = dict(a, message="m2")
    added, removed, changed = compare_findings([a, b], [a2])
    assert added == [] and [r["rule_id"] for r in removed] == ["R-2"]
    assert changed == [{"rule_id": "R-1", "item_index": None, "fields": {"message": {"recorded": "m",
                                                                                        "replayed": "m2"}}}]
    added, removed, changed = compare_findings([a], [a, b])
    assert [x["rule_id"] for x in added] == ["R-2"] and not removed and not changed


def test_batch_records_replay_identical_and_refusals(recorded: Path, tmp_path: Path, capsys) -> None:
    assert _replay(capsys, "99")[0] == 2  # no such record
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,date,destination,description,eccn,end_user,end_user_country\n"
                      "SO-1,2026-09-01,DE,Widget,EAR99,Muster GmbH,DE\n"
                      "SO-2,2026-09-01,CN,GPU,3A090.a,Huawei Technolgies Co Ltd,CN\n"
                      "SO-2,2026-09-01,CN,Cable,EAR99,Huawei Technolgies Co Ltd,CN\n"
                      "SO-3,2026-09-01,,Widget,EAR99,Muster GmbH,DE\n", encoding="utf-8")
    main(["batch", str(orders), "--out", str(tmp_path / "o.csv")])
    for rid, decision in ((2, "clear"), (3, "license_required"), (4, "error")):
        code, out, _ = _replay(capsys, str(rid))
        assert code == 0 and f"record {rid}: identical (decision {decision}" in out
    # a decision record is not a screening: refused
    code, out, _ = _replay(capsys, "1", "--format", "json")
    assert main(["review", "decide", "1", "--finding", "AC-3A090A-2023", "--as", "escalated", "--reason", "r",
                 "--approver", "a"]) == 0
    capsys.readouterr()
    code, _, err = _replay(capsys, "5")
    assert code == 2 and "decision record" in err


GATE_CATALOG = Path(__file__).parent / "fixtures" / "gate" / "catalog.csv"


def test_gate_records_replay_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Regression (issue 15): `replay` of a gate record exited 2 ("not supported"); now it re-runs the recorded
    catalog blob with the recorded packs and reports identical, and a changed pack is a difference."""
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ECSCREEN_DATABASE_URL", raising=False)
    catalog = tmp_path / "catalog.csv"
    catalog.write_bytes(GATE_CATALOG.read_bytes())
    main(["gate", str(catalog), "--format", "json", "--out", str(tmp_path / "g.json")])
    capsys.readouterr()
    store = RecordStore.open(home=tmp_path / "home")
    try:
        recs = [r for r in store.iter_records() if r.command == "gate"]
        manifest = store.get_manifest(recs[0].manifest)
    finally:
        store.close()
    assert len(recs) >= 2 and {r.decision for r in recs} - {"clear"}
    assert all(r.content["extra"]["as_of"] for r in recs)  # the date the gate evaluated on is kept
    catalog.write_text("sku\n", encoding="utf-8")  # the file on disk changes: the stored blob is used
    for r in recs:
        code, out, err = _replay(capsys, str(r.id), "--format", "json")
        doc = json.loads(out)
        assert code == 0, (out, err)
        assert doc["identical"] is True and doc["decision"]["replayed"] == r.decision
    (tmp_path / "g2.csv").write_bytes(GATE_CATALOG.read_bytes())  # a gate run with --as-of replays on that date
    main(["gate", str(tmp_path / "g2.csv"), "--as-of", "2024-01-01", "--format", "json", "--out",
          str(tmp_path / "g2.json")])
    capsys.readouterr()
    with RecordStore.open(home=tmp_path / "home") as st:
        dated = [r for r in st.iter_records() if r.command == "gate" and r.id > recs[-1].id]
    assert dated and all(r.content["extra"]["as_of"] == "2024-01-01" for r in dated)
    for r in dated:
        code, out, _ = _replay(capsys, str(r.id), "--format", "json")
        assert code == 0 and json.loads(out)["identical"] is True
    flagged = next(r for r in recs if r.decision != "clear")
    assert manifest is not None  # damage the catalog blob: the replay names it and is not identical
    sha = next(f["blob"] for f in manifest["files"] if f["role"] == "catalog")
    db = tmp_path / "home" / "records.db"
    con = sqlite3.connect(db)
    con.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"sku,eccn\n", sha))
    con.commit()
    con.close()
    code, out, _ = _replay(capsys, str(flagged.id), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["identical"] is False and any("gate catalog" in p for p in doc["problems"])


def test_env_clearances_are_stored_and_replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Regression (issue 15): clearance files named in $ECSCREEN_CLEARANCES were applied to the screening but
    not kept in the run manifest, so a replay (without them) differed. Now they are stored by hash."""
    home = tmp_path / "home"
    monkeypatch.setenv("ECSCREEN_HOME", str(home))
    monkeypatch.delenv("ECSCREEN_DATABASE_URL", raising=False)
    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    clear = tmp_path / "clearances.yaml"
    clear.write_text("kind: party_clearances\nclearances:\n"
                     "  - {party: Huawei Technolgies Co Ltd, entry_id: CMIC-30947, reason: checked, approver: C,"
                     " expires: 2099-01-01}\n", encoding="utf-8")
    monkeypatch.setenv("ECSCREEN_CLEARANCES", str(clear))
    assert main(["check", str(ship), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    covered = [f for f in doc["results"][0]["findings"] if f.get("covered_by")]
    assert covered, "the environment's clearance covers the CMIC hit"
    with RecordStore.open(home=home) as store:
        rec = store.get(1)
        assert rec is not None and rec.manifest
        manifest = store.get_manifest(rec.manifest)
    assert manifest is not None
    files = [f for f in manifest["files"] if f["role"] == "clearances"]
    assert len(files) == 1 and files[0]["from"] == "ECSCREEN_CLEARANCES" and files[0]["blob"]
    # the environment changes after the screening: the replay still uses the recorded clearances file
    monkeypatch.delenv("ECSCREEN_CLEARANCES")
    clear.write_text("kind: party_clearances\nclearances: []\n", encoding="utf-8")
    code, out, _ = _replay(capsys, "1", "--format", "json")
    assert code == 0 and json.loads(out)["identical"] is True
    # a --clearances file given on the command line wins over the environment (only it is stored)
    other = tmp_path / "other.yaml"
    other.write_text("kind: party_clearances\nclearances: []\n", encoding="utf-8")
    monkeypatch.setenv("ECSCREEN_CLEARANCES", str(clear))
    assert main(["check", str(ship), "--clearances", str(other), "--format", "json"]) == 1
    capsys.readouterr()
    with RecordStore.open(home=home) as store:
        rec = store.get(2)
        assert rec is not None and rec.manifest
        manifest = store.get_manifest(rec.manifest)
    assert manifest is not None
    assert [(f["path"], f.get("from")) for f in manifest["files"]] == [(str(other), None)]
