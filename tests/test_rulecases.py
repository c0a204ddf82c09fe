"""Flag/clear cases for every rule of every shipped pack (data files in tests/rulecases/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecscreen.model import Outcome, Shipment

CASES_DIR = Path(__file__).parent / "rulecases"


def _load() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for f in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(f.read_text("utf-8")) or {}
        for n, case in enumerate(data.get("cases", [])):
            out.append((f"{f.stem}[{n}]:{case.get('rule')}:{case.get('expect')}", case))
    return out


CASES = _load()


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_rule_case(case, full_engine):
    assert case["expect"] in ("flag", "clear"), "expect must be flag or clear"
    sh = Shipment.model_validate(case["shipment"])
    as_of = case.get("as_of")
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    res = full_engine.screen_one(sh, as_of=as_of)
    assert res.decision != "error", f"case shipment did not screen: {res.errors}"
    hits = [f for f in res.findings if f.rule_id == case["rule"]]
    if case["expect"] == "flag":
        assert hits, f"{case['rule']} did not fire; fired: {[f.rule_id for f in res.findings]}"
        if "outcome" in case:
            assert hits[0].outcome == Outcome(case["outcome"]), hits[0].message
        # every flag explains itself
        f = hits[0]
        assert f.message and f.citations and f.title
    else:
        assert not hits, f"{case['rule']} fired unexpectedly: {hits[0].message}"


def test_every_rule_has_flag_and_clear_case(registry):
    have: dict[str, set[str]] = {}
    for _, c in CASES:
        have.setdefault(c["rule"], set()).add(c["expect"])
    missing = []
    for pack in registry.rule_packs:
        for rule in pack.rules:
            kinds = have.get(rule.id, set())
            if kinds != {"flag", "clear"}:
                missing.append(f"{pack.pack.id}:{rule.id} has {sorted(kinds) or 'no cases'}")
    assert not missing, "rules without both a flag and a clear case:\n" + "\n".join(missing)


def test_cases_name_existing_rules(registry):
    ids = {r.id for p in registry.rule_packs for r in p.rules}
    unknown = sorted({c["rule"] for _, c in CASES} - ids)
    assert not unknown, f"cases for unknown rules: {unknown}"
