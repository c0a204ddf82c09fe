"""CLI through typer's runner: exit codes, JSON contract, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ecscreen.cli.main import app, main

EX = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


def test_check_table():
    r = runner.invoke(app, ["check", str(EX / "gpu-to-china.yaml")])
    assert r.exit_code == 1
    assert "LICENSE_REQUIRED" in r.stdout and "AC-3A090A-2023" in r.stdout and "742.6" in r.stdout


def test_check_json_contract():
    r = runner.invoke(app, ["check", str(EX / "gpu-to-china.yaml"), "--format", "json"])
    rep = json.loads(r.stdout)
    assert rep["decision"] == "license_required"
    res = rep["results"][0]
    assert res["id"] == "SHP-GPU-CN" and res["decision"] == "license_required"
    f = next(f for f in res["findings"] if f["rule_id"] == "AC-3A090A-2023")
    assert f["outcome"] == "license_required" and f["citations"] and f["evidence"]
    assert all({"id", "version", "sha256"} <= set(p) for p in rep["packs"])


def test_check_as_of():
    r = runner.invoke(app, ["check", str(EX / "gpu-to-china.yaml"), "--format", "json", "--as-of", "2023-01-01"])
    rep = json.loads(r.stdout)
    assert all(f["rule_id"] != "AC-3A090A-2023" for f in rep["results"][0]["findings"])


def test_bad_as_of_is_usage_error(capsys):
    assert main(["check", str(EX / "gpu-to-china.yaml"), "--as-of", "June"]) == 2
    assert "not a date" in capsys.readouterr().err


def test_missing_file_usage_error(capsys):
    assert main(["check", "/nonexistent/x.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_bad_format_option(capsys):
    assert main(["check", str(EX / "gpu-to-china.yaml"), "--format", "xml"]) == 2


def test_unknown_option_exit_2():
    assert main(["check", "--bogus"]) == 2


def test_invalid_yaml_exit_3(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    p.write_text("destination: CN\nitems: [\n")
    assert main(["check", str(p)]) == 3
    err = capsys.readouterr().err
    assert str(p) in err and "Traceback" not in err


def test_invalid_field_names_line(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    p.write_text("destination: CN\nitems:\n  - description: GPU\n    us_content_percent: 140\n")
    assert main(["check", str(p)]) == 3
    err = capsys.readouterr().err
    assert f"{p}:4" in err and "items[0].us_content_percent" in err


def test_unknown_key_rejected(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    p.write_text("destination: CN\ncolour: red\nitems: [{description: x}]\n")
    assert main(["check", str(p)]) == 3
    assert "colour: unknown key" in capsys.readouterr().err


def test_bad_pack_exit_4(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("pack: {id: x, version: '1', jurisdiction: US-EAR, title: t}\nrules: 5\n")
    assert main(["check", str(EX / "gpu-to-china.yaml"), "--rules", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    assert "p.yaml" in err and "rules" in err and "Traceback" not in err


def test_rules_validate_and_list():
    r = runner.invoke(app, ["rules", "validate", str(Path(__file__).resolve().parents[1] / "rules")])
    assert r.exit_code == 0 and "ok:" in r.stdout
    r = runner.invoke(app, ["rules", "list", "--format", "json"])
    rows = json.loads(r.stdout)
    ac = next(x for x in rows if x["id"] == "us-ear-advanced-computing")
    assert ac["rules"] >= 1 and ac["from"] and "seed-003" in ac["seeds"]


def test_schema(tmp_path):
    r = runner.invoke(app, ["schema", "shipment"])
    s = json.loads(r.stdout)
    assert "destination" in s["properties"] and "items" in s["required"]
    r = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert r.exit_code == 0 and (tmp_path / "pack.schema.json").exists()


def test_help_lists_exit_codes():
    r = runner.invoke(app, ["check", "--help"])
    assert "Exit codes" in r.stdout


def test_engine_error_located(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    p.write_text("id: X\ndestination: CN\nparties:\n  - name: A\n    country: Mordor\nitems: [{description: x}]\n")
    assert main(["check", str(p), "--no-lists"]) == 3
    assert f"{p}:5: parties[0].country: unknown country 'Mordor'" in capsys.readouterr().err


def test_clearances_option(tmp_path):
    ship = tmp_path / "s.yaml"
    ship.write_text(
        "id: S\ndate: 2024-06-01\ndestination: IL\n"
        "parties: [{role: end_user, name: NSO Group Technologies Ltd, country: IL}]\n"
        "items: [{description: Rack server, eccn: 5A992.c, origin: US}]\n"
    )
    cl = tmp_path / "clear.yaml"
    cl.write_text(
        "kind: party_clearances\nclearances:\n"
        "  - {party: NSO Group Technologies Ltd, entry_id: EL-3697, reason: test clearance, approver: QA,"
        " expires: 2030-01-01}\n"
    )
    r = runner.invoke(app, ["check", str(ship), "--format", "json", "--clearances", str(cl)])
    rep = json.loads(r.stdout)
    party = [f for f in rep["results"][0]["findings"] if f["rule_id"] == "PARTY-EL"]
    covered = [f for f in party if f["covered_by"]]
    assert covered and covered[0]["covered_by"]["kind"] == "clearance"
    assert any(not f["covered_by"] for f in party)  # the project list's own entry is not cleared
    assert main(["check", str(ship), "--clearances", str(tmp_path / "missing.yaml")]) == 2
