"""Hand-written cases for the Commerce Country Chart determination (ecscreen.engine.chart)."""

from __future__ import annotations

import datetime as dt

import pytest

from ecscreen.cli.explain import explain
from ecscreen.domain.countries import resolve
from ecscreen.engine.chart import Scope as ChartScope
from ecscreen.engine.chart import chart_index, determine, para_under, scope_applies
from ecscreen.errors import UsageError
from ecscreen.model import Item, Outcome

ON = dt.date(2026, 8, 1)


def run(registry, eccn: str | None, dest: str, on: dt.date = ON, **kw):
    item = Item(description="test item", eccn=eccn, **kw)
    c = resolve(dest)
    assert c is not None
    return determine(item, 3, c, registry, on)


def by_rule(res) -> dict[str, Outcome]:
    return {f.rule_id: f.outcome for f in res.findings}


# --------------------------------------------------------------------------- basic reading


def test_x_in_column_means_license_required_with_full_explanation(registry) -> None:
    res = run(registry, "3A002.b", "CN")
    assert by_rule(res) == {"CHART-3A002-NS": Outcome.license_required}
    f = res.findings[0]
    assert f.item_index == 3 and f.jurisdiction == "US-EAR" and f.pack_id == "us-ear-ccl"
    assert "NS 2 has an X for China" in f.message
    assert f.effective_from == dt.date(2026, 7, 23)
    refs = [c.ref for c in f.citations]
    assert "15 CFR 738.4(a)(2)" in refs and "15 CFR part 774, Supplement No. 1, ECCN 3A002" in refs
    names = [s.name for s in f.steps]
    assert names[0] == "destination row" and "NS -> NS 2" in names
    deciding = [s for s in f.steps if s.deciding]
    assert deciding and deciding[0].inputs["column"] == "NS 2"
    assert {e.field for e in f.evidence} >= {"items[3].eccn", "destination", "chart.reason"}


def test_no_x_gives_no_finding_and_a_note(registry) -> None:
    res = run(registry, "3A002.b", "DE")
    assert res.findings == []
    assert res.applied
    assert any("no X in the Commerce Country Chart (eCFR 2026-07-23)" in n and "738.4(a)(2)(ii)(B)" in n
               for n in res.notes)
    # the chain still shows the column that was read
    assert any(s.name == "NS -> NS 2" and s.outcome == "no X" for s in res.steps)


def test_5a002_to_china_and_1c351_to_egypt_are_examined(registry) -> None:
    r = by_rule(run(registry, "5A002.a", "CN"))
    assert r["CHART-5A002-NS"] == Outcome.license_required
    assert r["CHART-5A002-EI"] == Outcome.license_required  # § 742.15: all destinations except Canada
    assert "CHART-5A002-EI" not in by_rule(run(registry, "5A002.a", "CA"))
    r = by_rule(run(registry, "1C351.a", "EG"))
    # CW is stated in words outside the chart table and only for 1C351.d.15 and .d.16 (ricin, saxitoxin):
    # a pathogen of 1C351.a is outside it; the toxins need a licence for CW reasons everywhere
    assert r == {"CHART-1C351-CB": Outcome.license_required}
    assert by_rule(run(registry, "1C351.d.15", "CA"))["CHART-1C351-CW"] == Outcome.license_required
    assert by_rule(run(registry, "1C351", "CA"))["CHART-1C351-CW"] == Outcome.review  # which paragraph?


# --------------------------------------------------------------------------- paragraphs


def test_paragraph_dependent_entry_is_decided_at_the_paragraph(registry) -> None:
    # 3B001: NS 2 for .a.1-.a.3, .b, .e...; NS worldwide (§ 742.4(a)(5)) for .c.1.a, .c.1.c, .q
    assert by_rule(run(registry, "3B001.a.1", "DE")) == {}
    assert by_rule(run(registry, "3B001.a.1", "CN"))["CHART-3B001-NS"] == Outcome.license_required
    r = by_rule(run(registry, "3B001.c.1.a", "DE"))
    assert r["CHART-3B001-NS"] == Outcome.license_required and r["CHART-3B001-RS"] == Outcome.license_required


