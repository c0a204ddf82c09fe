"""Licences held, claimed licence exceptions and the exceptions available (ecscreen.engine.licensing)."""

from __future__ import annotations

import datetime as dt

from ecscreen.domain.countries import resolve
from ecscreen.engine.chart import determine
from ecscreen.engine.licensing import apply_coverage, available_exceptions
from ecscreen.model import Finding, Item, License, Outcome

ON = dt.date(2026, 8, 1)


def screen(registry, eccn: str, dest: str, on: dt.date = ON, **kw) -> list[Finding]:
    item = Item(description="test item", eccn=eccn, **kw)
    c = resolve(dest)
    assert c is not None
    res = determine(item, 0, c, registry, on)
    return apply_coverage(res.findings, item, 0, c, registry, on)


def get(findings: list[Finding], rule_id: str) -> Finding:
    return next(f for f in findings if f.rule_id == rule_id)


# --------------------------------------------------------------------------- licences held


def test_unexpired_licence_naming_the_destination_covers(registry) -> None:
    fs = screen(registry, "3A002.b", "CN",
                licenses=[License(id="D123456", destinations=["China"], expires=dt.date(2027, 1, 31))])
    f = get(fs, "CHART-3A002-NS")
    assert f.outcome == Outcome.license_required
    assert f.covered_by is not None and f.covered_by.kind == "license" and f.covered_by.ref == "D123456"
    assert "2027-01-31" in f.covered_by.detail and not f.blocking


def test_expired_licence_does_not_cover_and_says_so(registry) -> None:
    fs = screen(registry, "3A002.b", "CN",
                licenses=[License(id="D1", destinations=["CN"], expires=dt.date(2026, 7, 31))])
    f = get(fs, "CHART-3A002-NS")
    assert f.covered_by is None
    assert any("D1 expired on 2026-07-31" in n for n in f.notes)


def test_licence_for_another_destination_or_eccn_does_not_cover(registry) -> None:
    fs = screen(registry, "3A002.b", "CN", licenses=[License(id="D2", destinations=["VN"])])
    f = get(fs, "CHART-3A002-NS")
    assert f.covered_by is None and any("D2 names VN" in n for n in f.notes)
    fs = screen(registry, "3A002.b", "CN", licenses=[License(id="D3", destinations=["CN"], eccns=["3A001"])])
    assert get(fs, "CHART-3A002-NS").covered_by is None
    fs = screen(registry, "3A002.b", "CN", licenses=[License(id="D4", destinations=["CN"], eccns=["3A002"])])
    assert get(fs, "CHART-3A002-NS").covered_by is not None


def test_licence_never_covers_prohibited_or_review(registry) -> None:
    item = Item(description="x", eccn="3A002.b", licenses=[License(id="D5", destinations=["CN"])])
    cn = resolve("CN")
    assert cn is not None
    findings = [
        Finding(rule_id="X-PROHIBITED", pack_id="p", outcome=Outcome.prohibited, title="t", message="m", item_index=0),
        Finding(rule_id="X-REVIEW", pack_id="p", outcome=Outcome.review, title="t", message="m", item_index=0),
        Finding(rule_id="X-OTHER-ITEM", pack_id="p", outcome=Outcome.license_required, title="t", message="m",
                item_index=1),
    ]
    out = apply_coverage(findings, item, 0, cn, registry, ON)
    assert all(f.covered_by is None for f in out)
    assert findings[0].covered_by is None  # inputs are not mutated


def test_licence_of_another_regime_covers_only_its_findings(registry) -> None:
    item = Item(description="x", eccn="3A002.b",
                licenses=[License(id="JP-1", destinations=["CN"], jurisdiction="JP-FEFTA")])
    cn = resolve("CN")
    assert cn is not None
    findings = [Finding(rule_id="JP-RULE", pack_id="p", outcome=Outcome.license_required, title="t", message="m",
                        item_index=0, jurisdiction="JP-FEFTA"),
                Finding(rule_id="CHART-3A002-NS", pack_id="p", outcome=Outcome.license_required, title="t",
                        message="m", item_index=0)]
    out = apply_coverage(findings, item, 0, cn, registry, ON)
    assert out[0].covered_by is not None and out[1].covered_by is None


# --------------------------------------------------------------------------- licence exceptions


def test_claimed_eligible_gbs_covers_and_lists_what_was_checked(registry) -> None:
    # 6B002: NS 2, GBS Yes; Egypt has an X in NS 2 and is in Country Group B
    fs = screen(registry, "6B002", "EG", license_exception="GBS")
    f = get(fs, "CHART-6B002-NS")
    assert f.outcome == Outcome.license_required
    assert f.covered_by is not None and f.covered_by.kind == "license_exception" and f.covered_by.ref == "GBS"
    assert "15 CFR 740.4" in f.covered_by.detail and "EG is in group:B" in f.covered_by.detail
    assert not any(x.rule_id.endswith("-LE-GBS") for x in fs)


def test_claimed_gbs_to_a_destination_outside_group_b_is_review(registry) -> None:
    fs = screen(registry, "6B002", "CN", license_exception="License Exception GBS")
    f = get(fs, "CHART-6B002-NS")
    assert f.covered_by is None and any("not confirmed" in n for n in f.notes)
    le = get(fs, "CHART-6B002-LE-GBS")
    assert le.outcome == Outcome.review and "CN is not in group:B" in le.message
    assert le.evidence[0].field == "items[0].license_exception"


