"""Jurisdiction: origin, location, de minimis (15 CFR 734.4) and each FDP paragraph (15 CFR 734.9).

The packs come from the repository (rules/us-ear/country-groups.yaml and jurisdiction.yaml);
nothing here reads /work/shared.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ecscreen.domain.countries import resolve
from ecscreen.engine import jurisdiction as J
from ecscreen.model import Item, Outcome, Shipment
from ecscreen.packs.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
PACKS = [ROOT / "rules/us-ear/country-groups.yaml", ROOT / "rules/us-ear/jurisdiction.yaml"]
D = dt.date


@pytest.fixture(scope="module")
def reg():
    return load_registry(PACKS)


def fact(footnote: int, name: str = "HiSilicon Technologies Co., Ltd", role: str = "end_user",
         idx: int = 0) -> J.PartyFact:
    return J.PartyFact(party_index=idx, role=role, name=name, list_code="EL", entry_name=name,
                       footnotes=[footnote], score=100.0)


HISILICON = fact(1)
SUGON = fact(4, "Sugon (Dawning Information Industry Co., Ltd)")
SMIC = fact(5, "Semiconductor Manufacturing International Corporation")
FN3 = fact(3, "Example Procurement Front FZE")


def run(reg: Any, item: dict[str, Any], dest: str = "CN", exporter: str | None = "TW",
        hits: list[J.PartyFact] | None = None, on: dt.date = D(2025, 3, 1), end_use: str | None = None,
        region: str | None = None) -> J.JurisdictionResult:
    base = {"description": "Test item", "origin": "TW", "us_content_percent": 5.0,
            "direct_product_of": [], "plant_direct_product_of": []}
    base.update(item)
    sh = Shipment(destination=dest, items=[Item(**base)], exporter_country=exporter, end_use=end_use,
                  destination_region=region)
    return J.assess(sh.items[0], 0, sh, resolve(region or dest), hits or [], reg, on)


def step(res: J.JurisdictionResult, name: str) -> Any:
    found = [s for s in res.steps if s.name == name]
    assert found, f"no step {name!r} in {[s.name for s in res.steps]}"
    return found[0]


def rule_ids(res: J.JurisdictionResult) -> list[str]:
    return [f.rule_id for f in res.findings]


# --------------------------------------------------------------------------- origin / location


def test_us_origin_is_subject_wherever_it_is(reg):
    res = run(reg, {"origin": "US", "us_content_percent": None, "direct_product_of": None}, exporter="DE")
    assert res.status == "subject"
    assert [s.name for s in res.steps] == ["origin"]
    assert res.steps[0].deciding and res.steps[0].citations[0].ref == "15 CFR 734.3(a)(2)"
    assert res.findings == []
    assert "U.S.-origin" in res.summary


def test_us_territory_origin_counts_as_us(reg):
    assert run(reg, {"origin": "PR"}).status == "subject"


def test_foreign_item_in_the_united_states_is_subject(reg):
    res = run(reg, {"origin": "DE", "us_content_percent": None}, exporter=None)
    assert res.status == "subject"
    loc = step(res, "location")
    assert loc.outcome == "subject" and loc.deciding
    assert loc.citations[0].ref == "15 CFR 734.3(a)(1)"


def test_missing_origin_names_the_fact(reg):
    res = run(reg, {"origin": None})
    assert res.status == "unknown"
    (f,) = res.findings
    assert f.rule_id == "JUR-INDETERMINATE" and f.outcome == Outcome.review
    assert "items[0].origin" in f.message
    assert "if the item is of U.S. origin, it is subject to the EAR" in f.message.lower().replace("u.s.", "U.S.").replace("the ear", "the EAR")
    assert any(e.field == "items[0].origin" for e in f.evidence)


def test_missing_origin_but_caught_either_way(reg):
    res = run(reg, {"origin": None, "direct_product_of": ["3E001"]}, hits=[HISILICON])
    assert res.status == "subject"
    assert "whatever the item's origin" in res.summary


# --------------------------------------------------------------------------- de minimis


@pytest.mark.parametrize("pct,dest,status", [
    (24.9, "CN", "not_subject"),
    (25.0, "CN", "not_subject"),   # "does not exceed" 25 %
    (25.1, "CN", "subject"),
    (30.0, "CN", "subject"),
    (9.9, "IR", "not_subject"),    # E:1: 10 %
    (10.5, "IR", "subject"),
    (10.5, "KP", "subject"),
    (10.5, "DE", "not_subject"),   # 25 % elsewhere
])
def test_de_minimis_thresholds(reg, pct, dest, status):
    res = run(reg, {"origin": "DE", "eccn": "EAR99", "us_content_percent": pct}, dest=dest, exporter="FR")
    assert res.status == status
    dm = step(res, "de minimis")
    assert dm.outcome == status
    assert dm.inputs["threshold"] == (10 if dest in ("IR", "KP") else 25)
    assert dm.citations[0].ref == ("15 CFR 734.4(c)" if dest in ("IR", "KP") else "15 CFR 734.4(d)")
    if status == "subject":
        assert dm.deciding
        assert res.summary == "subject to the EAR: de minimis"


def test_de_minimis_cuba_unconfirmed_band_is_review(reg):
    res = run(reg, {"origin": "DE", "eccn": "EAR99", "us_content_percent": 15}, dest="CU", exporter="ES")
    assert res.status == "unknown"
    (f,) = res.findings
    assert "10 % threshold applies to Cuba (CU) (UNCONFIRMED)" in f.message
    assert run(reg, {"origin": "DE", "eccn": "EAR99", "us_content_percent": 26}, dest="CU",
               exporter="ES").status == "subject"
    assert run(reg, {"origin": "DE", "eccn": "EAR99", "us_content_percent": 9}, dest="CU",
               exporter="ES").status == "not_subject"


def test_missing_us_content_names_fact_and_threshold(reg):
    res = run(reg, {"origin": "DE", "eccn": "EAR99", "us_content_percent": None}, exporter="DE")
    assert res.status == "unknown"
    (f,) = res.findings
    assert f.rule_id == "JUR-INDETERMINATE"
    assert "missing items[0].us_content_percent" in f.message
    assert "exceeds 25 %" in f.message and "China (CN)" in f.message
    ev = {e.field: e for e in f.evidence}
    assert "exceeds 25 %" in (ev["items[0].us_content_percent"].detail or "")
    assert step(res, "de minimis").deciding


def test_no_de_minimis_sme_item_with_us_ic_is_review(reg):
    # 734.4(a)(8) (UNCONFIRMED destination limb; the input cannot say whether a U.S. IC is inside)
    res = run(reg, {"origin": "KR", "eccn": "3B001.c.1.a", "us_content_percent": 5,
                    "plant_direct_product_of": []}, dest="IN", exporter="KR")
    assert res.status == "unknown"
    nd = step(res, "no de minimis 734.4(a)(8)")
    assert nd.outcome == "unknown"
    assert "contains a U.S.-origin integrated circuit" in res.findings[0].message


def test_no_de_minimis_3b993f1_for_advanced_node_logic(reg):
    item = {"origin": "KR", "eccn": "3B993.f.1", "us_content_percent": 5}
    res = run(reg, item, dest="VN", exporter="KR", end_use="production of 7nm FinFET logic wafers")
    assert step(res, "no de minimis 734.4(a)(3)").outcome == "no_de_minimis"
    assert res.status == "subject"
    res = run(reg, item, dest="VN", exporter="KR", end_use="mature-node power devices")
    assert all(s.name != "no de minimis 734.4(a)(3)" for s in res.steps)
    assert res.status == "not_subject"
    # no end use stated -> the case is undecided and named
    res = run(reg, item, dest="VN", exporter="KR")
    assert res.status == "unknown"
    assert "advanced-node logic ICs" in res.findings[0].message


def test_no_de_minimis_600_series_content_asked_only_for_military_items(reg):
    res = run(reg, {"origin": "DE", "eccn": "8A609.a", "us_content_percent": 5}, dest="VE", exporter="DE")
    assert step(res, "no de minimis 734.4(a)(6)(i)").outcome == "unknown"
    assert "us_content_eccns" in res.findings[0].message
    res = run(reg, {"origin": "DE", "eccn": "EAR99", "us_content_percent": 5}, dest="VE", exporter="DE")
    assert res.status == "not_subject"


# --------------------------------------------------------------------------- FDP paragraphs

# paragraph -> (item, kwargs) that trigger it; the finding rule id (None: subject, no own finding)
TRIGGERS: dict[str, tuple[dict[str, Any], dict[str, Any], str | None]] = {
    "734.9(c)": ({"eccn": "9A515.a", "direct_product_of": ["9E515"]}, {"dest": "CN"}, None),
    "734.9(d)": ({"eccn": "8A609.a", "direct_product_of": ["8E609"], "us_content_percent": 30},
                 {"dest": "VN"}, None),
    "734.9(e)(1)": ({"eccn": "5A992.c", "direct_product_of": ["3E001"]}, {"hits": [HISILICON]}, "JUR-FDP-E1"),
    "734.9(e)(2)": ({"eccn": "5A992.c", "direct_product_of": ["5E002"]}, {"hits": [SUGON]}, "JUR-FDP-E2"),
    "734.9(e)(3)": ({"eccn": "3B993.a", "plant_direct_product_of": ["3E001"]},
                    {"hits": [SMIC], "exporter": "KR"}, "JUR-FDP-E3"),
    "734.9(f)": ({"eccn": "2B991", "direct_product_of": ["2E991"]}, {"dest": "RU"}, "JUR-FDP-F"),
    "734.9(g)": ({"eccn": "EAR99", "direct_product_of": ["2E991"]}, {"dest": "AE", "hits": [FN3]}, "JUR-FDP-G"),
    "734.9(h)": ({"eccn": "3A090.a", "direct_product_of": ["3E001"]}, {"dest": "CN"}, "JUR-FDP-H"),
    "734.9(i)": ({"eccn": "5A992.c", "direct_product_of": ["4E001"]},
                 {"dest": "CN", "end_use": "maintenance of a national supercomputer centre"}, "JUR-FDP-I"),
    "734.9(j)": ({"eccn": "6A993", "direct_product_of": ["6E993"]}, {"dest": "IR"}, "JUR-FDP-J"),
    "734.9(k)": ({"eccn": "3B001.f.1", "plant_direct_product_of": ["3E001"]}, {"exporter": "KR"}, "JUR-FDP-K"),
    "734.9(l)": ({"eccn": "4E091", "plant_direct_product_of": ["4E001"]}, {"dest": "FR"}, "JUR-FDP-L"),
}


@pytest.mark.parametrize("para", sorted(TRIGGERS))
def test_fdp_paragraph_triggers(reg, para):
    item, kw, rid = TRIGGERS[para]
    res = run(reg, item, **kw)
    s = step(res, f"FDP {para}")
    assert s.outcome == "caught", s.detail
    assert s.deciding
    assert res.status == "subject"
    assert f"§ {para}" in res.summary
    assert any(c.ref == f"15 CFR {para}" for c in s.citations)
    if rid is None:
        assert not [f for f in res.findings if f.rule_id.startswith("JUR-FDP")]
    else:
        f = next(f for f in res.findings if f.rule_id == rid)
        assert f.outcome == Outcome.license_required
        assert f.item_index == 0 and f.steps and f.steps[0].name == f"FDP {para}"
        assert any(c.ref == f"15 CFR {para}" for c in f.citations)
        assert f.effective_from is not None
        assert f.evidence


# paragraph -> variants that must NOT catch: (label, item override, kwargs override)
NEGATIVES: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {
    "734.9(c)": [("wrong destination", {}, {"dest": "FR"}),
                 ("outside product scope", {"eccn": "9A610"}, {}),
                 ("before effective date", {}, {"on": D(2014, 1, 1)})],
    "734.9(d)": [("wrong destination", {}, {"dest": "GB"}),
                 ("outside product scope", {"direct_product_of": ["2E001"]}, {}),
                 ("before effective date", {}, {"on": D(2013, 1, 1)})],
    "734.9(e)(1)": [("non-listed party", {}, {"hits": []}),
                    ("other footnote", {}, {"hits": [SMIC]}),
                    ("outside product scope", {"direct_product_of": ["2E001"]}, {}),
                    ("before effective date", {}, {"on": D(2020, 1, 1)})],
    "734.9(e)(2)": [("non-listed party", {}, {"hits": []}),
                    ("outside product scope", {"direct_product_of": ["1E001"]}, {}),
                    ("before effective date", {}, {"on": D(2022, 6, 1)})],
    "734.9(e)(3)": [("non-listed party", {}, {"hits": []}),
                    ("outside product scope", {"eccn": "3B001.f.1"}, {}),
                    ("before effective date", {}, {"on": D(2024, 11, 1)})],
    "734.9(f)": [("wrong destination", {}, {"dest": "KZ"}),
                 ("outside product scope", {"eccn": "EAR99"}, {}),
                 ("before effective date", {}, {"on": D(2022, 2, 1)})],
    "734.9(g)": [("non-listed party", {}, {"hits": []}),
                 ("outside product scope", {"direct_product_of": []}, {}),
                 ("before effective date", {}, {"on": D(2022, 1, 1)})],
    "734.9(h)": [("wrong destination", {}, {"dest": "IL"}),
                 ("outside product scope", {"eccn": "5A992.c"}, {}),
                 ("before effective date", {}, {"on": D(2022, 9, 1)})],
    "734.9(i)": [("wrong destination", {}, {"dest": "IN"}),
                 ("no supercomputer end use", {}, {"end_use": "smartphones"}),
                 ("before effective date", {}, {"on": D(2022, 9, 1)})],
    "734.9(j)": [("wrong destination", {}, {"dest": "AE"}),
                 ("outside product scope", {"eccn": "1C992"}, {}),
                 ("before effective date", {}, {"on": D(2023, 1, 1)})],
    "734.9(k)": [("wrong destination", {}, {"dest": "IN"}),
                 ("outside product scope", {"eccn": "3B001.g"}, {}),
                 ("before effective date", {}, {"on": D(2024, 11, 1)})],
    "734.9(l)": [("outside product scope", {"eccn": "4E001"}, {}),
                 ("before effective date", {}, {"on": D(2024, 12, 1)})],
}
NEG_CASES = [(p, label, io, ko) for p, vs in sorted(NEGATIVES.items()) for label, io, ko in vs]


@pytest.mark.parametrize("para,label,item_over,kw_over", NEG_CASES,
                         ids=[f"{p}-{lab}" for p, lab, _, _ in NEG_CASES])
def test_fdp_paragraph_does_not_trigger(reg, para, label, item_over, kw_over):
    item, kw, rid = TRIGGERS[para]
    res = run(reg, {**item, **item_over}, **{**kw, **kw_over})
    s = step(res, f"FDP {para}")
    expected = "not_in_force" if label == "before effective date" else "not_caught"
    assert s.outcome == expected, s.detail
    assert rid is None or rid not in rule_ids(res)
    if expected == "not_in_force":
        assert "takes effect" in s.detail


def test_every_paragraph_b_to_l_is_evaluated(reg):
    res = run(reg, {"eccn": "EAR99"}, dest="FR", exporter="DE")
    names = [s.name for s in res.steps if s.name.startswith("FDP ")]
    assert names == [f"FDP 734.9({p})" for p in ("b", "c", "d", "e)(1", "e)(2", "e)(3", "f", "g", "h", "i", "j",
                                                   "k", "l")]
    assert res.status == "not_subject"


def test_ns_fdp_b_asks_its_open_conditions(reg):
    res = run(reg, {"eccn": "2B001", "direct_product_of": ["2E001"]}, dest="CN")
    s = step(res, "FDP 734.9(b)")
    assert s.outcome == "unknown"
    msg = res.findings[0].message
    assert "national security (NS)" in msg and "written assurance" in msg
    assert step(run(reg, {"eccn": "2B001", "direct_product_of": ["2E001"]}, dest="IN"),
                "FDP 734.9(b)").outcome == "not_caught"
    assert step(run(reg, {"eccn": "2B991", "direct_product_of": ["2E991"]}, dest="CN"),
                "FDP 734.9(b)").outcome == "not_caught"
    assert step(run(reg, {"eccn": "2B001", "direct_product_of": ["2E001"]}, dest="CN", on=D(2009, 1, 1)),
                "FDP 734.9(b)").outcome == "not_in_force"


def test_fn1_may_2020_window_is_review(reg):
    res = run(reg, {"eccn": "5A992.c", "direct_product_of": ["3E001"]}, hits=[HISILICON], on=D(2020, 6, 1))
    assert step(res, "FDP 734.9(e)(1)").outcome == "unknown"
    assert res.status == "unknown"
    assert "UNCONFIRMED" in res.findings[0].message


def test_fn1_party_with_other_role_is_review(reg):
    res = run(reg, {"eccn": "5A992.c", "direct_product_of": ["3E001"]}, hits=[fact(1, role="other")])
    assert step(res, "FDP 734.9(e)(1)").outcome == "unknown"
    assert "purchaser, intermediate or ultimate consignee or end user" in res.findings[0].message


def test_advanced_computing_scope_changes_over_time(reg):
    item = {"eccn": "3A090.a", "direct_product_of": ["3E001"]}
    assert step(run(reg, item, dest="MO", on=D(2022, 12, 1)), "FDP 734.9(h)").outcome == "not_caught"
    assert step(run(reg, item, dest="MO", on=D(2023, 2, 1)), "FDP 734.9(h)").outcome == "caught"
    assert step(run(reg, item, dest="VN", on=D(2023, 6, 1)), "FDP 734.9(h)").outcome == "not_caught"
    assert step(run(reg, item, dest="VN", on=D(2024, 6, 1)), "FDP 734.9(h)").outcome == "caught"
    # Hong Kong is treated as China
    assert step(run(reg, item, dest="HK"), "FDP 734.9(h)").outcome == "caught"
    # 3E001 technology is in scope only when it is for 3A090 items: asked, not assumed
    res = run(reg, {"eccn": "3E001", "direct_product_of": ["3E001"]}, dest="CN")
    assert step(res, "FDP 734.9(h)").outcome == "unknown"
    assert "for 3A090 items" in res.findings[0].message


def test_ai_weights_rule_not_enforced_after_may_2025(reg):
    res = run(reg, {"eccn": "4E091", "plant_direct_product_of": ["4E001"]}, dest="FR", on=D(2025, 6, 1))
    assert step(res, "FDP 734.9(l)").outcome == "unknown"
    assert res.status == "unknown"


def test_less_specific_eccn_is_unknown_not_clear(reg):
    res = run(reg, {"eccn": "3B001", "plant_direct_product_of": ["3E001"]}, exporter="KR")
    assert step(res, "FDP 734.9(k)").outcome == "unknown"
    assert res.status == "unknown"
    assert "full ECCN paragraph" in res.findings[0].message


# --------------------------------------------------------------------------- exclusions


@pytest.mark.parametrize("exporter", ["JP", "NL"])
def test_japan_netherlands_carve_out_is_review_not_clear(reg, exporter):
    res = run(reg, {"origin": exporter, "eccn": "3B001.f.1", "plant_direct_product_of": ["3E001"]},
              exporter=exporter)
    s = step(res, "FDP 734.9(k)")
    assert s.outcome == "unknown"
    assert "equivalent-controls" in s.detail and "UNCONFIRMED" in s.detail
    assert res.status == "unknown"
    (f,) = res.findings
    assert "JUR-FDP-K" not in rule_ids(res)
    assert "equivalent-controls carve-out" in f.message and "742.4(a)(4)" in f.message
    e3 = run(reg, {"origin": exporter, "eccn": "3B993.a", "plant_direct_product_of": ["3E001"]},
             exporter=exporter, hits=[SMIC])
    assert step(e3, "FDP 734.9(e)(3)").outcome == "unknown"


def test_carve_out_does_not_cover_korea_or_taiwan(reg):
    for exporter in ("KR", "TW"):
        res = run(reg, {"origin": exporter, "eccn": "3B001.f.1", "plant_direct_product_of": ["3E001"]},
                  exporter=exporter)
        assert step(res, "FDP 734.9(k)").outcome == "caught"
        assert "JUR-FDP-K" in rule_ids(res)


def test_carve_out_confirmed_in_pack_data_excludes(tmp_path):
    """Rules are data: confirming the carve-out in the pack turns review into an exclusion."""
    text = (ROOT / "rules/us-ear/jurisdiction.yaml").read_text("utf-8")
    text = text.replace("{ref: JP, effective_from: 2024-12-02, confirmed: false}",
                        "{ref: JP, effective_from: 2024-12-02}")
    assert "{ref: JP, effective_from: 2024-12-02}" in text
    p = tmp_path / "jurisdiction.yaml"
    p.write_text(text, "utf-8")
    reg2 = load_registry([PACKS[0], p])
    res = run(reg2, {"origin": "JP", "eccn": "3B001.f.1", "plant_direct_product_of": ["3E001"],
                     "us_content_percent": 5}, exporter="JP", dest="MO")
    s = step(res, "FDP 734.9(k)")
    assert s.outcome == "excluded" and s.deciding
    assert "JUR-FDP-K" not in rule_ids(res)


def test_russia_partner_country_exclusion(reg):
    item = {"origin": "KR", "eccn": "2B991", "direct_product_of": ["2E991"]}
    res = run(reg, item, dest="RU", exporter="KR")
    s = step(res, "FDP 734.9(f)")
    assert s.outcome == "excluded" and s.deciding
    assert "Supplement No. 3 to part 746" in s.detail
    assert res.status == "not_subject"
    assert "excluded by exporting country: § 734.9(f)" in res.summary
    # Korea joined the partner list on 2022-03-04: before that the FDP rule reached it
    early = run(reg, item, dest="RU", exporter="KR", on=D(2022, 3, 1))
    assert step(early, "FDP 734.9(f)").outcome == "caught"
    # a non-partner exporter is caught
    assert "JUR-FDP-F" in rule_ids(run(reg, item, dest="BY", exporter="CN"))
    # Belarus only from 2022-03-02
    assert step(run(reg, item, dest="BY", exporter="CN", on=D(2022, 2, 28)), "FDP 734.9(f)").outcome == \
        "not_caught"


def test_russia_meu_fdp_partner_exclusion(reg):
    res = run(reg, {"origin": "DE", "eccn": "EAR99", "direct_product_of": ["2E991"]}, dest="AE", exporter="DE",
              hits=[FN3])
    assert step(res, "FDP 734.9(g)").outcome == "excluded"


def test_crimea_is_review(reg):
    res = run(reg, {"eccn": "2B991", "direct_product_of": ["2E991"]}, dest="UA", region="Crimea")
    assert step(res, "FDP 734.9(f)").outcome == "unknown"


# --------------------------------------------------------------------------- missing facts


def test_missing_direct_product_statement_names_what_it_would_change(reg):
    res = run(reg, {"eccn": "5A992.c", "direct_product_of": None, "plant_direct_product_of": None},
              hits=[HISILICON])
    assert res.status == "unknown"
    (f,) = res.findings
    assert f.rule_id == "JUR-INDETERMINATE" and f.outcome == Outcome.review
    assert "items[0].direct_product_of" in f.message
    assert "3E001" in f.message
    assert "§ 734.9(e)(1) applies because HiSilicon Technologies Co., Ltd" in f.message
    assert "footnote-1 Entity List entity" in f.message
    assert "744.11(a)(2)(i)" in f.message
    assert {e.field for e in f.evidence} >= {"items[0].direct_product_of", "items[0].plant_direct_product_of"}
    assert any(s.name == "FDP 734.9(e)(1)" for s in f.steps)
    assert any(c.ref == "15 CFR 734.9(e)(1)" for c in f.citations)


def test_missing_eccn_is_named_where_the_paragraph_needs_it(reg):
    res = run(reg, {"eccn": None, "plant_direct_product_of": ["3E001"]}, exporter="KR")
    assert step(res, "FDP 734.9(k)").outcome == "unknown"
    assert "items[0].eccn" in res.findings[0].message


def test_not_subject_never_without_facts(reg):
    """A foreign item with no statement at all is never not_subject (fail closed)."""
    res = run(reg, {"eccn": None, "us_content_percent": None, "direct_product_of": None,
                    "plant_direct_product_of": None}, dest="FR", exporter="DE")
    assert res.status == "unknown"


def test_no_jurisdiction_pack_is_unknown():
    reg0 = load_registry([PACKS[0]])
    res = run(reg0, {"eccn": "EAR99"})
    assert res.status == "unknown"
    assert res.findings[0].rule_id == "JUR-INDETERMINATE"


# --------------------------------------------------------------------------- explanation / determinism


def test_explain_default_shows_deciding_steps_and_full_shows_all(reg):
    res = run(reg, {"eccn": "5A992.c", "direct_product_of": ["3E001"]}, hits=[HISILICON])
    short = J.explain(res)
    full = J.explain(res, full=True)
    assert len(short) < len(full)
    assert any("734.9(e)(1)" in line for line in short)
    assert len(full) == len(res.steps)
    assert res.steps[-1].name == "conclusion" and res.steps[-1].deciding


def test_json_round_trip_and_determinism(reg):
    a = run(reg, {"eccn": "3B001.f.1", "plant_direct_product_of": ["3E001"]}, exporter="JP")
    b = run(reg, {"eccn": "3B001.f.1", "plant_direct_product_of": ["3E001"]}, exporter="JP")
    assert a.model_dump_json() == b.model_dump_json()
    again = J.JurisdictionResult.model_validate_json(a.model_dump_json())
    assert again == a


# --------------------------------------------------------------------------- facts the input model may add
# The procedure reads these item facts when the input model has the fields (requested from the
# lead: Item.contains_us_origin_ic, Item.us_content_eccns, Item.ns_controlled,
# Item.written_assurance). A subclass stands in for the extended model.


class ItemPlus(Item):
    contains_us_origin_ic: bool | None = None
    us_content_eccns: list[str] | None = None
    ns_controlled: bool | None = None
    written_assurance: bool | None = None


def run_plus(reg: Any, item: dict[str, Any], dest: str, exporter: str = "KR",
             on: dt.date = D(2025, 3, 1)) -> J.JurisdictionResult:
    base = {"description": "Test item", "origin": exporter, "us_content_percent": 5.0,
            "direct_product_of": [], "plant_direct_product_of": [], **item}
    it = ItemPlus(**base)
    sh = Shipment(destination=dest, items=[Item(description="placeholder")], exporter_country=exporter)
    return J.assess(it, 0, sh, resolve(dest), [], reg, on)


def test_stated_no_us_ic_resolves_the_sme_no_de_minimis_case(reg):
    res = run_plus(reg, {"eccn": "3B001.c.1.a", "contains_us_origin_ic": False}, dest="IN")
    assert res.status == "not_subject"
    res = run_plus(reg, {"eccn": "3B001.c.1.a", "contains_us_origin_ic": True}, dest="IN")
    assert res.status == "unknown"  # 734.4(a)(8) is UNCONFIRMED in the reference base: review
    assert "734.4(a)(8)" in res.findings[0].message


def test_stated_us_content_eccns_decide_the_600_series_case(reg):
    res = run_plus(reg, {"eccn": "8A609.a", "us_content_eccns": ["8A609.x"]}, dest="VE", exporter="DE")
    assert step(res, "no de minimis 734.4(a)(6)(i)").outcome == "no_de_minimis"
    assert res.status == "subject"
    res = run_plus(reg, {"eccn": "8A609.a", "us_content_eccns": ["5A992.c"]}, dest="VE", exporter="DE")
    assert res.status == "not_subject"


def test_stated_written_assurance_decides_the_ns_fdp_rule(reg):
    item = {"eccn": "2B001", "direct_product_of": ["2E001"], "ns_controlled": True}
    res = run_plus(reg, {**item, "written_assurance": True}, dest="CN", exporter="TW")
    assert step(res, "FDP 734.9(b)").outcome == "caught"
    assert res.status == "subject"
    res = run_plus(reg, {**item, "written_assurance": False}, dest="CN", exporter="TW")
    assert step(res, "FDP 734.9(b)").outcome == "not_caught"
    assert res.status == "not_subject"


def test_ns_controlled_is_read_from_the_ccl_pack_when_loaded():
    reg_ccl = load_registry([PACKS[0], ROOT / "rules/us-ear/chart/ccl.json", PACKS[1]])
    # 2B001: "NS applies to entire entry" -> only the written-assurance question stays open
    res = run(reg_ccl, {"eccn": "2B001.b", "direct_product_of": ["2E001"]}, dest="CN")
    s = step(res, "FDP 734.9(b)")
    assert s.outcome == "unknown" and "NS applies" in s.detail
    msg = res.findings[0].message
    assert "written assurance" in msg and "items[0].ns_controlled" not in msg
    # 9A005 (MT-controlled rocket systems) has no NS control on the CCL: (b) cannot reach it
    res = run(reg_ccl, {"eccn": "9A005", "direct_product_of": ["9E003"]}, dest="CN")
    assert step(res, "FDP 734.9(b)").outcome == "not_caught"
    # 3B001: NS only for the paragraphs the CCL pack lists - 3B001.p.1 is not among them
    assert step(run(reg_ccl, {"eccn": "3B001.p.1", "direct_product_of": ["3E001"]}, dest="CN"),
                "FDP 734.9(b)").outcome == "not_caught"
    # ... and an ECCN given only as 3B001 cannot be placed: unknown, not assumed
    assert "ns_controlled" in run(reg_ccl, {"eccn": "3B001", "direct_product_of": ["3E001"]},
                                  dest="CN").findings[0].message


def test_us_origin_step_memo_is_exact_and_used(reg):
    """The U.S.-origin result of step 1 is memoised per (origin as written, the date's territory interval) (issue 14): a repeat gives
    the same result as a fresh pack, whatever the item's index, destination, exporter and end use."""
    comp = J._compiled_for(reg)
    assert comp is not None
    comp[0].origin_memo.clear()
    on = dt.date(2026, 11, 1)
    first = run(reg, {"origin": "US", "eccn": "3A090.a"}, dest="CN", on=on)
    assert comp[0].origin_memo  # stored
    again = run(reg, {"origin": "US", "eccn": "5A992.c"}, dest="DE", exporter="JP", end_use="x", on=on)
    comp[0].origin_memo.clear()
    fresh = run(reg, {"origin": "US", "eccn": "5A992.c"}, dest="DE", exporter="JP", end_use="x", on=on)
    assert again.model_dump() == fresh.model_dump() == first.model_dump()
    assert again.status == "subject" and again.steps[0].name == "origin"
    foreign = run(reg, {"origin": "TW", "eccn": "5A992.c"}, dest="DE", on=on)  # not memoised: later steps read more
    assert foreign.steps[0].outcome == "foreign"


def test_us_location_step_memo_is_exact_and_used(reg):
    """Steps 1-2 of a foreign (or unstated) origin exported from the United States are memoised per (origin as
    written, exporter_country as written, the date's territory interval) (issue 14): a repeat gives the same result as a fresh pack,
    whatever the item's ECCN, destination, end use and party hits; a caller extending the result's lists
    does not change the next one; an item abroad is not memoised (later steps read more)."""
    comp = J._compiled_for(reg)
    assert comp is not None
    memo = comp[0].location_memo
    memo.clear()
    on = dt.date(2026, 11, 1)
    first = run(reg, {"origin": "TW", "eccn": "3A090.a"}, dest="CN", exporter="US", hits=[SMIC], on=on)
    tix = comp[0].territory_iv.index(on)  # keyed by the date's territory interval (tests/test_engine_intervals.py)
    assert ("TW", "US", tix) in memo and first.status == "subject"
    assert [s.name for s in first.steps] == ["origin", "location"]
    first.steps.append(first.steps[0])  # the caller's list: never the memo's
    again = run(reg, {"origin": "TW", "eccn": "5A992.c"}, dest="DE", exporter="US", end_use="x", on=on)
    memo.clear()
    fresh = run(reg, {"origin": "TW", "eccn": "5A992.c"}, dest="DE", exporter="US", end_use="x", on=on)
    assert again.model_dump() == fresh.model_dump()
    assert [s.name for s in again.steps] == ["origin", "location"] and again.findings == []
    # the key is the text as written: another spelling and an unstated exporter are their own entries
    unstated = run(reg, {"origin": None, "eccn": "EAR99"}, dest="DE", exporter=None, on=on)
    assert (None, None, tix) in memo and "not stated" in unstated.steps[1].detail
    # abroad: the de minimis and FDP steps decide, nothing is memoised for it
    n = len(memo)
    abroad = run(reg, {"origin": "TW", "eccn": "3A090.a"}, dest="CN", exporter="TW", on=on)
    assert len(memo) == n and len(abroad.steps) > 2


def test_itar_text_memo_keeps_stated_facts():
    """A description that says nothing of the ITAR is remembered (issue 14), but only for items stating
    neither ``itar`` nor ``usml_category``: ``itar: true`` on the same description still decides."""
    reg = load_registry([*PACKS, ROOT / "rules/us-ear/itar.yaml"])
    ix = getattr(reg, J._ITAR_ATTR)
    ix.plain_texts.clear()
    on = dt.date(2026, 11, 1)
    plain = run(reg, {"description": "Centrifugal pump spare parts", "eccn": "EAR99"}, dest="DE", on=on)
    assert "Centrifugal pump spare parts" in ix.plain_texts
    again = run(reg, {"description": "Centrifugal pump spare parts", "eccn": "EAR99"}, dest="DE", on=on)
    assert again.model_dump() == plain.model_dump()
    stated = run(reg, {"description": "Centrifugal pump spare parts", "eccn": "EAR99", "itar": True}, dest="DE", on=on)
    ix.plain_texts.clear()
    fresh = run(reg, {"description": "Centrifugal pump spare parts", "eccn": "EAR99", "itar": True}, dest="DE", on=on)
    assert stated.model_dump() == fresh.model_dump() != plain.model_dump()
