"""General authorisations on rules (issue 13 part 2): items[].category, category_in /
license_exception_in conditions, rule ``authorisations`` (covered / review naming the conditions),
``not_within`` phrase contexts, the CWC destination list and their validation."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from pydantic import ValidationError

from ecscreen.domain.textmatch import PhraseMatcher
from ecscreen.engine.core import Engine
from ecscreen.errors import PackError
from ecscreen.model import Item, Outcome, Shipment
from ecscreen.packs.registry import load_registry
from ecscreen.runners.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]
US = ROOT / "rules" / "us-ear"


@pytest.fixture(scope="module")
def emb_engine() -> Engine:
    return Engine.build(load_registry([US / "country-groups.yaml", US / "embargoes.yaml"]), use_lists=False,
                        today=dt.date.today())


def _one(engine: Engine, dest: str, **item: object) -> object:
    it = {"description": "Milling wheat", "eccn": "EAR99", "origin": "US", **item}
    return engine.screen_one(Shipment.model_validate({"destination": dest, "date": "2026-10-01", "items": [it]}))


def test_category_is_validated_and_normalised() -> None:
    assert Item(description="x", category="Medical device").category == "medical_device"
    assert Item(description="x", category=" FOOD ").category == "food"
    assert Item(description="x", category="").category is None
    with pytest.raises(ValidationError, match="category must be one of"):
        Item(description="x", category="weapons")


def test_iran_food_covered_by_general_licence_not_specific(emb_engine: Engine) -> None:
    res = _one(emb_engine, "IR", category="agricultural")
    f = next(f for f in res.findings if f.rule_id == "EMB-IR")
    assert res.decision == Outcome.clear
    assert f.covered_by is not None and f.covered_by.kind == "general_license" and "560.530" in f.covered_by.ref
    assert "Milling wheat" in f.covered_by.detail
    assert any(c.ref.startswith("31 CFR 560.530") for c in f.citations)
    # the regression: the message no longer says only a specific authorisation will do
    assert "without specific authorisation" not in f.message


def test_category_not_stated_is_never_assumed(emb_engine: Engine) -> None:
    assert _one(emb_engine, "IR").decision == Outcome.prohibited
    # Syria before License Exception SPP (90 FR 42315, 2025-09-02), which authorises every EAR99 item since
    before_spp = Shipment.model_validate({"destination": "SY", "date": "2025-08-01", "items": [
        {"description": "Milling wheat", "eccn": "EAR99", "origin": "US"}]})
    assert emb_engine.screen_one(before_spp).decision == Outcome.license_required


def test_confirm_makes_review_naming_the_conditions(emb_engine: Engine) -> None:
    res = _one(emb_engine, "CU", category="food")
    f = next(f for f in res.findings if f.rule_id == "EMB-CU")
    assert res.decision == Outcome.review and f.covered_by is None
    assert "prior notification" in f.message and "740.18" in f.message


def test_claimed_exception_covers_and_is_not_reported_as_unused(emb_engine: Engine) -> None:
    res = _one(emb_engine, "CU", category="food", license_exception="agr")
    assert res.decision == Outcome.clear
    f = next(f for f in res.findings if f.rule_id == "EMB-CU")
    assert f.covered_by is not None and f.covered_by.kind == "license_exception"


def test_shipment_level_finding_covered_only_when_every_item_is(emb_engine: Engine) -> None:
    sh = Shipment.model_validate({"destination": "KP", "date": "2026-10-01", "items": [
        {"description": "Rice", "eccn": "EAR99", "origin": "US", "category": "food"},
        {"description": "Bicycles", "eccn": "EAR99", "origin": "US"}]})
    res = emb_engine.screen_one(sh)
    f = next(f for f in res.findings if f.rule_id == "EMB-KP")
    assert res.decision == Outcome.license_required and f.covered_by is None
    assert any("authorised" in n and "Bicycles" in n for n in f.notes)


def test_classified_item_is_not_excluded(emb_engine: Engine) -> None:
    assert _one(emb_engine, "SY", eccn="1C991.c", category="medicine").decision == Outcome.license_required


def test_authorisation_refs_and_placeholders_are_checked(tmp_path: Path) -> None:
    base = (US / "embargoes.yaml").read_text("utf-8")
    bad = base.replace('category_in: [food, agricultural, medicine]', 'description_has: ["list:no_such_list"]', 1)
    p = tmp_path / "embargoes.yaml"
    p.write_text(bad, "utf-8")
    with pytest.raises(PackError, match="unknown list 'no_such_list'"):
        load_registry([US / "country-groups.yaml", p])
    bad2 = base.replace("{description} is an EAR99 medical device, within", "{nonsense} is an EAR99 medical device", 1)
    p.write_text(bad2, "utf-8")
    with pytest.raises(PackError, match="unknown placeholder"):
        load_registry([US / "country-groups.yaml", p])


def test_not_within_keeps_the_word_in_its_other_sense_out() -> None:
    pm = PhraseMatcher(["PLA"], ["PLA filament", "polylactic acid PLA"])
    assert pm.positive("PLA filament for 3D printing") == []
    assert pm.positive("Polylactic acid (PLA) pellets") == []
    assert [h.phrase for h in pm.positive("PLA filament for a PLA army unit")] == ["PLA"]
    assert [h.phrase for h in PhraseMatcher(["PLA"]).positive("PLA filament")] == ["PLA"]


def test_country_group_packs_share_one_snapshot(tmp_path: Path) -> None:
    text = (US / "destination-lists.yaml").read_text("utf-8").replace("snapshot_date: '2026-07-23'",
                                                                       "snapshot_date: '2025-01-01'")
    p = tmp_path / "destination-lists.yaml"
    p.write_text(text, "utf-8")
    with pytest.raises(PackError, match="different snapshot dates"):
        load_registry([US / "country-groups.yaml", p])


def test_cwc_non_party_group_decides_1e355(engine: Engine) -> None:
    def dec(dest: str) -> str:
        sh = Shipment.model_validate({"destination": dest, "date": "2026-10-01",
                                      "items": [{"description": "CWC Schedule 2 production technology",
                                                 "eccn": "1E355", "origin": "US"}]})
        return str(engine.screen_one(sh).decision)
    assert [dec(d) for d in ("EG", "SS", "IL", "TW", "DE", "JP")] == [
        "license_required", "license_required", "clear", "clear", "clear", "clear"]


def test_batch_category_column(emb_engine: Engine) -> None:
    text = ("order_id,destination,description,eccn,category\n"
            "1,IR,Milling wheat,EAR99,agricultural\n"
            "2,IR,Milling wheat,EAR99,\n"
            "3,IR,Milling wheat,EAR99,weapons\n")
    out = io.StringIO()
    run_batch(io.BytesIO(text.encode()), out, emb_engine)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["decision"] for r in rows] == ["clear", "prohibited", "error"]
    assert "category must be one of" in rows[2]["message"]
