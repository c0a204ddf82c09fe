"""No message is ever printed with an unfilled placeholder: every finding produced by every rule
case (tests/rulecases), example (examples/), exact-decision case (tests/decisions) and benchmark
shipment that needs no shared data (benchmarks/ordinary_business.py) is checked for '?' standing
for a value ("export of ? (?)"), template fields left as '{...}', and 'None'."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecscreen.inputs.files import load_shipments
from ecscreen.model import Finding, Shipment

ROOT = Path(__file__).resolve().parents[2]
UNFILLED = [
    (re.compile(r"\{[a-z_]+(?:\.[A-Za-z0-9_]+)?\}"), "template field left as {...}"),
    (re.compile(r"(?:^|[\s(:,])\?(?=$|[\s),;.])"), "'?' standing for a value"),
    (re.compile(r"\bNone\b"), "'None' printed"),
]


def unfilled(text: str) -> list[str]:
    return [why for rx, why in UNFILLED if rx.search(text)]


def finding_texts(f: Finding) -> list[tuple[str, str]]:
    out = [("title", f.title), ("message", f.message)]
    out += [("note", n) for n in f.notes]
    out += [(f"evidence {e.field}", e.detail) for e in f.evidence if e.detail]
    return out


def _shipments() -> list[tuple[str, Shipment, dt.date | None]]:
    out: list[tuple[str, Shipment, dt.date | None]] = []
    for f in sorted((ROOT / "tests" / "rulecases").glob("*.yaml")):
        for n, case in enumerate((yaml.safe_load(f.read_text("utf-8")) or {}).get("cases", [])):
            as_of = case.get("as_of")
            out.append((f"rulecases/{f.stem}[{n}]", Shipment.model_validate(case["shipment"]),
                        dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of))
    for f in sorted((ROOT / "tests" / "decisions").glob("*.yaml")):
        for case in (yaml.safe_load(f.read_text("utf-8")) or {}).get("cases", []):
            out.append((f"decisions/{case['id']}", Shipment.model_validate(case["shipment"]), None))
    for p in sorted((ROOT / "examples").rglob("*.yaml")):
        rel = p.relative_to(ROOT / "examples")
        if p.name == "expected.yaml" or "ci" in rel.parts or "packs" in rel.parts:
            continue
        text = p.read_text("utf-8")
        if "destination" not in text or "items" not in text:
            continue
        for label, sh in load_shipments(p):
            if isinstance(sh, Shipment):
                out.append((f"examples/{rel}:{label}", sh, None))
    out += _benchmark_shipments()
    return out


def _benchmark_shipments() -> list[tuple[str, Shipment, dt.date | None]]:
    """The ordinary-business benchmark's shipments (built in code, no shared data needed)."""
    spec = importlib.util.spec_from_file_location("ordinary_business", ROOT / "benchmarks" / "ordinary_business.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return [(f"benchmarks/ordinary_business:{label}", sh, None) for label, sh in mod.shipments()]


SHIPMENTS = _shipments()


def test_every_source_of_shipments_is_checked() -> None:
    kinds = {label.split("/", 1)[0] for label, _, _ in SHIPMENTS}
    assert {"rulecases", "decisions", "examples", "benchmarks"} <= kinds
    assert sum(label.startswith("benchmarks/") for label, _, _ in SHIPMENTS) == 480


def test_the_checker_catches_what_the_issue_reported() -> None:
    assert unfilled("export of ? (?)")
    assert unfilled("(item: ?, ?)")
    assert unfilled("{description} to {destination}")
    assert unfilled("value None")
    assert not unfilled("did you mean 3A001? It is close")
    assert not unfilled("export of Laptop (5A992.c) to Cuba")


@pytest.mark.parametrize("label,sh,as_of", SHIPMENTS, ids=[s[0] for s in SHIPMENTS])
def test_no_unfilled_placeholder(label: str, sh: Shipment, as_of: Any, full_engine: Any) -> None:
    res = full_engine.screen_one(sh, as_of=as_of)
    bad = [f"{f.rule_id} {where}: {why}: {text[:200]}"
           for f in res.findings for where, text in finding_texts(f) for why in unfilled(text)]
    assert not bad, "\n".join(bad)