def test_entry_only_when_the_answer_depends_on_the_paragraph_is_review_naming_them(registry) -> None:
    res = run(registry, "3B001", "DE")
    f = next(f for f in res.findings if f.rule_id == "CHART-3B001-NS")
    assert f.outcome == Outcome.review
    assert ".c.1.a" in f.message and ".q" in f.message and "state the paragraph" in f.message


def test_entry_only_when_every_paragraph_agrees_is_decided(registry) -> None:
    # 3A002 has NS 2 for the entire entry: no paragraph needed
    assert by_rule(run(registry, "3A002", "CN"))["CHART-3A002-NS"] == Outcome.license_required


def test_paragraph_with_words_condition_is_review(registry) -> None:
    # NS 1 applies to 3A001.b.2 MMIC amplifiers "except ... civil telecommunications"
    r = by_rule(run(registry, "3A001.b.2", "DE"))
    assert r["CHART-3A001-NS"] == Outcome.review
    # outside the named paragraphs NS 1 does not apply; NS 2 has no X for Germany
    assert "CHART-3A001-NS" not in by_rule(run(registry, "3A001.h", "DE"))


def test_scope_reading_is_three_valued() -> None:
    assert para_under("b.2.a", "b.2") is True
    assert para_under("b", "b.2") is None
    assert para_under("c", "b.2") is False
    assert para_under("", "b.2") is None
    s = ChartScope(kind="except", paragraphs=["y"])
    assert scope_applies(s, "a") is True and scope_applies(s, "y.1") is False and scope_applies(s, "") is None
    c = ChartScope(kind="conditional", condition="shotguns with a barrel length less than 18 inches")
    assert scope_applies(c, "a") is None


def test_unknown_paragraph_is_review(registry) -> None:
    r = by_rule(run(registry, "3A001.q", "CN"))
    assert r["CHART-3A001-PARAGRAPH"] == Outcome.review


# --------------------------------------------------------------------------- .y, 600-series, 9x515


def test_y_paragraphs_and_600_series(registry) -> None:
    # 9A515.y: RS to China, Russia or Venezuela only (§ 742.6(a)(7)); NS/RS columns exclude .y
    assert by_rule(run(registry, "9A515.y", "CN"))["CHART-9A515-RS"] == Outcome.license_required
    assert "CHART-9A515-RS" not in by_rule(run(registry, "9A515.y", "FR"))
    assert "CHART-9A515-NS" not in by_rule(run(registry, "9A515.y", "FR"))
    assert by_rule(run(registry, "9A515.a", "FR"))["CHART-9A515-NS"] == Outcome.license_required
    # 0A501.y is outside NS/RS/FC
    assert by_rule(run(registry, "0A501.y", "BR")) == {}
    r = by_rule(run(registry, "0A501.a", "BR"))
    assert r["CHART-0A501-FC"] == Outcome.license_required


# --------------------------------------------------------------------------- destinations


@pytest.mark.parametrize("dest,section", [("IR", "15 CFR 746.7"), ("CU", "15 CFR 746.2"),
                                          ("KP", "15 CFR 746.4"), ("SY", "15 CFR 746.9")])
def test_embargoed_destinations_point_to_part_746(registry, dest: str, section: str) -> None:
    res = run(registry, "3A991.a", dest)
    f = next(f for f in res.findings if f.rule_id == "CHART-3A991-EMBARGO")
    assert f.outcome == Outcome.license_required
    assert section in [c.ref for c in f.citations]
    assert "part 746" in f.message or "746" in f.message


def test_hong_kong_inherits_the_china_row(registry) -> None:
    res = run(registry, "3A002.b", "Hong Kong")
    assert by_rule(res) == {"CHART-3A002-NS": Outcome.license_required}
    terr = [s for s in res.steps if s.name == "territory"]
    assert terr and terr[0].outcome == "HK -> CN"
    assert any(c.ref == "85 FR 83788" for c in terr[0].citations)


