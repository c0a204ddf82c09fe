"""Issue 10 regressions through the CLI: error positions by shipment, --rules adds, --rules-only replaces,
a party_list pack given with --rules is screened."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ecscreen.cli.main import app, main

runner = CliRunner()

A = """\
id: S1
date: 2026-10-01
items:
  - description: Office chair
    eccn: EAR99
destination: Atlantis
"""
B = """\
# comment
# comment
id: S1
date: 2026-10-01
items:
  - description: Office chair
    eccn: EAR99
    origin: Narnia
destination: DE
"""
OWN_LIST = """\
kind: party_list
name: Our own watch list
source: internal compliance
date: 2026-09-01
source_code: EL
entries:
  - id: OWN-1
    name: Zyxolotl Precision Widgets GmbH
    countries: [DE]
"""
SHIP_OWN = """\
destination: DE
date: 2026-10-01
parties:
  - {role: end_user, name: Zyxolotl Precision Widgets GmbH, country: DE}
items:
  - {description: Office chair, eccn: EAR99}
"""
IRAN_CHAIRS = """\
destination: IR
date: 2026-10-01
items:
  - {description: Office chair, eccn: EAR99}
"""


def _w(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_errors_in_two_files_sharing_an_id_name_their_own_file_and_line(tmp_path: Path) -> None:
    a, b = _w(tmp_path, "a.yaml", A), _w(tmp_path, "b.yaml", B)
    r = runner.invoke(app, ["check", str(a), str(b), "--no-lists"])
    assert r.exit_code == 3
    assert f"{a}:6: destination" in r.stderr
    assert f"{b}:8: items[0].origin" in r.stderr
    assert f"{b}:6" not in r.stderr and f"{a}:8" not in r.stderr


def test_party_list_pack_given_with_rules_is_screened(tmp_path: Path) -> None:
    own = _w(tmp_path, "own.yaml", OWN_LIST)
    ship = _w(tmp_path, "ship.yaml", SHIP_OWN)
    r = runner.invoke(app, ["check", str(ship), "--rules", str(own), "--format", "json"])
    rep = json.loads(r.stdout)
    assert r.exit_code == 1, r.stderr
    assert rep["results"][0]["decision"] == "license_required"
    assert "Our own watch list" in [x["name"] for x in rep["lists"]]
    r2 = runner.invoke(app, ["check", str(ship), "--rules-only", str(own), "--format", "json"])
    assert json.loads(r2.stdout)["results"][0]["decision"] == "license_required", r2.stderr


def test_rules_keeps_shipped_packs(tmp_path: Path) -> None:
    own = _w(tmp_path, "own.yaml", OWN_LIST)
    ship = _w(tmp_path, "iran.yaml", IRAN_CHAIRS)
    r = runner.invoke(app, ["check", str(ship), "--rules", str(own), "--no-lists", "--format", "json"])
    assert json.loads(r.stdout)["results"][0]["decision"] in ("prohibited", "license_required")


def test_rules_only_says_shipped_packs_were_not_used(tmp_path: Path) -> None:
    own = _w(tmp_path, "own.yaml", OWN_LIST)
    ship = _w(tmp_path, "iran.yaml", IRAN_CHAIRS)
    r = runner.invoke(app, ["check", str(ship), "--rules-only", str(own), "--no-lists", "--format", "json"])
    rep = json.loads(r.stdout)
    assert "shipped rule packs not used" in r.stderr
    assert any("shipped rule packs not used" in w for w in rep["warnings"])


def test_rules_and_rules_only_together_is_a_usage_error(tmp_path: Path) -> None:
    own = _w(tmp_path, "own.yaml", OWN_LIST)
    ship = _w(tmp_path, "iran.yaml", IRAN_CHAIRS)
    assert main(["check", str(ship), "--rules", str(own), "--rules-only", str(own)]) == 2


ORDERS = """\
order_id,date,destination,description,eccn,end_user
SO-1,2026-10-01,DE,Office chair,EAR99,Acme Widgets GmbH
SO-2,2026-10-01,CN,Data-center GPU,3A090.a,Example Cloud Co Ltd
"""


def _envelope_ok(env: dict, *, lists: bool = True) -> None:
    assert env["tool"] == "ecscreen" and env["tool_version"]
    assert env["command"] == "batch"
    assert {p["id"] for p in env["packs"]} >= {"us-ear-advanced-computing", "us-ear-country-groups"}
    assert all(len(p["sha256"]) == 64 for p in env["packs"])
    if lists:
        assert env["lists"] and all(len(x["sha256"]) == 64 for x in env["lists"])
    assert env["counts"]["license_required"] >= 1 and env["rows"] == 2
    assert env["decision"] in ("license_required", "prohibited") and env["exit_code"] == 1


def test_batch_json_is_the_envelope_with_results(tmp_path: Path) -> None:
    orders = _w(tmp_path, "orders.csv", ORDERS)
    out = tmp_path / "out.json"
    assert main(["batch", str(orders), "--format", "json", "--out", str(out), "--no-progress"]) == 1
    env = json.loads(out.read_text())
    _envelope_ok(env)
    assert [r["input"]["order_id"] for r in env["results"]] == ["SO-1", "SO-2"]
    assert env["options"]["format"] == "json"


def test_batch_jsonl_and_csv_write_a_meta_sidecar(tmp_path: Path) -> None:
    orders = _w(tmp_path, "orders.csv", ORDERS)
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"out.{fmt}"
        assert main(["batch", str(orders), "--format", fmt, "--out", str(out), "--no-progress"]) == 1
        env = json.loads((tmp_path / f"out.{fmt}.meta.json").read_text())
        _envelope_ok(env)
        assert "results" not in env


def test_batch_meta_option_and_no_lists_says_so(tmp_path: Path) -> None:
    orders = _w(tmp_path, "orders.csv", ORDERS)
    meta = tmp_path / "m.json"
    main(["batch", str(orders), "--format", "csv", "--out", str(tmp_path / "o.csv"), "--meta", str(meta),
          "--no-lists", "--no-progress"])
    env = json.loads(meta.read_text())
    _envelope_ok(env, lists=False)
    assert env["lists"] == [] and any("not screened" in w for w in env["warnings"])


def test_version_short_flag() -> None:
    r = runner.invoke(app, ["-V"])
    assert r.exit_code == 0 and r.stdout.startswith("ecscreen ")


def test_check_reads_standard_input() -> None:
    r = runner.invoke(app, ["check", "-", "--format", "json", "--no-lists"], input=IRAN_CHAIRS)
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["results"][0]["decision"] in ("prohibited", "license_required")


def test_check_stdin_error_names_stdin() -> None:
    r = runner.invoke(app, ["check", "-", "--no-lists"], input="destination: DE\nitems: [{description: x}]\nfoo: 1\n")
    assert r.exit_code == 3 and "<stdin>" in r.stderr


def test_explain_and_rules_validate_print_json() -> None:
    r = runner.invoke(app, ["explain", "3A090.a", "CN", "--date", "2026-10-01", "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["decision"] == "license_required" and doc["steps"] and doc["destination"] == "CN"
    root = Path(__file__).resolve().parents[1] / "rules"
    r = runner.invoke(app, ["rules", "validate", str(root), "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["rules"] > 50


def test_quiet_hides_notes_and_no_color_has_no_escapes(tmp_path: Path) -> None:
    own = _w(tmp_path, "own.yaml", OWN_LIST)
    ship = _w(tmp_path, "iran.yaml", IRAN_CHAIRS)
    r = runner.invoke(app, ["-q", "--no-color", "check", str(ship), "--rules-only", str(own), "--no-lists"])
    assert "note:" not in r.stderr
    assert "\x1b[" not in r.stdout


def test_rules_list_never_truncates_ids() -> None:
    r = runner.invoke(app, ["rules", "list"], env={"COLUMNS": "60"})
    assert r.exit_code == 0
    assert "…" not in r.stdout


def test_check_sarif_is_valid_and_names_file_and_line(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
    iran = _w(tmp_path, "iran.yaml", IRAN_CHAIRS)
    bad = _w(tmp_path, "a.yaml", A)
    r = runner.invoke(app, ["check", str(iran), str(bad), "--no-lists", "--format", "sarif"])
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, schema)
    res = doc["runs"][0]["results"]
    assert any(x["ruleId"] == "INPUT-ERROR" and x["locations"][0]["physicalLocation"]["region"]["startLine"] == 6
               and x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("a.yaml") for x in res)
    assert any(x["level"] == "error" and x["ruleId"].startswith("EMB") for x in res)


def test_check_junit_one_case_per_shipment(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    iran = _w(tmp_path, "iran.yaml", IRAN_CHAIRS)
    bad = _w(tmp_path, "a.yaml", A)
    ok = _w(tmp_path, "ok.yaml", "destination: DE\ndate: 2026-10-01\nitems: [{description: Office chair, eccn: EAR99}]\n")
    r = runner.invoke(app, ["check", str(iran), str(bad), str(ok), "--no-lists", "--format", "junit"])
    root = ET.fromstring(r.stdout)
    cases = root.findall(".//testcase")
    assert len(cases) == 3
    assert root.get("failures") == "1" and root.get("errors") == "1"
    assert r.exit_code == 3


def test_a_clear_party_says_what_it_was_screened_against(tmp_path: Path) -> None:
    ship = _w(tmp_path, "s.yaml", "destination: DE\ndate: 2026-10-01\nparties: [{role: end_user, name: "
              "Zyxolotl Precision Widgets GmbH, country: DE}]\nitems: [{description: Office chair, eccn: EAR99}]\n")
    r = runner.invoke(app, ["check", str(ship), "--format", "json"])
    rep = json.loads(r.stdout)
    (ps,) = rep["results"][0]["party_screening"]
    assert ps["matches"] == 0 and "no match" in ps["summary"] and "US Consolidated Screening List" in ps["summary"]
    r = runner.invoke(app, ["check", str(ship)], env={"COLUMNS": "200"})
    assert "screened against" in r.stdout and "no match" in r.stdout
