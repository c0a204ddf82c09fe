"""scripts/convert_chart.py: the parsing the generated packs rest on, and the chart pack is current."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "chart"


@pytest.fixture(scope="module")
def conv():
    spec = importlib.util.spec_from_file_location("convert_chart", ROOT / "scripts" / "convert_chart.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_paragraph_lists(conv) -> None:
    assert conv.parse_para_list("3B001.a.1 to a.3, b, e, f.2 to f.4, g to j", "3B001") == [
        "a.1", "a.2", "a.3", "b", "e", "f.2", "f.3", "f.4", "g", "h", "i", "j"]
    assert conv.parse_para_list("items controlled by 1C351.d.15 and .16", "1C351") == ["d.15", "d.16"]
    assert conv.parse_para_list("paragraphs .a, .d, and .x", "0A505") == ["a", "d", "x"]
    # words or other ECCNs are not a paragraph list
    assert conv.parse_para_list("shotguns with a barrel length less than 18 inches", "0A502") is None
    assert conv.parse_para_list("0A509.a for items for ECCN 0A502", "0A509") is None


def test_scopes(conv) -> None:
    assert conv.parse_scope("NS applies to entire entry", "3A002") == ("NS", {"kind": "entire"})
    assert conv.parse_scope("RS applies to entire entry, except 0A501.y", "0A501") == (
        "RS", {"kind": "except", "paragraphs": ["y"]})
    reason, scope = conv.parse_scope(
        "NP applies to pulse discharge capacitors in 3A001.e.2 and superconducting solenoidal electromagnets in "
        "3A001.e.3 that meet or exceed the technical parameters in 3A201.a and 3A201.b, respectively; and 3A001.z.3",
        "3A001")
    assert reason == "NP" and scope["kind"] == "paragraphs" and scope["paragraphs"] == ["e.2", "e.3", "z.3"]
    assert scope["condition"]
    reason, scope = conv.parse_scope("MT applies to items that meet or exceed the parameters of ECCN 1C101", "1C001")
    assert reason == "MT" and scope["kind"] == "conditional"
    assert conv.parse_scope("Russian industry sector sanctions apply to entire entry", "0A998") == (
        "RISS", {"kind": "entire"})


def test_paragraph_lists_in_words(conv) -> None:
    """Regression: siblings listed after an ECCN-prefixed paragraph were dropped ("6A003.a.3 or a.4",
    "5A001.b (except .b.5), .c, .d"), so items in them were read as outside the reason for control."""
    assert conv.para_lists("cameras controlled by 6A003.a.3 or a.4 and to plug-ins in 6A003.a.6 for cameras "
                           "controlled by 6A003.a.3 or a.4", "6A003")[0] == ["a.3", "a.4", "a.6"]
    assert conv.para_lists("5A001.b (except .b.5), .c, .d, .f (except f.3), .g, and .j", "5A001")[:3] == (
        ["b", "c", "d", "f", "g", "j"], ["b.5", "f.3"], [])
    paras, excepted, worded, _ = conv.para_lists(
        "6A002.a.1, a.2, a.3 (except a.3.d.2.a and a.3.e for lead selenide based focal plane arrays (FPAs)), .c, "
        "and .f.", "6A002")
    assert (paras, excepted, worded) == (["a.1", "a.2", "a.3", "c", "f"], [], ["a.3.d.2.a", "a.3.e"])
    assert conv.para_lists("entire entry, except 1B001.d.4, e and f. Note: MT applies", "1B001")[0] == [
        "d.4", "e", "f"]
    # "a frame rate": the English article is not paragraph .a
    assert conv.para_lists("6A003.b.4.b that have a frame rate greater than 60 Hz", "6A003")[0] == ["b.4.b"]


def test_worded_scopes(conv) -> None:
    assert conv.parse_scope("NS applies to 5A001.b (except .b.5), .c, .d, .f (except f.3), .g, and .j", "5A001") == (
        "NS", {"kind": "paragraphs", "paragraphs": ["b", "c", "d", "f", "g", "j"], "excluded": ["b.5", "f.3"]})
    reason, scope = conv.parse_scope("NP applies to 1C002.b.3 or b.4 if they exceed the parameters stated in 1C202",
                                     "1C002")
    assert scope["paragraphs"] == ["b.3", "b.4"] and scope["condition"]
    assert conv.parse_scope("CW applies to entire entry. A license is required for CW reasons to CWC non-States "
                            "Parties", "1E355") == ("CW", {"kind": "entire"})
    assert conv.parse_scope("NS applies to entire entry, except 8A620. b and .y", "8A620") == (
        "NS", {"kind": "except", "paragraphs": ["b", "y"]})


def test_cw_is_read_from_the_entry_sentence(conv) -> None:
    entry = {"eccn": "1C350", "items": [{"kind": "text", "paragraph": None, "depth": 0,
                                          "text": "CW applies to 1C350.b and .c. The Commerce Country Chart is not "
                                                  "designed to determine licensing requirements"}]}
    ctl = conv.worded_controls(entry, "CW")
    assert [c["scope"]["paragraphs"] for c in ctl] == [["b"], ["c"]]
    assert [c["target"]["outcome"] for c in ctl] == ["license_required", "review"]  # .c: End-Use Certificate
    entry["items"][0]["text"] = "CW applies to 1C350.b. The Commerce Country Chart"
    with pytest.raises(SystemExit):  # the curated paragraphs must be the entry's own
        conv.worded_controls(entry, "CW")


def test_cw_1c355_entire_entry_sentence(conv) -> None:
    """Regression (issue 13): 1C355 has no Country Chart table, so its CW control was dropped and every
    1C355 item was a 'names no Country Chart column' review; the entry's sentence is read instead."""
    text = ("CW applies to entire entry. The Commerce Country Chart is not designed to determine licensing "
            "requirements for items controlled for CW reasons. A license is required to export or reexport CWC "
            "Schedule 2 chemicals and mixtures identified in 1C355.a to States not Party to the CWC (destinations "
            "not listed in Supplement No. 2 to part 745 of the EAR). A license is required to export CWC Schedule 3 "
            "chemicals and mixtures identified in 1C355.b to States not Party to the CWC, unless an End Use "
            "Certificate issued by the government of the importing country is obtained by the exporter, prior to "
            "export.")
    entry = {"eccn": "1C355", "items": [{"kind": "text", "paragraph": None, "depth": 0, "text": text}]}
    ctl = conv.worded_controls(entry, "CW")
    assert [c["scope"]["paragraphs"] for c in ctl] == [["a"], ["b"]]
    assert [c["target"]["outcome"] for c in ctl] == ["license_required", "review"]
    assert all(c["target"]["destinations"] == [{"include": ["group:CWC:non-party"], "exclude": []}] for c in ctl)
    entry["items"][0]["text"] = text.replace("identified in 1C355.b", "identified in 1C355.c")
    with pytest.raises(SystemExit):  # the curated words must be in the entry's sentence
        conv.worded_controls(entry, "CW")


