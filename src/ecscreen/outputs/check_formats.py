"""``ecscreen check --format sarif|junit``: the check report (:class:`ecscreen.model.Report`) as SARIF 2.1.0
and JUnit XML, so a repository of shipment files can be gated in CI like a catalog."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from typing import Any

from ecscreen.model import Finding, Outcome, Report, ShipmentResult
from ecscreen.outputs.reporters import INFO_URI, SARIF_SCHEMA, _x

__all__ = ["check_to_sarif", "check_to_junit"]


def _where(r: ShipmentResult) -> tuple[str, int | None]:
    """(file, line) a result came from: its source label is ``file:line`` or ``file#n``."""
    src = r.source or r.id
    if "#" in src:
        return src.rsplit("#", 1)[0], None
    head, _, tail = src.rpartition(":")
    return (head, int(tail)) if head and tail.isdigit() else (src, None)


def _level(f: Finding) -> str:
    if f.covered_by is not None:
        return "note"
    return {"prohibited": "error", "license_required": "error", "review": "warning"}.get(f.outcome.value, "note")


def _fp(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def check_to_sarif(report: Report) -> dict[str, Any]:
    """One SARIF result per finding that is not clear (covered findings as notes), one per input error."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    artifacts: dict[str, None] = {}

    def rule_index(rule_id: str, title: str, f: Finding | None) -> int:
        if rule_id not in rules:
            desc: dict[str, Any] = {"id": rule_id, "shortDescription": {"text": title[:1000] or rule_id}}
            if f is not None:
                desc["properties"] = {"pack": f.pack_id, "jurisdiction": f.jurisdiction,
                                      "citations": [c.ref for c in f.citations]}
            rules[rule_id] = desc
        return list(rules).index(rule_id)

    def location(r: ShipmentResult, line: int | None = None, file_: str | None = None) -> list[dict[str, Any]]:
        file, at = _where(r)
        file = file_ or file
        artifacts.setdefault(file.replace("\\", "/"))
        phys: dict[str, Any] = {"artifactLocation": {"uri": file.replace("\\", "/")}}
        if line or at:
            phys["region"] = {"startLine": line or at}
        return [{"physicalLocation": phys, "logicalLocations": [{"name": r.id, "kind": "module"}]}]

    for r in report.results:
        for e in r.errors:
            idx = rule_index("INPUT-ERROR", "Shipment cannot be screened (fail closed)", None)
            results.append({"ruleId": "INPUT-ERROR", "ruleIndex": idx, "level": "error",
                            "message": {"text": f"{r.id}: {e.field + ': ' if e.field else ''}{e.message}"},
                            "locations": location(r, e.line, e.file),
                            "partialFingerprints": {"ecscreen/v1": _fp("INPUT-ERROR", r.id, e.field or "", e.message)}})
        for f in r.findings:
            if f.outcome == Outcome.clear and f.covered_by is None:
                continue
            idx = rule_index(f.rule_id, f.title, f)
            res: dict[str, Any] = {
                "ruleId": f.rule_id, "ruleIndex": idx, "level": _level(f),
                "message": {"text": f"{r.id}: {f.outcome.value}: {f.message}"},
                "locations": location(r),
                "partialFingerprints": {"ecscreen/v1": _fp(f.rule_id, r.id, str(f.item_index))},
                "properties": {"outcome": f.outcome.value, "shipment": r.id, "item_index": f.item_index,
                               "citations": [c.ref for c in f.citations],
                               "evidence": [e.model_dump(mode="json", exclude_none=True) for e in f.evidence]},
            }
            if f.covered_by is not None:
                res["properties"]["covered_by"] = f.covered_by.model_dump(mode="json")
            results.append(res)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "ecscreen", "version": report.tool_version, "informationUri": INFO_URI,
                            "rules": list(rules.values())}},
        "artifacts": [{"location": {"uri": a}, "roles": ["analysisTarget"]} for a in artifacts],
        "results": results,
        "invocations": [{"executionSuccessful": report.decision != "error",
                         "toolExecutionNotifications": [{"level": "warning", "message": {"text": w}}
                                                        for w in report.warnings]}],
        "properties": {"decision": str(report.decision.value if isinstance(report.decision, Outcome)
                                       else report.decision),
                       "packs": [f"{p.id}@{p.version}#{p.sha256[:12]}" for p in report.packs],
                       "lists": [f"{li.name}@{li.date}#{li.sha256[:12]}" for li in report.lists]},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def check_to_junit(report: Report) -> str:
    """JUnit XML: one test case per shipment; flagged shipments fail, unscreenable ones are errors."""
    n = len(report.results)
    failures = sum(1 for r in report.results if r.decision not in ("clear", "error"))
    errors = sum(1 for r in report.results if r.decision == "error")
    suites = ET.Element("testsuites", name="ecscreen check", tests=str(n), failures=str(failures),
                        errors=str(errors))
    suite = ET.SubElement(suites, "testsuite", name="ecscreen check", tests=str(n), failures=str(failures),
                          errors=str(errors), skipped="0", time="0")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="packs", value=", ".join(f"{p.id}@{p.version}" for p in report.packs))
    ET.SubElement(props, "property", name="lists", value=", ".join(f"{li.name}@{li.date}" for li in report.lists))
    for r in report.results:
        file, line = _where(r)
        tc = ET.SubElement(suite, "testcase", classname="ecscreen.check", name=r.id, file=file, time="0")
        if line:
            tc.set("line", str(line))
        if r.decision == "error":
            msgs = [f"{e.field + ': ' if e.field else ''}{e.message}" for e in r.errors]
            el = ET.SubElement(tc, "error", message="; ".join(msgs), type="input-error")
            el.text = "\n".join(msgs)
            continue
        open_ = [f for f in r.findings if f.covered_by is None and f.outcome != Outcome.clear]
        if open_:
            worst = max(open_, key=lambda f: f.outcome.rank)
            el = ET.SubElement(tc, "failure", message=f"{worst.outcome.value}: {worst.rule_id}: {worst.message}",
                               type=str(r.decision.value if isinstance(r.decision, Outcome) else r.decision))
            el.text = "\n\n".join(f"{f.outcome.value} {f.rule_id}: {f.message}\ncites: "
                                  + "; ".join(c.ref for c in f.citations) for f in open_)
    for node in suites.iter():
        if node.text:
            node.text = _x(node.text)
        for k, v in list(node.attrib.items()):
            node.set(k, _x(v))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