def test_cayman_islands_follow_the_united_kingdom(registry) -> None:
    res = run(registry, "0A501.a", "KY")
    assert by_rule(res) == {"CHART-0A501-FN10": Outcome.license_required}  # UK row, footnote 10
    assert any(s.name == "territory" and s.outcome == "KY -> GB" for s in res.steps)


def test_crimea_uses_the_ukraine_row_and_its_footnote(registry) -> None:
    r = by_rule(run(registry, "3A991.a", "Crimea"))
    assert r["CHART-3A991-FN9"] == Outcome.license_required
    assert by_rule(run(registry, "3A991.a", "UA")) == {}
    # the § 746.6 exception for certain communications software makes 5D992.c a review
    assert by_rule(run(registry, "5D992.c", "UA-43"))["CHART-5D992-FN9"] == Outcome.review


def test_destination_without_a_row_is_review(registry) -> None:
    assert by_rule(run(registry, "3A002.b", "US")) == {"CHART-3A002-NOROW": Outcome.review}


def test_footnotes_that_require_a_licence(registry) -> None:
    assert by_rule(run(registry, "0A501.a", "GB")) == {"CHART-0A501-FN10": Outcome.license_required}
    assert by_rule(run(registry, "0A501", "GB")) == {"CHART-0A501-FN10": Outcome.review}  # .y excepted
    assert by_rule(run(registry, "6A003.b.4.b", "IN"))["CHART-6A003-FN7"] == Outcome.license_required
    assert by_rule(run(registry, "3A991.a", "RU"))["CHART-3A991-FN6"] == Outcome.license_required
    assert by_rule(run(registry, "0A919.a", "DE"))["CHART-0A919-FN3"] == Outcome.review
    # informational footnotes become steps, not findings
    res = run(registry, "3A002.b", "DE")
    assert any(s.name == "footnote 3" and s.outcome == "note" for s in res.steps)


def test_un_controls_need_a_licence_to_the_746_1_b_2_countries(registry) -> None:
    # 15 CFR 746.1(b)(2)-(3): a licence for UN-controlled items to the countries under UN arms embargoes
    # (the destination list UN:arms-embargo), decided instead of review
    r = by_rule(run(registry, "0A501.a", "IQ"))
    assert r["CHART-0A501-UN"] == Outcome.license_required and r["CHART-0A501-NS"] == Outcome.license_required
    assert "CHART-0A501-UN" not in by_rule(run(registry, "0A501.a", "BR"))
    # the Central African Republic is named in 746.1(b)(2) although the chart's footnote 1 rows omit it
    assert by_rule(run(registry, "0A501.a", "CF"))["CHART-0A501-UN"] == Outcome.license_required


# --------------------------------------------------------------------------- all destinations, dates


def test_entries_licensed_to_all_destinations(registry) -> None:
    res = run(registry, "0A983", "CA")
    assert by_rule(res) == {"CHART-0A983-ALL": Outcome.license_required}
    assert "15 CFR 738.3(a)(1)" in [c.ref for c in res.findings[0].citations]
    assert "no licence exception" in res.findings[0].message
    assert by_rule(run(registry, "5A001.f.1", "GB"))["CHART-5A001-ALL"] == Outcome.license_required
    assert by_rule(run(registry, "5A001", "GB"))["CHART-5A001-ALL"] == Outcome.review
    assert "CHART-5A001-ALL" not in by_rule(run(registry, "5A001.a", "GB"))


def test_chart_is_not_applied_before_its_date(registry) -> None:
    res = run(registry, "3A002.b", "CN", on=dt.date(2026, 7, 22))
    assert res.findings == [] and not res.applied
    assert any("Chart not applied" in n and "2026-07-23" in n for n in res.notes)
    assert by_rule(run(registry, "3A002.b", "CN", on=dt.date(2026, 7, 23)))


