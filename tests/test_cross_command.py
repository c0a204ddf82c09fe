"""One core, one answer: every rule case and example gives the same decision and rule ids through
``check`` (the engine), ``batch`` (as CSV order lines) and ``gate`` (as a one-product catalog), wherever
the shipment can be written in that command's input format (issue 10)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecscreen.model import Outcome, Shipment
from ecscreen.runners.batch import BatchOptions, run_batch
from ecscreen.runners.gate import GAP_RULE_ID, run_gate

ROOT = Path(__file__).resolve().parents[1]
RANK = {"clear": 0, "review": 1, "license_required": 2, "prohibited": 3, "error": 9}

BATCH_SHIP_KEYS = {"id", "date", "destination", "destination_region", "exporter_country", "parties", "end_use",
                   "items"}
BATCH_ITEM_KEYS = {"description", "eccn", "origin", "parameters", "us_content_percent", "license_exception",
                   "sku", "value_usd"}
BATCH_ROLES = {"end_user", "consignee", "purchaser"}
GATE_ITEM_KEYS = {"description", "eccn", "origin", "parameters", "us_content_percent", "license_exception",
                  "licenses"}


def _cases() -> list[tuple[str, dict[str, Any], dt.date | None]]:
    out: list[tuple[str, dict[str, Any], dt.date | None]] = []
    for f in sorted((ROOT / "tests" / "rulecases").glob("*.yaml")):
        for n, case in enumerate(yaml.safe_load(f.read_text("utf-8")).get("cases", [])):
            as_of = case.get("as_of")
            as_of = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
            out.append((f"{f.stem}[{n}]", case["shipment"], as_of))
    for f in sorted(ROOT.glob("examples/**/*.yaml")):
        if f.name in ("expected.yaml",) or "ci" in f.parts or f.name.startswith("."):
            continue
        data = yaml.safe_load(f.read_text("utf-8"))
        docs = data["shipments"] if isinstance(data, dict) and "shipments" in data else data
        for n, doc in enumerate(docs if isinstance(docs, list) else [docs]):
            if isinstance(doc, dict) and "items" in doc:
                out.append((f"{f.relative_to(ROOT)}#{n}", doc, None))
    return out


CASES = _cases()


def _date(doc: dict[str, Any], as_of: dt.date | None) -> dt.date:
    d = as_of or doc.get("date") or dt.date.today()
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))


def _batchable(doc: dict[str, Any]) -> bool:
    if set(doc) - BATCH_SHIP_KEYS:
        return False
    parties = doc.get("parties") or []
    roles = [p.get("role", "end_user") for p in parties]
    if any(r not in BATCH_ROLES for r in roles) or len(set(roles)) != len(roles):
        return False
    if any(set(p) - {"role", "name", "country"} for p in parties):
        return False
    for it in doc["items"]:
        if set(it) - BATCH_ITEM_KEYS:
            return False
        if any(isinstance(v, bool) for v in (it.get("parameters") or {}).values()):
            return False
    return True


def _gateable(doc: dict[str, Any]) -> bool:
    return (set(doc) <= {"id", "date", "destination", "items"} and len(doc["items"]) == 1
            and not set(doc["items"][0]) - GATE_ITEM_KEYS
            and not any(isinstance(v, bool) for v in (doc["items"][0].get("parameters") or {}).values()))


def _check(engine: Any, doc: dict[str, Any], as_of: dt.date | None) -> tuple[str, set[str]]:
    try:
        sh = Shipment.model_validate(doc)
    except Exception:
        return "error", set()
    r = engine.screen_one(sh, as_of=as_of, today=dt.date.today())
    return str(r.decision), {f.rule_id for f in r.findings}


@pytest.fixture(scope="module")
def check_results(full_engine: Any) -> dict[str, tuple[str, set[str]]]:
    return {cid: _check(full_engine, doc, as_of) for cid, doc, as_of in CASES}


def test_batch_gives_the_same_decision_and_rule_ids(full_engine: Any, check_results: Any) -> None:
    params = sorted({k for _, d, _ in CASES if _batchable(d) for it in d["items"] for k in it.get("parameters") or {}})
    cols = ["order_id", "date", "destination", "destination_region", "exporter_country", "end_use",
            *(f"{r}{s}" for r in ("end_user", "consignee", "purchaser") for s in ("", "_country")),
            "description", "eccn", "origin", "us_content_percent", "license_exception", "sku", "value_usd",
            *(f"param_{p}" for p in params)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    used: list[str] = []
    for n, (cid, doc, as_of) in enumerate(CASES):
        if not _batchable(doc) or check_results[cid][0] == "error":
            continue
        used.append(cid)
        ship: dict[str, Any] = {"order_id": f"C{n:05d}", "date": _date(doc, as_of).isoformat()}
        for k in ("destination", "destination_region", "exporter_country", "end_use"):
            ship[k] = doc.get(k) or ""
        for p in doc.get("parties") or []:
            role = p.get("role", "end_user")
            ship[role], ship[f"{role}_country"] = p["name"], p.get("country") or ""
        for it in doc["items"]:
            row = {**ship, **{k: "" if it.get(k) is None else it.get(k) for k in BATCH_ITEM_KEYS - {"parameters"}},
                   **{f"param_{k}": v for k, v in (it.get("parameters") or {}).items()}}
            w.writerow([str(row.get(c, "")) for c in cols])
    out = io.StringIO()
    run_batch(io.BytesIO(buf.getvalue().encode()), out, full_engine, fmt="jsonl", options=BatchOptions())
    by_order: dict[str, tuple[str, set[str]]] = defaultdict(lambda: ("clear", set()))
    for line in out.getvalue().splitlines():
        rec = json.loads(line)
        oid = rec["input"]["order_id"]
        dec, ids = by_order[oid]
        new = rec["decision"] if RANK[rec["decision"]] > RANK[dec] else dec
        by_order[oid] = (new, ids | {f["rule_id"] for f in rec["findings"]})
    assert len(used) > 300  # most cases are expressible as order lines
    diffs = []
    for n, (cid, _doc, _as_of) in enumerate(CASES):
        if cid not in used:
            continue
        got = by_order[f"C{n:05d}"]
        if got != check_results[cid]:
            diffs.append(f"{cid}: check {check_results[cid]} batch {got}")
    assert not diffs, "\n".join(diffs[:30])


def test_gate_gives_the_same_decision_and_rule_ids(full_engine: Any, check_results: Any, tmp_path: Path) -> None:
    groups: dict[dt.date, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for cid, doc, as_of in CASES:
        if _gateable(doc) and check_results[cid][0] != "error":
            groups[_date(doc, as_of)].append((cid, doc))
    assert sum(len(v) for v in groups.values()) > 150
    diffs = []
    for on, docs in sorted(groups.items()):
        products = []
        for n, (_cid, doc) in enumerate(docs):
            it = doc["items"][0]
            products.append({"sku": f"P{n:04d}", "markets": [doc["destination"]],
                             **{k: v for k, v in it.items() if k in GATE_ITEM_KEYS}})
        cat = tmp_path / f"catalog-{on}.yaml"
        cat.write_text(yaml.safe_dump({"products": products}, sort_keys=False), encoding="utf-8")
        rep = run_gate(cat, full_engine, as_of=on, fail_on=Outcome.review)
        assert not rep.errors, rep.errors
        pairs = {p.sku: p for p in rep.pairs}
        for n, (cid, _doc) in enumerate(docs):
            p = pairs[f"P{n:04d}"]
            own = [f for f in p.findings if f.rule_id != GAP_RULE_ID]  # classification gaps are gate-only
            dec = str(p.decision) if p.decision == "error" else Outcome.worst(
                [f.outcome for f in own if f.covered_by is None]).value
            got = (dec, {f.rule_id for f in own})
            if got != check_results[cid]:
                diffs.append(f"{cid}: check {check_results[cid]} gate {got}")
    assert not diffs, "\n".join(diffs[:30])
