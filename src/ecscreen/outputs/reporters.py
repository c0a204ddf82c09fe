"""Renderers for ``ecscreen gate`` reports: table, JSON, SARIF 2.1.0, JUnit XML and markdown.

SARIF: one result per blocking or covered finding of a ``SKU@MARKET`` pair; waived findings carry a
``suppressions`` entry (accepted, with the waiver's reason); input errors are ``INPUT-ERROR``
results. JUnit: one test case per pair (``failure`` for a failing pair, ``error`` for an input
error). Markdown: a summary for pull-request comments.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecscreen.model import Finding, Outcome
from ecscreen.outputs.render import clean, safe_text

if TYPE_CHECKING:
    from ecscreen.model.gate import GateReport, PairResult

__all__ = ["render_gate", "to_sarif", "to_junit", "to_markdown"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/ecscreen/ecscreen"
STYLE = {"clear": "green", "review": "yellow", "license_required": "bold red", "prohibited": "bold white on red",
         "error": "bold magenta", "pass": "green", "fail": "bold red"}


def _dec(d: Outcome | str) -> str:
    return d.value if isinstance(d, Outcome) else d


def _cites(f: Finding) -> str:
    return "; ".join(c.ref for c in f.citations)


def _failing(p: PairResult, report: GateReport) -> list[Finding]:
    return [f for f in p.findings if f.covered_by is None and f.outcome.rank >= report.fail_on.rank]


# --------------------------------------------------------------------------- SARIF


def _level(f: Finding, report: GateReport) -> str:
    if f.covered_by is not None and f.covered_by.kind != "waiver":
        return "note"
    if f.outcome.rank >= report.fail_on.rank:
        return "error"
    return "warning" if f.outcome != Outcome.clear else "note"


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def to_sarif(report: GateReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log (valid against the official schema)."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    uri = report.catalog.replace("\\", "/")

    def rule_index(rule_id: str, title: str, f: Finding | None) -> int:
        if rule_id not in rules:
            desc: dict[str, Any] = {"id": rule_id, "shortDescription": {"text": title[:1000] or rule_id}}
            if f is not None:
                desc["fullDescription"] = {"text": f"{title}. Citations: {_cites(f)}" if f.citations else title}
                desc["properties"] = {"pack": f.pack_id, "jurisdiction": f.jurisdiction,
                                      "citations": [c.ref for c in f.citations],
                                      "tags": ["export-control", f.jurisdiction]}
                desc["defaultConfiguration"] = {"level": "error" if f.outcome.rank >= report.fail_on.rank
                                                else "warning"}
            rules[rule_id] = desc
        return list(rules).index(rule_id)

    def location(p: PairResult) -> list[dict[str, Any]]:
        phys: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if p.line:
            phys["region"] = {"startLine": p.line}
        return [{"physicalLocation": phys,
                 "logicalLocations": [{"name": p.subject, "kind": "module",
                                       "fullyQualifiedName": f"{p.sku}@{p.market_code or p.market}"}]}]

    for p in report.pairs:
        if p.status == "error":
            idx = rule_index("INPUT-ERROR", "Catalog entry cannot be screened (fail closed)", None)
            results.append({
                "ruleId": "INPUT-ERROR", "ruleIndex": idx, "level": "error",
                "message": {"text": f"{p.subject}: " + "; ".join(p.errors)},
                "locations": location(p),
                "partialFingerprints": {"ecscreen/v1": _fingerprint("INPUT-ERROR", p.subject)},
            })
            continue
        for f in p.findings:
            if f.outcome == Outcome.clear and f.covered_by is None:
                continue
            idx = rule_index(f.rule_id, f.title, f)
            res: dict[str, Any] = {
                "ruleId": f.rule_id, "ruleIndex": idx, "level": _level(f, report),
                "message": {"text": f"{p.subject}: {f.outcome.value}: {f.message}"},
                "locations": location(p),
                "partialFingerprints": {"ecscreen/v1": _fingerprint(f.rule_id, p.subject)},
                "properties": {"outcome": f.outcome.value, "sku": p.sku, "market": p.market_code or p.market,
                               "citations": [c.ref for c in f.citations],
                               "evidence": [e.model_dump(mode="json", exclude_none=True) for e in f.evidence]},
            }
            if f.covered_by is not None:
                res["properties"]["covered_by"] = f.covered_by.model_dump(mode="json")
                if f.covered_by.kind == "waiver":
                    res["suppressions"] = [{"kind": "external", "status": "accepted",
                                            "justification": f.covered_by.detail}]
            results.append(res)
    for e in report.errors:
        idx = rule_index("INPUT-ERROR", "Catalog entry cannot be screened (fail closed)", None)
        phys: dict[str, Any] = {"artifactLocation": {"uri": (e.file or uri).replace("\\", "/")}}
        if e.line:
            phys["region"] = {"startLine": e.line}
        results.append({"ruleId": "INPUT-ERROR", "ruleIndex": idx, "level": "error",
                        "message": {"text": f"{e.field + ': ' if e.field else ''}{e.message}"},
                        "locations": [{"physicalLocation": phys}],
                        "partialFingerprints": {"ecscreen/v1": _fingerprint("INPUT-ERROR", str(e.line), e.message)}})
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "ecscreen", "version": report.tool_version, "informationUri": INFO_URI,
                            "rules": list(rules.values())}},
        "artifacts": [{"location": {"uri": uri}, "roles": ["analysisTarget"]}],
        "results": results,
        "invocations": [{"executionSuccessful": report.status != "error",
                         "toolExecutionNotifications": [{"level": "warning", "message": {"text": w}}
                                                        for w in report.warnings]}],
        "properties": {"as_of": report.as_of.isoformat(), "fail_on": report.fail_on.value, "status": report.status,
                       "packs": [f"{pk.id}@{pk.version}#{pk.sha256[:12]}" for pk in report.packs]},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


# --------------------------------------------------------------------------- JUnit


def to_junit(report: GateReport) -> str:
    """JUnit XML: one test case per product x market."""
    c = report.counts()
    suites = ET.Element("testsuites", name="ecscreen gate", tests=str(c["pairs"] + len(report.errors)),
                        failures=str(c["fail"]), errors=str(c["error"] + len(report.errors)))
    suite = ET.SubElement(suites, "testsuite", name=f"ecscreen gate {report.catalog}",
                          tests=str(c["pairs"] + len(report.errors)), failures=str(c["fail"]),
                          errors=str(c["error"] + len(report.errors)), skipped="0", time="0")
    props = ET.SubElement(suite, "properties")
    for k, v in (("as_of", report.as_of.isoformat()), ("fail_on", report.fail_on.value),
                 ("packs", ", ".join(f"{pk.id}@{pk.version}" for pk in report.packs))):
        ET.SubElement(props, "property", name=k, value=v)
    for p in report.pairs:
        tc = ET.SubElement(suite, "testcase", classname=f"ecscreen.gate.{p.sku}", name=p.subject,
                           file=report.catalog, time="0")
        if p.line:
            tc.set("line", str(p.line))
        if p.status == "error":
            el = ET.SubElement(tc, "error", message="; ".join(p.errors), type="input-error")
            el.text = "\n".join(p.errors)
            continue
        bad = _failing(p, report)
        if bad:
            el = ET.SubElement(tc, "failure", message=f"{bad[0].outcome.value}: {bad[0].rule_id}: {bad[0].message}",
                               type=bad[0].outcome.value)
            el.text = "\n\n".join(f"{f.outcome.value} {f.rule_id}: {f.message}\ncites: {_cites(f)}" for f in bad)
        other = [f for f in p.findings if f not in bad]
        if other:
            so = ET.SubElement(tc, "system-out")
            so.text = "\n".join(
                f"{f.outcome.value} {f.rule_id}" + (f" (covered by {f.covered_by.kind} {f.covered_by.ref}: "
                                                     f"{f.covered_by.detail})" if f.covered_by else "")
                + f": {f.message}" for f in other)
    for e in report.errors:
        tc = ET.SubElement(suite, "testcase", classname="ecscreen.gate.catalog", name=f"{e.file}:{e.line}",
                           file=e.file or report.catalog, time="0")
        el = ET.SubElement(tc, "error", message=e.message, type="input-error")
        el.text = f"{e.field + ': ' if e.field else ''}{e.message}"
    for node in suites.iter():  # input text may hold characters XML 1.0 cannot: drop them
        if node.text:
            node.text = _x(node.text)
        for k, v in list(node.attrib.items()):
            node.set(k, _x(v))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- markdown


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()!|~])")  # data is never at a line start: - + # . stay as they are
_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _md(text: str) -> str:
    """Data as inert markdown text: no links, images, emphasis, @mentions, HTML or table breaks."""
    t = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _MD_SPECIAL.sub(r"\\\1", t)
    return t.replace("@", "@&#8203;")  # a zero-width space after @ keeps GitHub from mentioning anyone


def _code(text: str) -> str:
    """Data as a markdown code span that nothing inside can close (fence longer than any backtick run)."""
    t = clean(text).replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if t.startswith("`") or t.endswith("`") or not t.strip() else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _x(text: Any) -> str:
    """Text XML 1.0 can hold (other characters, e.g. control characters from input, are dropped)."""
    s = text if isinstance(text, str) else str(text)
    return _XML_BAD.sub("", s)


MARKDOWN_LIMIT = 60_000  # GitHub rejects comments over 65,536 characters; keep a margin
_CELL_LIMIT = 600  # one message cell at most this long (the full text is in the JSON/SARIF report)


def _cut(text: str, limit: int = _CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Budget:
    """Lines of a markdown report within a character budget: rows that do not fit are counted instead."""

    def __init__(self, limit: int, reserve: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit - reserve

    def add(self, line: str) -> bool:
        if self.size + len(line) + 1 > self.limit:
            return False
        self.lines.append(line)
        self.size += len(line) + 1
        return True

    def rows(self, header: list[str], rows: list[str], what: str) -> None:
        """A section: header lines, then as many rows as fit, then "and N more" for the rest."""
        if not rows or not all(self.add(h) for h in header):
            if rows:
                self.lines.append(f"_{len(rows)} {what} not shown: see the full report._")
            return
        for n, r in enumerate(rows):
            if not self.add(r):
                self.lines += ["", f"_… and {len(rows) - n} more {what}: see the full report "
                                   f"(`ecscreen gate … --format json`, or the SARIF / JUnit artifact)._"]
                self.size += 120
                return
        self.add("")


def to_markdown(report: GateReport, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: summary and counts first, then failing pairs, errors, notes; never longer than
    ``limit`` characters (what does not fit is counted, with a pointer to the full report)."""
    c = report.counts()
    icon = {"pass": "✅", "fail": "❌", "error": "⚠️"}[report.status]
    footer = ["", "<sub>ecscreen supports compliance decisions; it is not legal advice.</sub>", ""]
    out = _Budget(limit, reserve=sum(len(x) + 1 for x in footer) + 400)
    for line in [f"## {icon} ecscreen gate: {report.status}", "",
                 f"{_code(report.catalog)} · {c['pairs']} product × market pair(s) · {c['fail']} failing · "
                 f"{c['error']} error(s) · {c['waived']} waived finding(s) · rules as of {report.as_of} · fail on "
                 f"{_code(report.fail_on.value)} or worse", ""]:
        out.add(line)
    failing = [p for p in report.pairs if p.status == "fail"]
    out.rows(["### Failing", "", "| SKU | market | outcome | rule | reason | citations |", "|---|---|---|---|---|---|"],
             [f"| {_code(p.sku)} | {_md(p.market_name or p.market)} ({_md(p.market_code or '')}) | "
              f"**{f.outcome.value}** | {_code(f.rule_id)} | {_md(_cut(f.message))} | {_md(_cut(_cites(f)))} |"
              for p in failing for f in _failing(p, report)], "failing finding(s)")
    errs = [p for p in report.pairs if p.status == "error"]
    out.rows(["### Cannot be screened", ""],
             [f"- {_code(p.subject)} (line {p.line}): {_md(_cut('; '.join(p.errors)))}" for p in errs]
             + [f"- {_code(f'{e.file}:{e.line}')} {_md(e.field or '')}: {_md(_cut(e.message))}" for e in report.errors],
             "unscreenable entr(ies)")
    unused = [w for w in report.waivers if w.state != "used"]
    out.rows(["### Waivers needing attention", ""],
             [f"- {w.state}: {_code(w.rule)} for {_code(w.subject)} (approver {_md(w.approver)}, expires "
              f"{w.expires})" for w in unused], "waiver(s)")
    notes = [(p, f) for p in report.pairs for f in p.findings
             if p.status != "error" and (f.covered_by is not None or f.outcome.rank < report.fail_on.rank)
             and f.outcome != Outcome.clear]
    if notes:
        rows = []
        for p, f in notes:
            st = (f"{f.covered_by.kind}: {f.covered_by.detail}" if f.covered_by else "below --fail-on")
            rows.append(f"| {_code(p.subject)} | {f.outcome.value} | {_code(f.rule_id)} | {_md(_cut(st))} |")
        out.rows(["<details><summary>Waived, licensed and below-threshold findings "
                  f"({len(notes)})</summary>", "", "| SKU@market | outcome | rule | status |", "|---|---|---|---|"],
                 rows, "waived, licensed or below-threshold finding(s)")
        if out.lines and out.lines[-1].startswith("|") or out.lines[-1] == "":
            out.lines += ["</details>", ""]
    for w in report.warnings:
        if not out.add(f"> warning: {_md(_cut(w))}"):
            break
    return "\n".join(out.lines + footer)


