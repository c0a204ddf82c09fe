"""Per-item scope of party-list licence requirements (ecscreen.engine.listscope, party-list-scopes pack)
and ITAR detection before the EAR jurisdiction chain (ecscreen.engine.jurisdiction)."""

from __future__ import annotations

import datetime as dt

import pytest

from ecscreen.domain.countries import resolve
from ecscreen.engine.jurisdiction import _itar_facts
from ecscreen.engine.listscope import scope_party_findings
from ecscreen.model import Finding, Item, Outcome, Shipment

ON = dt.date(2026, 8, 3)


def party_finding(code: str, text: str | None, outcome: Outcome = Outcome.license_required) -> Finding:
    notes = [f"Licence requirement (list text): {text}"] if text else []
    return Finding(rule_id=f"PARTY-{code}", pack_id="us-ear-party-lists", outcome=outcome, title="t",
                   message=f"matches {code} entry.", notes=notes)


def items(*specs: tuple[str, str | None]) -> list[Item]:
    return [Item(description=d, eccn=e, origin="US") for d, e in specs]


def scoped(registry, f: Finding, its: list[Item], status: dict[int, str] | None = None, dest: str = "CN") -> Finding:
    st = status or dict.fromkeys(range(len(its)), "subject")
    out = scope_party_findings([f], its, [i.eccn for i in its], st, resolve(dest), registry, ON)
    return out[0]


SUPP2 = "For any item subject to the EAR listed in supplement no. 2 to part 744."
ALL = "For all items subject to the EAR. (See §744.11 of the EAR)"
CCL7 = "For items on the CCL and EAR99 items listed in supplement no. 7 to part 746 of the EAR."
PROJECTS = "For all items subject to the EAR when used in projects specified in § 746.8(a)(4) of the EAR"


def test_meu_ear99_is_outside_supplement_2(registry) -> None:
    g = scoped(registry, party_finding("MEU", SUPP2), items(("Chairs", "EAR99")))
    assert g.outcome == Outcome.clear and "Supplement No. 2" in g.message
    assert [s.outcome for s in g.steps] == ["out"]


def test_meu_supplement_2_item_stays_licence_required(registry) -> None:
    g = scoped(registry, party_finding("MEU", SUPP2), items(("Chairs", "EAR99"), ("Landing gear", "9A991.d")))
    assert g.outcome == Outcome.license_required
    assert "item 1 (Landing gear, 9A991.d)" in g.message and "not item 0 (Chairs, EAR99)" in g.message


def test_meu_without_eccn_is_review(registry) -> None:
    g = scoped(registry, party_finding("MEU", SUPP2), items(("Bearings", None)))
    assert g.outcome == Outcome.review and "classify" in g.message


def test_meu_list_default_when_the_entry_has_no_text(registry) -> None:
    assert scoped(registry, party_finding("MEU", None), items(("Chairs", "EAR99"))).outcome == Outcome.clear


def test_meu_russia_reaches_any_item(registry) -> None:
    g = scoped(registry, party_finding("MEU", SUPP2), items(("Chairs", "EAR99")), dest="RU")
    assert g.outcome == Outcome.license_required


def test_entity_list_not_subject_item_is_out(registry) -> None:
    g = scoped(registry, party_finding("EL", ALL), items(("Pump", "EAR99")), {0: "not_subject"})
    assert g.outcome == Outcome.clear and "not subject to the EAR" in g.message


def test_entity_list_undetermined_jurisdiction_is_review(registry) -> None:
    g = scoped(registry, party_finding("EL", ALL), items(("Pump", "EAR99")), {0: "unknown"})
    assert g.outcome == Outcome.review


def test_entity_list_subject_ear99_in_scope(registry) -> None:
    assert scoped(registry, party_finding("EL", ALL), items(("Pump", "EAR99"))).outcome == Outcome.license_required


def test_entity_list_ccl_and_supp7_text(registry) -> None:
    f = party_finding("EL", CCL7)
    assert scoped(registry, f, items(("Router", "5A992.c"))).outcome == Outcome.license_required
    g = scoped(registry, f, items(("Chair", "EAR99")))
    assert g.outcome == Outcome.review and "Supplement No. 7 to part 746" in g.message


def test_entity_list_projects_condition_is_review(registry) -> None:
    g = scoped(registry, party_finding("EL", PROJECTS), items(("Pipe", "EAR99")))
    assert g.outcome == Outcome.review and "746.8(a)(4)" in g.message


def test_possible_match_stays_review_or_clears(registry) -> None:
    f = party_finding("MEU", SUPP2, Outcome.review)
    assert scoped(registry, f, items(("Chairs", "EAR99"))).outcome == Outcome.clear
    assert scoped(registry, f, items(("Gear", "9A991.d"))).outcome == Outcome.review


def test_other_findings_untouched(registry) -> None:
    f = Finding(rule_id="PARTY-SDN", pack_id="p", outcome=Outcome.prohibited, title="t", message="m")
    assert scoped(registry, f, items(("Chairs", "EAR99"))) is f


# --------------------------------------------------------------------------- ITAR


def _ix(registry):
    from ecscreen.engine.jurisdiction import _ITAR_ATTR

    return getattr(registry, _ITAR_ATTR)


@pytest.mark.parametrize("item,source,category", [
    ({"description": "Radar processor, USML Category XI(c)"}, "category", "XI(c)"),
    ({"description": "Part, U.S. Munitions List Cat. IV"}, "category", "IV"),
    ({"description": "Gun mount", "usml_category": "II(j)"}, "category", "II(j)"),
    ({"description": "Gun mount", "itar": True}, "fact", None),
    ({"description": "ITAR-controlled night vision goggle"}, "text", None),
    ({"description": "Spare defense article for a howitzer"}, "text", None),
])
def test_itar_detected(registry, item, source, category) -> None:
    facts = _itar_facts(_ix(registry), Item.model_validate(item), 0)
    assert facts is not None and facts.source == source and facts.category == category


@pytest.mark.parametrize("item", [
    {"description": "Non-ITAR commercial GPS receiver"},
    {"description": "Thermal camera, not ITAR controlled"},
    {"description": "Fixture, formerly USML, now 9A610.x"},
    {"description": "Gun mount, USML Category II(j)", "itar": False},
    {"description": "Iterative solver software (citarum)"},
])
def test_itar_not_detected(registry, item) -> None:
    assert _itar_facts(_ix(registry), Item.model_validate(item), 0) is None


def test_itar_item_is_outside_the_ear_and_never_clear(engine) -> None:
    sh = Shipment.model_validate({"destination": "DE", "date": "2026-08-03",
                                  "items": [{"description": "Radar processor, USML Category XI(c)", "origin": "US"}]})
    res = engine.screen_one(sh)
    assert res.decision == Outcome.license_required
    assert res.jurisdiction[0].status == "not_subject" and "ITAR" in res.jurisdiction[0].summary
    f = next(f for f in res.findings if f.rule_id == "ITAR-USML")
    assert f.jurisdiction == "US-ITAR" and any(c.ref == "15 CFR 734.3(b)(1)(i)" for c in f.citations)
