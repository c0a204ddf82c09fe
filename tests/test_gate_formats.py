"""Gate report formats: SARIF 2.1.0 (validated against the official schema), JUnit XML, markdown."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ecscreen.engine.core import Engine
from ecscreen.outputs.reporters import render_gate, to_junit, to_markdown, to_sarif
from ecscreen.packs.registry import load_registry
from ecscreen.runners.gate import GateReport, load_waivers, run_gate

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "fixtures"
CI = ROOT / "examples" / "ci"
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]
ON = dt.date(2026, 7, 1)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.build(load_registry(PACKS), use_lists=False, today=dt.date.today())


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((FX / "sarif" / "sarif-schema-2.1.0.json").read_text())


def _report(engine: Engine, catalog: Path, waivers: Path | None = None) -> GateReport:
    wl, lines = load_waivers(waivers) if waivers else ([], [])
    return run_gate(catalog, engine, as_of=ON, waivers=wl, waiver_lines=lines)


def _validate(doc: dict, schema: dict) -> None:
    jsonschema.validate(doc, schema, cls=jsonschema.Draft4Validator, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("catalog,waivers", [
    (CI / "catalog-failing.yaml", None),
    (CI / "catalog-passing.yaml", CI / ".ecscreen-waivers.yaml"),
    (FX / "gate" / "catalog.csv", FX / "gate" / "waivers.yaml"),
    (FX / "gate" / "catalog-errors.yaml", None),
])
def test_sarif_valid_against_official_schema(engine, schema, catalog, waivers):
    doc = json.loads(render_gate(_report(engine, catalog, waivers), "sarif"))
    _validate(doc, schema)
    assert doc["version"] == "2.1.0" and doc["runs"][0]["tool"]["driver"]["name"] == "ecscreen"


def test_sarif_content(engine, schema):
    doc = to_sarif(_report(engine, FX / "gate" / "catalog.csv", FX / "gate" / "waivers.yaml"))
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    by_rule = {}
    for res in run["results"]:
        assert rules[res["ruleIndex"]] == res["ruleId"]
        by_rule.setdefault(res["ruleId"], []).append(res)
    ac = by_rule["AC-3A090A-2023"]
    licensed = next(r for r in ac if r["properties"]["market"] == "CN")
    waived = next(r for r in ac if r["properties"]["market"] == "MO")
    assert licensed["level"] == "note" and "suppressions" not in licensed
    assert waived["suppressions"][0]["status"] == "accepted" and "D9999999" in waived["suppressions"][0]["justification"]
    assert waived["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert waived["locations"][0]["logicalLocations"][0]["name"] == "GPU-DC-80@MO"
    gap = by_rule["CLASSIFICATION-GAP"][0]
    assert gap["level"] == "warning" and "3A090.a" in gap["message"]["text"]
    assert "15 CFR 742.6(a)(6)(iii)" in gap["properties"]["citations"]
    # fingerprints are stable across runs (deterministic)
    again = to_sarif(_report(engine, FX / "gate" / "catalog.csv", FX / "gate" / "waivers.yaml"))
    assert again == doc
    # input errors become error results
    err = to_sarif(_report(engine, FX / "gate" / "catalog-errors.yaml"))
    errs = [r for r in err["runs"][0]["results"] if r["ruleId"] == "INPUT-ERROR"]
    assert len(errs) == 3 and all(r["level"] == "error" for r in errs)
    assert err["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_junit_one_case_per_pair(engine):
    rep = _report(engine, CI / "catalog-failing.yaml")
    root = ET.fromstring(to_junit(rep))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [p.subject for p in rep.pairs] and len(cases) == 8
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["GPU-DC-80@CN"]
    assert suite.get("failures") == "1" and suite.get("tests") == "8" and suite.get("errors") == "0"
    fail = failed[0].find("failure")
    assert fail is not None and fail.get("type") == "license_required" and "742.6" in (fail.text or "")
    gap_out = next(c for c in cases if c.get("name") == "NPU-EDGE-1@DE").find("system-out")
    assert gap_out is not None and "CLASSIFICATION-GAP" in (gap_out.text or "")
    err_root = ET.fromstring(to_junit(_report(engine, FX / "gate" / "catalog-errors.yaml")))
    s2 = err_root.find("testsuite")
    assert s2 is not None and s2.get("errors") == "3" and len(s2.findall("testcase")) == 4


def test_markdown_summary(engine):
    md = to_markdown(_report(engine, CI / "catalog-failing.yaml"))
    assert md.startswith("## ❌ ecscreen gate: fail")
    assert "| `GPU-DC-80` | China (CN) | **license_required** | `AC-3A090A-2023` |" in md
    assert "NPU-EDGE-1@DE" in md and "below --fail-on" in md
    ok = to_markdown(_report(engine, CI / "catalog-passing.yaml", CI / ".ecscreen-waivers.yaml"))
    assert ok.startswith("## ✅ ecscreen gate: pass") and "### Failing" not in ok
    assert "licence D1234567" in ok or "D1234567" in ok


def test_json_round_trips(engine):
    rep = _report(engine, CI / "catalog-failing.yaml")
    back = GateReport.model_validate_json(render_gate(rep, "json"))
    assert back == rep and back.exit_code == 1


def test_markdown_comment_stays_under_githubs_limit(engine, tmp_path):
    """A PR comment must stay under 65,536 characters: summary and counts first, then 'and N more'."""
    import yaml as _yaml

    from ecscreen.model import Outcome as _Outcome
    from ecscreen.outputs.reporters import MARKDOWN_LIMIT

    products = [{"sku": f"GPU-{n:05d}-" + "X" * 40, "description": "Data-center GPU accelerator " + "y" * 200,
                 "eccn": "3A090.a", "markets": ["CN", "RU"]} for n in range(1500)]
    cat = tmp_path / "big.yaml"
    cat.write_text(_yaml.safe_dump({"products": products}), encoding="utf-8")
    rep = run_gate(cat, engine, as_of=dt.date(2026, 10, 1), fail_on=_Outcome.license_required)
    md = to_markdown(rep)
    assert len(md) <= MARKDOWN_LIMIT < 65_536
    head = md.split("\n", 4)
    assert "ecscreen gate: fail" in head[0] and "3000 product × market pair(s) · 3000 failing" in md
    assert "more failing finding(s): see the full report" in md
    assert md.rstrip().endswith("it is not legal advice.</sub>")
