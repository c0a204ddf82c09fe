"""Exact-decision cases (tests/decisions/*.yaml): the decision a compliance officer reaches from
the regulation, written before running the tool, with the rule ids that must decide it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecscreen.model import Outcome, Shipment

DIR = Path(__file__).parent
KEYS = {"id", "class", "citation", "reasoning", "shipment", "as_of", "decision", "blocking", "present", "covered",
        "absent", "outcomes", "message_has", "evidence_has"}


def load_cases() -> list[dict[str, Any]]:
    out = []
    for f in sorted(DIR.glob("*.yaml")):
        for case in (yaml.safe_load(f.read_text("utf-8")) or {}).get("cases", []):
            out.append({**case, "_file": f.name})
    return out


CASES = load_cases()


def screen(engine: Any, case: dict[str, Any]) -> Any:
    sh = Shipment.model_validate(case["shipment"])
    as_of = case.get("as_of")
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    return engine.screen_one(sh, as_of=as_of)


def test_cases_are_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for c in CASES:
        assert set(c) - {"_file"} <= KEYS, f"{c['id']}: unknown keys {set(c) - KEYS - {'_file'}}"
        assert c.get("citation") and c.get("reasoning") and c.get("class"), f"{c['id']}: citation/reasoning/class"
        assert c["decision"] in ("clear", "review", "license_required", "prohibited"), c["id"]


def test_each_class_has_five_cases_and_every_kind_of_decision() -> None:
    by: dict[str, list[str]] = {}
    for c in CASES:
        by.setdefault(c["class"], []).append(c["decision"])
    assert {"exception-lines", "list-scope", "shipment-coverage", "itar", "messages"} <= set(by)
    for cls, decisions in by.items():
        assert len(decisions) >= 5, f"{cls}: {len(decisions)} cases"
        assert "clear" in decisions and any(d in ("license_required", "prohibited") for d in decisions), cls
    for cls in ("exception-lines", "list-scope", "shipment-coverage", "itar", "territories"):
        assert "review" in by[cls], cls


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_decision(case: dict[str, Any], full_engine: Any) -> None:
    res = screen(full_engine, case)
    assert res.decision != "error", res.errors
    found = {f.rule_id: f for f in res.findings}
    why = "; ".join(f"{f.rule_id}={f.outcome.value}{'(covered)' if f.covered_by else ''}: {f.message[:160]}"
                    for f in res.findings)
    assert res.decision == Outcome(case["decision"]), f"{case['id']}: {res.decision} != {case['decision']}\n{why}"
    blocking = {f.rule_id for f in res.findings if f.covered_by is None and f.outcome != Outcome.clear}
    if "blocking" in case:
        assert blocking == set(case["blocking"]), f"{case['id']}: blocking {sorted(blocking)}\n{why}"
    for rid in case.get("present", []):
        assert rid in found, f"{case['id']}: {rid} missing\n{why}"
    for rid in case.get("covered", []):
        assert rid in found and found[rid].covered_by is not None, f"{case['id']}: {rid} not covered\n{why}"
    for rid in case.get("absent", []):
        assert rid not in found, f"{case['id']}: {rid} present\n{why}"
    for rid, outcome in (case.get("outcomes") or {}).items():
        assert rid in found and found[rid].outcome == Outcome(outcome), f"{case['id']}: {rid}\n{why}"
    for rid, parts in (case.get("message_has") or {}).items():
        msgs = " | ".join(f.message for f in res.findings if f.rule_id == rid)
        for p in parts:
            assert p in msgs, f"{case['id']}: {rid} message lacks {p!r}: {msgs}"
    for rid, parts in (case.get("evidence_has") or {}).items():
        details = " | ".join(str(e.detail) for f in res.findings if f.rule_id == rid for e in f.evidence)
        for p in parts:
            assert p in details, f"{case['id']}: {rid} evidence lacks {p!r}: {details}"
    # every flag explains itself
    for f in res.findings:
        assert f.message and f.citations and f.title, f.rule_id
