"""Issue 14 (batch per-row cost and memory): models built without validating again are the models the
validating constructors give; the chart memo's kept lines and the bounded matcher caches never change a
result."""

from __future__ import annotations

import datetime as dt
import io

from ecscreen.engine import chartmemo
from ecscreen.engine.fastmodel import built, replaced
from ecscreen.model import (
    Finding,
    Item,
    ItemJurisdiction,
    Outcome,
    Party,
    PartyRole,
    Shipment,
    ShipmentResult,
    Step,
)
from ecscreen.runners import batch
from ecscreen.runners.batch import BatchOptions, run_batch


def _same(a, b) -> None:
    assert type(a) is type(b)
    assert a == b
    assert a.model_dump() == b.model_dump()
    assert a.model_dump_json() == b.model_dump_json()
    assert a.model_fields_set == b.model_fields_set
    assert repr(a) == repr(b)


def test_built_equals_the_validated_model():
    step = Step(name="origin", outcome="subject", detail="U.S. origin")
    vals = {"item_index": 2, "status": "subject", "summary": "subject to the EAR", "steps": [step]}
    _same(built(ItemJurisdiction, dict(vals)), ItemJurisdiction(**vals))
    item = Item(description="Pump", eccn="EAR99")
    party = Party(role=PartyRole.end_user, name="Acme GmbH", country="DE")
    sv = {"id": "SO-1", "date": dt.date(2026, 11, 1), "destination": "DE", "destination_region": None,
          "parties": [party], "end_use": None, "items": [item], "exporter_country": None}
    b = built(Shipment, dict(sv))
    assert b == Shipment(**sv) and b.model_dump() == Shipment(**sv).model_dump()
    f = Finding(rule_id="R", pack_id="p", outcome=Outcome.review, title="t", message="m")
    rv = {"id": "SO-1", "decision": Outcome.review, "as_of": dt.date(2026, 11, 1), "destination": "DE",
          "destination_name": "Germany", "findings": [f], "errors": [], "warnings": ["w"], "jurisdiction": [],
          "source": None, "party_screening": []}
    r = built(ShipmentResult, dict(rv))
    assert r == ShipmentResult(**rv) and r.model_dump_json() == ShipmentResult(**rv).model_dump_json()


def test_built_falls_back_to_validation_when_not_every_field_is_given():
    # a missing field (or another order) is not built blindly: the validating constructor decides
    got = built(ItemJurisdiction, {"item_index": 0, "status": "subject", "summary": "s"})
    assert got.steps == [] and got.model_fields_set == {"item_index", "status", "summary"}
    try:
        built(ItemJurisdiction, {"item_index": 0, "status": "nonsense", "summary": "s"})
    except Exception as exc:  # the constructor's ValidationError
        assert "status" in str(exc)
    else:
        raise AssertionError("an invalid value must not be built unvalidated")


def test_replaced_equals_model_copy():
    base = Item(description="Pump", eccn="5A992.c", origin="US", quantity=None, value_usd=None, sku="S1")
    a = base.model_copy(update={"quantity": 3.0, "value_usd": 12.5})
    b = replaced(base, {"quantity": 3.0, "value_usd": 12.5})
    _same(a, b)
    assert base.quantity is None  # the original is untouched


def test_chart_template_keeps_lines_without_changing_them():
    """A kept line is the same determination as one written afresh (regression for the per-line cache)."""
    f = Finding(rule_id="CHART", pack_id="chart", outcome=Outcome.license_required, title="t",
                message=f"item {chartmemo.SENTINEL}: licence required", item_index=chartmemo.SENTINEL)
    t = chartmemo.Template([f], [f"item {chartmemo.SENTINEL}: note"], [])
    one = t.for_line(1)
    assert one.findings[0].item_index == 1 and one.findings[0].message == "item 1: licence required"
    assert t.for_line(1) is one  # kept
    zero = t.for_line(0)
    assert zero.findings[0].item_index == 0 and zero.notes == ("item 0: note",)
    for i in range(20):  # more indexes than kept: each still written for its own line
        assert t.for_line(i).findings[0].message == f"item {i}: licence required"
    assert t.findings[0].item_index == chartmemo.SENTINEL  # the template itself is never changed


ORDERS = (
    "order_id,date,destination,description,eccn,origin,end_user,end_user_country,purchaser,quantity,value_usd\n"
    + "".join(f"SO-{i},2026-11-{1 + i % 27:02d},{dest},Pump {i % 3},{eccn},US,{name},{dest},{name},{i},{i * 10}\n"
              for i, (dest, eccn, name) in enumerate(
                  [("DE", "EAR99", "Siemens AG"), ("CN", "3A090.a", "Huawei Technologies Co Ltd"),
                   ("RU", "EAR99", "Acme Trading LLC"), ("CN", "5A992.c", "SMIC"), ("IN", "3A991.a", "Tata Steel")]
                  * 30)))


def test_bounded_matcher_caches_give_the_same_output(monkeypatch):
    """Emptying the list matchers' query caches every few names (issue 14: memory) changes no row."""
    from ecscreen.engine.core import Engine, _NamesList
    from ecscreen.packs.registry import cached_registry

    def run() -> str:
        out = io.StringIO()
        run_batch(io.BytesIO(ORDERS.encode()), out, Engine.build(cached_registry()), options=BatchOptions())
        return out.getvalue()

    monkeypatch.setattr(batch, "MATCHER_CACHE_NAMES", 10**9)
    monkeypatch.setattr(_NamesList, "MATCHER_CACHE_NAMES", 10**9)
    kept = run()
    monkeypatch.setattr(batch, "MATCHER_CACHE_NAMES", 1)
    monkeypatch.setattr(_NamesList, "MATCHER_CACHE_NAMES", 1)
    cleared = run()
    assert cleared == kept
    assert "licen" in kept or "prohibited" in kept  # the file does flag rows