def test_ai_diffusion_enforced_scope_decides_and_both_readings_are_stated(registry) -> None:
    # issue 13: where the CFR text (AI Diffusion, 90 FR 4544) and BIS's non-enforcement statement differ,
    # the enforced scope decides by default (Germany: no licence) instead of a blanket review
    res = run(registry, "3A090.a", "DE")
    assert "CHART-3A090-RS" not in by_rule(res)
    note = next(n for n in res.notes if "CFR text: licence required" in n)
    assert "licence not required" in note and "2025-05-13" in note and "decided by the enforced scope" in note
    # --policy cfr-text: the codified text decides, the finding states both readings and cites both
    from ecscreen.domain import policy

    policy.set_current("cfr-text")
    try:
        f = next(f for f in run(registry, "3A090.a", "DE").findings if f.rule_id == "CHART-3A090-RS")
    finally:
        policy.set_current("enforced")
    assert f.outcome == Outcome.license_required
    assert any("decided by the CFR text" in n for n in f.notes)
    refs = [c.ref for c in f.citations]
    assert "90 FR 4544" in refs and any("2025-05-13" in r for r in refs)
    # both readings agree for China: licence required
    assert by_rule(run(registry, "3A090.a", "CN"))["CHART-3A090-RS"] == Outcome.license_required
    assert "CHART-4E091-RS" not in by_rule(run(registry, "4E091", "DE"))  # 4E091: not enforced


# --------------------------------------------------------------------------- ECCN input


def test_ear99_has_no_chart_requirement(registry) -> None:
    res = run(registry, "ear99", "CN")
    assert res.findings == [] and res.errors == []
    assert any("EAR99" in n for n in res.notes)


def test_unknown_eccn_is_an_input_error_or_review_with_suggestion(registry) -> None:
    res = run(registry, "3A019", "CN")
    f = res.findings[0]
    assert f.outcome == Outcome.review and "did you mean" in f.message and "3A" in f.message
    res = run(registry, "3AOO1", "CN")
    assert res.findings[0].rule_id == "CHART-ECCN-TYPO" and "3A001" in res.findings[0].message
    res = run(registry, "banana", "CN")
    assert res.findings == [] and res.errors[0].field == "items[3].eccn"
    idx = chart_index(registry)
    assert idx.ccl is not None
    far = next(f"{c}{g}{n:03d}" for c in "0123456789" for g in "ABCDE" for n in range(1000)
               if run(registry, f"{c}{g}{n:03d}", "CN").errors)
    assert far not in idx.ccl.entries


def test_empty_chart_entries_are_review(registry) -> None:
    r = by_rule(run(registry, "9A005", "FR"))
    assert r == {"CHART-9A005-NOCHART": Outcome.review}


def test_lookups_are_built_once_at_load(registry) -> None:
    idx = chart_index(registry)
    assert idx.ccl is not None and idx.chart is not None and idx.exceptions is not None
    assert len(idx.ccl.entries) == 633 and len(idx.marks) == 196
    assert idx.marks["CA"] == frozenset({"CB 1", "FC 1"})
    assert chart_index(registry) is idx


# --------------------------------------------------------------------------- explain


