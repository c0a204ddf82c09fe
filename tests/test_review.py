"""Review decisions (issue 15 item 5): `review list` / `review decide`, decisions as hash-chained records,
and a `cleared` party-hit decision becoming a clearance that later `check` and `batch` runs apply."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ecscreen.cli.main import main
from ecscreen.records import RecordStore

SHIP = """id: PO-1
destination: CN
date: 2026-09-01
items:
  - description: GPU accelerator
    eccn: 3A090.a
parties:
  - role: end_user
    name: Huawei Technolgies Co Ltd
    country: CN
  - role: consignee
    name: Acme Widgets Inc
    country: US
"""


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("ECSCREEN_HOME", str(h))
    monkeypatch.delenv("ECSCREEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("ECSCREEN_CLEARANCES", raising=False)
    return h


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _check_json(capsys: pytest.CaptureFixture[str], ship: Path, *extra: str) -> dict:
    code, out, _ = _run(capsys, "check", str(ship), "--format", "json", *extra)
    assert code == 1
    return json.loads(out)["results"][0]


def _party_findings(res: dict) -> list[dict]:
    return [f for f in res["findings"] if f["rule_id"].startswith("PARTY-")]


def test_review_list_decide_and_clearance_in_later_checks(tmp_path: Path, home: Path, capsys) -> None:
    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    res = _check_json(capsys, ship)  # recorded as record 1
    possible = [f for f in _party_findings(res) if f["outcome"] == "review"]
    assert possible and not any(f.get("covered_by") for f in possible)

    code, out, _ = _run(capsys, "review", "list", "--open", "--format", "json")
    assert code == 0
    items = json.loads(out)
    item = next(i for i in items if i["rule_id"] == "PARTY-EL")
    assert item["record"] == 1 and item["status"] == "open" and item["party"] == "Huawei Technolgies Co Ltd"
    entry = item["entries"][0]

    # the record has two PARTY-EL findings (a firm one and a possible one): the rule id alone is ambiguous
    code, _, err = _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--as", "cleared",
                        "--reason", "x", "--approver", "qa")
    assert code == 2 and "--entry" in err and entry in err

    code, out, _ = _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", entry, "--as", "cleared",
                        "--reason", "Shanghai affiliate, not our customer", "--approver", "J. Smith",
                        "--expires", "2099-06-30")
    assert code == 0 and "recorded decision 2" in out and entry in out

    # decided: no longer open; shown with its decision without --open
    code, out, _ = _run(capsys, "review", "list", "--open", "--format", "json")
    assert not [i for i in json.loads(out) if i["record"] == 1 and i["rule_id"] == "PARTY-EL"]
    code, out, _ = _run(capsys, "review", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    row = next(r for r in rows if r["rule_id"] == "PARTY-EL")
    assert row["decision"] == "cleared" and row["decided_by"] == "J. Smith" and row["expires"] == "2099-06-30"

    # a later check: the possible match is covered by the clearance, the firm hit is not
    res = _check_json(capsys, ship, "--no-record")
    covered = [f for f in _party_findings(res) if f.get("covered_by")]
    assert len(covered) == 1 and entry in covered[0]["covered_by"]["ref"]
    assert "review decision 2 on record 1" in covered[0]["covered_by"]["detail"]
    assert "2099-06-30" in covered[0]["covered_by"]["detail"]
    assert any(f["outcome"] == "license_required" and not f.get("covered_by") for f in _party_findings(res))

    # the clearance expires: a screening after --expires reports the hit again
    res = _check_json(capsys, ship, "--no-record", "--as-of", "2100-01-01")
    assert not any(f.get("covered_by") for f in _party_findings(res))

    # decisions are chained records: the chain verifies, and the decision names party and entry
    with RecordStore.open(None, home) as store:
        assert store.verify().ok
        dec = store.get(2)
        assert dec is not None and dec.kind == "decision" and dec.ref_id == 1
        assert dec.content["decision_detail"]["entry"] == entry

    # a later `confirmed` withdraws the clearance
    code, _, _ = _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", entry, "--as",
                      "confirmed", "--reason", "it is the listed affiliate after all", "--approver", "K. Lee")
    assert code == 0
    res = _check_json(capsys, ship, "--no-record")
    assert not any(f.get("covered_by") for f in _party_findings(res))


def test_escalated_stays_open_and_errors(tmp_path: Path, home: Path, capsys) -> None:
    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    _check_json(capsys, ship)
    code, out, _ = _run(capsys, "review", "list", "--open", "--format", "json")
    item = next(i for i in json.loads(out) if i["rule_id"] == "PARTY-EL")
    code, _, _ = _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", item["entries"][0],
                      "--as", "escalated", "--reason", "needs legal", "--approver", "qa")
    assert code == 0
    code, out, _ = _run(capsys, "review", "list", "--open", "--format", "json")
    again = next(i for i in json.loads(out) if i["rule_id"] == "PARTY-EL")
    assert again["status"] == "open" and again["decision"] == "escalated"
    # errors: unknown record, unknown finding, bad decision, expiry in the past
    assert _run(capsys, "review", "decide", "99", "--finding", "PARTY-EL", "--as", "cleared", "--reason", "r",
                "--approver", "a")[0] == 2
    code, _, err = _run(capsys, "review", "decide", "1", "--finding", "NOPE-1", "--as", "cleared", "--reason", "r",
                        "--approver", "a")
    assert code == 2 and "PARTY-EL" in err  # names the findings the record has
    assert _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--as", "maybe", "--reason", "r",
                "--approver", "a")[0] == 2
    assert _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", item["entries"][0], "--as",
                "cleared", "--reason", "r", "--approver", "a", "--expires", "2001-01-01")[0] == 2


def test_batch_applies_cleared_decisions(tmp_path: Path, home: Path, capsys) -> None:
    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    res = _check_json(capsys, ship)
    firm = next(f for f in _party_findings(res) if f["outcome"] == "license_required")
    entries = [e["value"] for e in firm["evidence"] if str(e.get("detail", "")).startswith(f"list entry {e['value']} ")]
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,date,destination,description,eccn,end_user,end_user_country\n"
                      "SO-1,2026-09-01,CN,Widget,EAR99,Huawei Technolgies Co Ltd,CN\n", encoding="utf-8")
    out_before = tmp_path / "before.jsonl"
    assert main(["batch", str(orders), "--out", str(out_before), "--format", "jsonl", "--no-record"]) == 1
    row = json.loads(out_before.read_text().splitlines()[0])
    assert row["decision"] != "clear"
    # clear the firm Entity List hit (all of its entries), then every party finding of the row is covered
    code, _, _ = _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", entries[0], "--as",
                      "cleared", "--reason", "test: different company", "--approver", "qa")
    assert code == 0
    possible = next(f for f in _party_findings(res) if f["outcome"] == "review" and f["rule_id"] == "PARTY-EL")
    pe = [e["value"] for e in possible["evidence"] if str(e.get("detail", "")).startswith(f"list entry {e['value']} ")]
    assert _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", pe[0], "--as", "cleared",
                "--reason", "test", "--approver", "qa")[0] == 0
    out_after = tmp_path / "after.jsonl"
    main(["batch", str(orders), "--out", str(out_after), "--format", "jsonl", "--no-record"])
    row = json.loads(out_after.read_text().splitlines()[0])
    party = [f for f in row.get("findings", []) if f["rule_id"] in ("PARTY-EL",)]
    assert party and all(f.get("covered_by", {}).get("kind") == "clearance" for f in party)


def test_decision_on_a_batch_record_finds_the_entries_with_the_recorded_lists(tmp_path: Path, home: Path,
                                                                               capsys) -> None:
    # batch records keep findings without evidence: the entries come from screening the recorded party
    # again with the record's own lists
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,date,destination,description,eccn,end_user,end_user_country\n"
                      "SO-1,2026-09-01,DE,Widget,EAR99,Muster GmbH,DE\n"
                      "SO-2,2026-09-01,CN,Widget,EAR99,Huawei Technolgies Co Ltd,CN\n", encoding="utf-8")
    assert main(["batch", str(orders), "--out", str(tmp_path / "o1.jsonl"), "--format", "jsonl"]) == 1
    capsys.readouterr()
    code, out, _ = _run(capsys, "review", "list", "--open", "--format", "json")
    item = next(i for i in json.loads(out) if i["rule_id"] == "PARTY-EL")
    assert item["record"] == 2 and item["party"] == "Huawei Technolgies Co Ltd"
    code, out, _ = _run(capsys, "review", "decide", "2", "--finding", "PARTY-EL", "--as", "cleared",
                        "--reason", "test: other company", "--approver", "qa", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["party"]["name"] == "Huawei Technolgies Co Ltd" and len(doc["entries"]) >= 2
    code, out, _ = _run(capsys, "review", "list", "--open", "--format", "json")
    assert not [i for i in json.loads(out) if i["record"] == 2 and i["rule_id"] == "PARTY-EL"]
    # the next batch run reports every PARTY-EL finding of the row as covered by the clearance
    main(["batch", str(orders), "--out", str(tmp_path / "o2.jsonl"), "--format", "jsonl", "--no-record"])
    row = json.loads((tmp_path / "o2.jsonl").read_text().splitlines()[1])
    el = [f for f in row["findings"] if f["rule_id"] == "PARTY-EL"]
    assert el and all(f.get("covered_by", {}).get("kind") == "clearance" for f in el)


def test_api_screener_applies_cleared_decisions(tmp_path: Path, home: Path, capsys) -> None:
    """Regression (issue 15): ecscreen.Screener had no way to apply review decisions, so API screenings kept
    flagging a party hit a person had cleared. Screener(decisions=store) applies them like `check` does."""
    import yaml

    import ecscreen

    ship = tmp_path / "po.yaml"
    ship.write_text(SHIP, encoding="utf-8")
    _check_json(capsys, ship)  # record 1
    doc = yaml.safe_load(SHIP)
    store = RecordStore.open(home=home)  # one store for the whole test; `review decide` writes to the same file
    try:
        before = ecscreen.Screener(cache_dir=None, decisions=store)
        assert before.decided == 0
        res = before.screen(doc)
        possible = next(f for f in res.findings if f.rule_id == "PARTY-EL" and f.outcome.value == "review")
        assert possible.covered_by is None
        entry = next(e.value for e in possible.evidence if str(e.detail or "").startswith(f"list entry {e.value} "))
        code, _, _ = _run(capsys, "review", "decide", "1", "--finding", "PARTY-EL", "--entry", str(entry), "--as",
                          "cleared", "--reason", "other firm", "--approver", "qa", "--expires", "2099-06-30")
        assert code == 0
        # a screener built on the store applies the decision; one built before re-reads it on request
        after = ecscreen.Screener(cache_dir=None, decisions=store)
        assert after.decided == 1
        assert before.reload_decisions() == 1
        for s in (after, before):
            res = s.screen(doc)
            covered = [f for f in res.findings if f.covered_by is not None]
            assert len(covered) == 1 and str(entry) in covered[0].covered_by.ref
            assert "review decision 2 on record 1" in (covered[0].covered_by.detail or "")
            # the firm Entity List hit was not cleared: still license_required
            assert res.decision.value == "license_required"
        # without decisions (the default) nothing is cleared
        plain = ecscreen.Screener(cache_dir=None).screen(doc)
        assert not any(f.covered_by for f in plain.findings)
        # recorded API screenings replay identical (the decision predates them)
        rec = ecscreen.Screener(cache_dir=None, decisions=store, record=store)
        rec.screen(doc)
        from ecscreen.runners.replay import replay

        rid = rec.last_record_ids[0]
        stored = store.get(rid)
        assert stored is not None and replay(store, stored).identical
    finally:
        store.close()