def test_targets(conv) -> None:
    assert conv.parse_target("NS Column 2.", "NS", []) == {"kind": "column", "column": "NS 2"}
    assert conv.parse_target("Column 1.", "AT", [])["column"] == "AT 1"
    t = conv.parse_target("To or within any destination worldwide. See § 742.6(a)(6)(iii)(A) of the EAR.", "RS", [])
    assert t["kind"] == "destinations" and t["alternative"]["destinations"]
    assert [c["ref"] for c in t["citations"]] == ["15 CFR 742.6(a)(6)(iii)(A)"]
    t = conv.parse_target("See § 746.1(b) for UN controls.", "UN", ["IQ", "KP"])
    assert t["outcome"] == "license_required"
    assert t["destinations"] == [{"include": ["group:UN:arms-embargo"], "exclude": []}]
    # 0A617 misprints the section as 764.1(b): read as 746.1(b), cited as such
    t = conv.parse_target("See § 764.1(b) for UN controls", "UN", [])
    assert t["destinations"] == [{"include": ["group:UN:arms-embargo"], "exclude": []}]
    assert [c["ref"] for c in t["citations"]] == ["15 CFR 746.1(b)(2)-(3)"]
    # CWC: licence to non-States Parties (the CWC:non-party list) except Israel and Taiwan
    t = conv.parse_target("CW applies to entire entry. A license is required for CW reasons to CWC non-States "
                          "Parties (destinations not listed in Supplement No. 2 to part 745), except for Israel "
                          "and Taiwan.", "CW", [])
    assert t["outcome"] == "license_required"
    assert t["destinations"] == [{"include": ["group:CWC:non-party"], "exclude": ["IL", "TW"]}]
    assert conv.parse_target("Something new the converter has never seen", "XX", [])["kind"] == "pointer"


def test_licence_exception_lines(conv) -> None:
    f = conv.parse_flag("LVS", "$3000, N/A for MT", "2A001")
    assert f["available"] == "yes" and f["value_limit_usd"] == 3000 and f["reasons_excluded"] == ["MT"]
    assert conv.parse_flag("GBS", "N/A", "3A090")["available"] == "no"
    f = conv.parse_flag("GBS", "Yes, for 3A002.h (unless controlled for MT)", "3A002")
    assert f["available"] == "conditional" and f["mode"] == "include" and f["paragraphs_named"] == ["h"]
    f = conv.parse_flag("AIA", "Yes, for 3A090.a.", "3A090")
    assert f == {"text": "Yes, for 3A090.a.", "available": "paragraphs", "paragraphs": ["a"],
                 "clauses": [{"effect": "yes", "paragraphs": ["a"]}]}


def test_generated_chart_pack_is_current(conv) -> None:
    """The committed country_chart pack is what the converter makes of the source chart."""
    built = json.loads(json.dumps(conv.build_chart(FIX), ensure_ascii=False))
    committed = json.loads((ROOT / "rules/us-ear/chart/country-chart.json").read_text("utf-8"))
    assert built == committed
    assert len(built["rows"]) == 196 and set(built["embargoed"]) == {"CU", "IR", "KP", "SY"}
    assert built["territories"]["HK"]["row"] == "CN" and built["territories"]["KY"]["row"] == "GB"