# --------------------------------------------------------------------------- table


def print_gate_table(report: GateReport, console: Console) -> None:
    """The gate table: every data cell is cleaned text (no markup, control or bidi characters)."""
    t = Table(title=safe_text(f"ecscreen gate: {report.catalog} (rules as of {report.as_of}, fail on "
                              f"{report.fail_on.value})"))
    for col in ("SKU", "market", "decision", "status", "rules", "notes"):
        t.add_column(col, overflow="fold")
    for p in report.pairs:
        dec = _dec(p.decision)
        rules = ", ".join(dict.fromkeys(f.rule_id for f in p.findings if f.covered_by is None)) or "-"
        covered = [f"{f.rule_id}: {f.covered_by.kind} {f.covered_by.ref}" for f in p.findings if f.covered_by]
        notes = "; ".join(p.errors + covered)
        t.add_row(safe_text(p.sku), safe_text(p.market_code or p.market), Text(dec, style=STYLE.get(dec, "")),
                  Text(p.status, style=STYLE[p.status]), safe_text(rules), safe_text(notes))
    console.print(t)
    for p in report.pairs:
        for f in _failing(p, report):
            console.print(safe_text(f"{p.subject}  {f.outcome.value.upper()}  {f.rule_id}", style=STYLE[f.outcome.value]))
            console.print(safe_text(f"  {f.message}"))
            if f.citations:
                console.print(safe_text(f"  cites: {_cites(f)}", style="blue"))
    for e in report.errors:
        console.print(safe_text(f"ERROR {e.file}:{e.line} {e.field + ': ' if e.field else ''}{e.message}",
                                style=STYLE["error"]))
    for w in report.waivers:
        if w.state != "used":
            console.print(safe_text(f"waiver {w.state}: {w.rule} for {w.subject} (expires {w.expires})",
                                    style="yellow"))
    c = report.counts()
    line = Text("gate: ")
    line.append(report.status.upper(), style=STYLE.get(report.status, ""))
    line.append(f"  ({c['pairs']} pair(s): {c['pass']} pass, {c['fail']} fail, {c['error']} error; "
                f"{c['waived']} waived finding(s))")
    console.print(line)


def render_gate(report: GateReport, fmt: str, console: Console | None = None) -> str:
    """Render a gate report; ``table`` prints to ``console`` and returns ''."""
    if fmt == "table":
        print_gate_table(report, console or Console())
        return ""
    if fmt == "json":
        return report.model_dump_json(indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        return to_junit(report)
    if fmt == "markdown":
        return to_markdown(report)
    raise ValueError(f"unknown format {fmt!r}")