def test_lvs_value_limit(registry) -> None:
    # 6B002: LVS $5000
    ok = screen(registry, "6B002", "EG", license_exception="LVS", value_usd=4000)
    assert get(ok, "CHART-6B002-NS").covered_by is not None
    assert "$5000" in get(ok, "CHART-6B002-NS").covered_by.detail
    over = screen(registry, "6B002", "EG", license_exception="LVS", value_usd=6000)
    assert get(over, "CHART-6B002-NS").covered_by is None
    assert "exceeds the limit of $5000" in get(over, "CHART-6B002-LE-LVS").message
    missing = screen(registry, "6B002", "EG", license_exception="LVS")
    assert get(missing, "CHART-6B002-NS").covered_by is None
    assert "value_usd" in get(missing, "CHART-6B002-LE-LVS").message


def test_exception_not_available_for_a_reason_leaves_that_requirement(registry) -> None:
    # 1C010: LVS $1500, N/A for NP; NP 1 applies to .a/.b/.e.1 meeting 1C210 criteria (review),
    # NS 2 for the entry. A chart-covered NS requirement does not carry NP.
    fs = screen(registry, "1C010.a", "EG", license_exception="LVS", value_usd=100)
    assert get(fs, "CHART-1C010-NS").covered_by is not None
    assert get(fs, "CHART-1C010-NP").outcome == Outcome.review  # review findings are never covered
    assert get(fs, "CHART-1C010-NP").covered_by is None


def test_nac_and_aca_for_advanced_computing(registry) -> None:
    fs = screen(registry, "3A090.a", "CN", license_exception="NAC")
    f = get(fs, "CHART-3A090-RS")
    assert f.covered_by is not None and f.covered_by.ref == "NAC"
    assert "notification to BIS" in f.covered_by.detail  # what the tool could not check is said
    fs = screen(registry, "3A090.b", "VN", license_exception="ACA")
    assert get(fs, "CHART-3A090-RS").covered_by is not None
    fs = screen(registry, "3A090.b", "CN", license_exception="ACA")  # ACA excludes Macau and D:5
    assert get(fs, "CHART-3A090-RS").covered_by is None
    assert get(fs, "CHART-3A090-LE-ACA").outcome == Outcome.review


def test_exceptions_never_cover_embargo_or_all_destination_requirements(registry) -> None:
    fs = screen(registry, "0A983", "CA", license_exception="GBS")
    assert get(fs, "CHART-0A983-ALL").covered_by is None
    assert "738.3(a)(1)" in get(fs, "CHART-0A983-LE-GBS").message
    fs = screen(registry, "6B002", "IR", license_exception="GBS")
    assert get(fs, "CHART-6B002-EMBARGO").covered_by is None


def test_unknown_exception_symbol_is_review(registry) -> None:
    fs = screen(registry, "6B002", "EG", license_exception="XYZ")
    le = get(fs, "CHART-6B002-LE-XYZ")
    assert le.outcome == Outcome.review and "not a licence exception" in le.message


def test_exception_does_not_cover_findings_of_other_rules(registry) -> None:
    item = Item(description="x", eccn="6B002", license_exception="GBS")
    eg = resolve("EG")
    assert eg is not None
    other = Finding(rule_id="EAR-744-X", pack_id="p", outcome=Outcome.license_required, title="t", message="m",
                    item_index=0)
    out = apply_coverage([other], item, 0, eg, registry, ON)
    assert out[0].covered_by is None and any("not applied to EAR-744-X" in n for n in out[0].notes)


# --------------------------------------------------------------------------- available exceptions


def test_available_exceptions_filtered_by_destination_and_restrictions(registry) -> None:
    eg, cn = resolve("EG"), resolve("CN")
    assert eg is not None and cn is not None
    opts = {o.symbol: o for o in available_exceptions("6B002", eg, registry, ON)}
    assert opts["GBS"].status == "eligible" and opts["LVS"].status == "eligible"
    assert opts["LVS"].value_limit_usd == 5000
    assert opts["GOV"].status == "conditional"  # depends on the transaction
    assert opts["NAC"].status == "ineligible"
    assert len(opts) == 28  # 27 sections of part 740, § 740.8 has two symbols
    opts = {o.symbol: o for o in available_exceptions("6B002", cn, registry, ON)}
    assert opts["GBS"].status == "ineligible"
    # 600-series / 9x515 to D:5: GOV only (§ 740.2(a)(12))
    opts = {o.symbol: o for o in available_exceptions("9A515.a", cn, registry, ON)}
    assert opts["LVS"].status == "ineligible" and "740.2(a)(12)" in opts["LVS"].summary
    assert opts["GOV"].status == "conditional"
    # 3A090.a: NAC to China
    opts = {o.symbol: o for o in available_exceptions("3A090.a", cn, registry, ON)}
    assert opts["NAC"].status == "eligible" and opts["ACA"].status == "ineligible"
    assert opts["AIA"].status != "eligible"  # AI Diffusion exceptions: not enforced, never confirmed
    # 900-series IEC: destination list is outside the CFR
    de = resolve("DE")
    assert de is not None
    opts = {o.symbol: o for o in available_exceptions("3B001.c.1.a", de, registry, ON)}
    assert opts["IEC"].status == "conditional"