def test_explain_prints_the_chain(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    explain("3A002.b", "Hong Kong", "2026-08-01")
    out = capsys.readouterr().out
    assert "3A002.b to Hong Kong (HK)" in out
    assert "HK -> CN" in out and "NS 2" in out and "license_required" in out
    assert "Licence exceptions" in out and "GBS" in out


def test_explain_before_the_chart_date_says_so(capsys) -> None:
    explain("3A002.b", "CN", "2026-01-01")
    assert "Chart not applied" in capsys.readouterr().out


def test_explain_rejects_bad_input() -> None:
    with pytest.raises(UsageError):
        explain("3A002", "Atlantis", "2026-08-01")
    with pytest.raises(UsageError):
        explain("banana", "CN", "2026-08-01")
    with pytest.raises(UsageError):
        explain("3A002", "CN", "yesterday")


# --------------------------------------------------------------------------- reading the CCL precisely (issue 13)


def test_scope_excepted_sub_paragraphs_and_worded_exceptions() -> None:
    """5A001 NS 2: ".b (except .b.5), .c ..."; 6A002 RS: "a.3 (except a.3.e for lead selenide based FPAs)"."""
    ns2 = ChartScope(kind="paragraphs", paragraphs=["b", "c", "d", "f", "g", "j"], excluded=["b.5", "f.3"])
    assert scope_applies(ns2, "c") is True and scope_applies(ns2, "b.2") is True
    assert scope_applies(ns2, "b.5") is False and scope_applies(ns2, "f.3.a") is False
    assert scope_applies(ns2, "b") is None  # .b.5 is outside: which sub-paragraph matters
    rs = ChartScope(kind="paragraphs", paragraphs=["a.1", "a.2", "a.3", "c", "f"], excluded_if=["a.3.e"])
    assert scope_applies(rs, "a.2") is True and scope_applies(rs, "a.3.a") is True
    assert scope_applies(rs, "a.3.e") is None and scope_applies(rs, "a.3") is None
    assert scope_applies(rs, "b") is False


def test_listed_sibling_paragraphs_are_within_their_reason(registry) -> None:
    """Regression: "6A002.a.1, a.2, a.3 ..., .c, and .f" was read as .a.1 only, so an image intensifier tube
    (6A002.a.2) to Germany came out clear although RS 1 has an X; 5A001.c was outside NS the same way."""
    assert by_rule(run(registry, "6A002.a.2", "DE")) == {"CHART-6A002-RS": Outcome.license_required}
    assert by_rule(run(registry, "5A001.c", "BR"))["CHART-5A001-NS"] == Outcome.license_required
    assert by_rule(run(registry, "6A003.a.4", "IN")) == {"CHART-6A003-NP": Outcome.license_required}


def test_stated_parameters_decide_the_thermal_camera_rs_columns(registry) -> None:
    small = {"frame_rate_hz": 30, "fpa_elements": 81920, "embedded_in_civil_product": 0}
    assert by_rule(run(registry, "6A003.b.4.b", "DE", parameters=small)) == {}
    big = dict(small, fpa_elements=327680)
    res = run(registry, "6A003.b.4.b", "DE", parameters=big)
    assert by_rule(res) == {"CHART-6A003-RS": Outcome.license_required}
    assert "fpa_elements > 111000 (stated 327680)" in res.findings[0].message
    res = run(registry, "6A003.b.4.b", "DE", parameters={"frame_rate_hz": 30, "fpa_elements": 81920})
    assert by_rule(res) == {"CHART-6A003-RS": Outcome.review}
    assert "items[].parameters.embedded_in_civil_product" in res.findings[0].message
    # both RS columns have an X for China: a licence whichever applies, no parameter needed
    assert by_rule(run(registry, "6A003.b.4.b", "CN"))["CHART-6A003-RS"] == Outcome.license_required


def test_note_3a_places_a_9_hz_camera_in_6a993(registry) -> None:
    res = run(registry, "6A003.b.4.b", "KP", parameters={"frame_rate_hz": 9})
    assert set(by_rule(res)) == {"CHART-6A993-EMBARGO"}
    assert "Note 3.a to 6A003.b.4.b" in res.findings[0].notes[0] and "6A993.a" in res.findings[0].notes[0]
    assert res.steps[0].name == "outside the paragraph"
    assert by_rule(run(registry, "6A003.b.4.b", "BR", parameters={"frame_rate_hz": 9})) == {}
    assert "CHART-6A003-NS" in by_rule(run(registry, "6A003.b.4.b", "BR", parameters={"frame_rate_hz": 10}))


def test_thermal_camera_footnotes_concern_6a003_b4_only(registry) -> None:
    assert by_rule(run(registry, "6A003.a.3", "AT")) == {}
    assert by_rule(run(registry, "6A003.b.4.b", "AT", parameters={
        "frame_rate_hz": 30, "fpa_elements": 81920, "embedded_in_civil_product": 0})) == {
        "CHART-6A003-FN4": Outcome.review}
    assert by_rule(run(registry, "6A003", "AT"))["CHART-6A003-FN4"] == Outcome.review  # which camera?


def test_stated_parameters_decide_a_worded_scope_and_a_footnote(registry) -> None:
    """0A502: NS/RS/AT apply to shotguns with a barrel shorter than 18 inches (a scope in words, no
    paragraphs); footnote 10 (United Kingdom, Australia) names the same condition."""
    assert by_rule(run(registry, "0A502", "DE", parameters={"barrel_length_in": 28})) == {}
    assert by_rule(run(registry, "0A502", "DE", parameters={"barrel_length_in": 14})) == {
        "CHART-0A502-NS": Outcome.license_required, "CHART-0A502-RS": Outcome.license_required}
    assert by_rule(run(registry, "0A502", "DE"))["CHART-0A502-NS"] == Outcome.review
    assert by_rule(run(registry, "0A502", "GB", parameters={"barrel_length_in": 14})) == {
        "CHART-0A502-FN10": Outcome.license_required}
    assert by_rule(run(registry, "0A502", "GB", parameters={"barrel_length_in": 18})) == {}
    res = run(registry, "0A502", "GB")
    assert by_rule(res) == {"CHART-0A502-FN10": Outcome.review}
    assert "items[].parameters.barrel_length_in" in res.findings[0].message


def test_a_stray_space_in_a_paragraph_name_is_read(registry) -> None:
    """Regression: "NS applies to entire entry, except 8A620. b and .y" was a condition in words (review for
    every 8A620 item); it is the entire entry except .b and .y."""
    assert by_rule(run(registry, "8A620.a", "BR"))["CHART-8A620-NS"] == Outcome.license_required
    assert "CHART-8A620-NS" not in by_rule(run(registry, "8A620.b", "BR"))


def test_1c010_np_names_its_three_paragraphs(registry) -> None:
    """Regression: the eCFR leaves a parenthesis open in "1C010.a (aramid ..., b (carbon ...), and e.1", so
    carbon fibres (.b) were read as outside NP; the words (1C210 criteria) make it review."""
    assert by_rule(run(registry, "1C010.b", "IN"))["CHART-1C010-NP"] == Outcome.review
    assert "CHART-1C010-NP" not in by_rule(run(registry, "1C010.c", "IN"))


def test_1b001_mt_excepts_e_and_f(registry) -> None:
    """Regression: "MT applies to entire entry, except 1B001.d.4, e and f. Note: MT applies to equipment in
    1B001.d that meet ... 1B101" read .e and .f as within MT (licence required); they are excepted."""
    assert "CHART-1B001-MT" not in by_rule(run(registry, "1B001.e", "DE"))
    assert by_rule(run(registry, "1B001.d.1", "DE"))["CHART-1B001-MT"] == Outcome.review  # the note's words
    assert by_rule(run(registry, "1B001.b", "DE"))["CHART-1B001-MT"] == Outcome.license_required


def test_a_note_must_place_items_in_an_entry_that_exists(tmp_path) -> None:
    """The ECCN an entry's note moves an item to is read once: it must be on the CCL (else the pack is refused)."""
    import json
    from pathlib import Path

    from ecscreen.errors import PackError
    from ecscreen.packs.registry import load_registry

    root = Path(__file__).resolve().parents[1]
    real = json.loads((root / "rules/us-ear/chart/ccl.json").read_text("utf-8"))
    entry = dict(real["entries"]["6A003"])
    pack = {**real, "entries": {"6A003": entry}}
    (tmp_path / "ccl.json").write_text(json.dumps(pack), "utf-8")
    with pytest.raises(PackError, match="6A993.a, which is not on the CCL"):
        load_registry([tmp_path])
    pack["entries"]["6A993"] = real["entries"]["6A993"]
    (tmp_path / "ccl.json").write_text(json.dumps(pack), "utf-8")
    assert chart_index(load_registry([tmp_path])).ccl is not None
