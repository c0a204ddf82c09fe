"""Licence-exception lines of the CCL parsed into clauses (scripts/convert_chart.py parse_clauses),
checked against the raw text kept in the generated ccl pack, and read per item paragraph
(ecscreen.engine.chart.read_line)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from ecscreen.engine.chart import ExceptionFlag, read_line

ROOT = Path(__file__).resolve().parents[1]
CCL = json.loads((ROOT / "rules/us-ear/chart/ccl.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def conv():
    spec = importlib.util.spec_from_file_location("convert_chart", ROOT / "scripts" / "convert_chart.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def flags():
    for eccn, e in CCL["entries"].items():
        for sym, f in e["exceptions"].items():
            if sym not in ("STA", "NAC", "ACA"):
                yield eccn, sym, f


def test_generated_clauses_are_what_the_converter_reads_from_the_raw_text(conv) -> None:
    """Every committed line's clauses = parse_flag(raw text) (the pack keeps the raw eCFR text)."""
    for eccn, sym, f in flags():
        assert conv.parse_flag(sym, f["text"], eccn) == f, (eccn, sym)


def test_every_clause_fact_is_in_the_raw_text(conv) -> None:
    """Value limits, reasons and destination groups the clauses state appear in the line itself;
    every paragraph a clause names is a paragraph the line names (no invented scope)."""
    n = 0
    for eccn, sym, f in flags():
        text = f["text"]
        amounts = {int(a.replace(",", "")) for a in re.findall(r"\$\s?([0-9][0-9,]*)", text)}
        for c in f.get("clauses", []):
            n += 1
            if "value_limit_usd" in c:
                assert c["value_limit_usd"] in amounts, (eccn, sym, c)
            for r in c.get("reasons", []):
                assert re.search(rf"\b{r}\b", text), (eccn, sym, r)
            named = set(conv.named_paras_loose(text, eccn)) | set(conv.mentioned_paras(text, eccn))
            for a, b in re.findall(rf"\.?({conv.PARA_RE})\s+(?:to|through)\s+\.?({conv.PARA_RE})",
                                   text.replace(eccn + ".", " ")):
                named |= set(conv.expand_range(a, b) or [])
            for p in c["paragraphs"]:
                literal = re.search(rf"(?:^|[\s,(.]){re.escape(p)}(?=$|[\s,;.)])", text)
                assert p in named or literal or any(p.startswith(x + ".") for x in named), (eccn, sym, p)
        for ref in f.get("dest_exclude", []) + f.get("dest_only", []):
            token = ref.replace("group:", "")
            assert token in text or (token == "MO" and "Macau" in text), (eccn, sym, ref)
    assert n > 800


@pytest.mark.parametrize("eccn,sym,text,want", [
    ("3A002", "LVS", "$3000: 3A002.a, .e, .f, and .g",
     [{"effect": "yes", "paragraphs": ["a", "e", "f", "g"], "value_limit_usd": 3000}]),
    ("1A008", "LVS", "$3,000 for .a through .c; $6,000 for .d.",
     [{"effect": "yes", "paragraphs": ["a", "b", "c"], "value_limit_usd": 3000},
      {"effect": "yes", "paragraphs": ["d"], "value_limit_usd": 6000}]),
    ("1B001", "LVS", "N/A for MT and for 1B001.a; $5000 for all other items",
     [{"effect": "no", "paragraphs": [], "reasons": ["MT"]}, {"effect": "no", "paragraphs": ["a"]},
      {"effect": "yes", "paragraphs": [], "value_limit_usd": 5000}]),
    ("9B515", "LVS", "$1500; $5000 for 9B515.b",
     [{"effect": "yes", "paragraphs": [], "value_limit_usd": 1500},
      {"effect": "yes", "paragraphs": ["b"], "value_limit_usd": 5000}]),
    ("1A005", "GBS", "Yes, except UN", [{"effect": "yes", "paragraphs": []},
                                        {"effect": "no", "paragraphs": [], "reasons": ["UN"]}]),
    ("8A002", "GBS", "Yes for manipulators for civil end uses controlled by 8A002.i.2; and 8A002.r.",
     [{"effect": "yes", "paragraphs": ["i.2"], "condition": "manipulators for civil end uses controlled by 8A002.i.2"},
      {"effect": "yes", "paragraphs": ["r"]}]),
])
def test_lines_from_the_issue(conv, eccn, sym, text, want) -> None:
    assert conv.parse_clauses(sym, text, eccn)["clauses"] == want


def test_a_range_with_a_qualified_exception(conv) -> None:
    """GBS for 3A001: 'a.2 to a.14 (except .a.5.a when controlled for MT)' - the range is plain,
    .a.5.a is excluded under a condition in words."""
    d = conv.parse_clauses("GBS", CCL["entries"]["3A001"]["exceptions"]["GBS"]["text"], "3A001")
    plain = d["clauses"][0]
    assert plain["effect"] == "yes" and "a.3" in plain["paragraphs"] and "condition" not in plain
    assert {"effect": "no", "paragraphs": ["a.5.a"], "condition": "except .a.5.a when controlled for MT"} in d["clauses"]


def test_destination_limits_on_the_line(conv) -> None:
    d = conv.parse_clauses("LVS", "$2,000 for all Country Group B destinations, except those also listed under "
                                  "Country Group D:3 (see Supplement No. 1 to part 740 of the EAR).", "2B350")
    assert d == {"clauses": [{"effect": "yes", "paragraphs": [], "value_limit_usd": 2000}],
                 "dest_only": ["group:B"], "dest_exclude": ["group:D:3"]}
    d = conv.parse_clauses("ACE", "Yes, except to Country Group E:1 or E:2. See § 740.22 of the EAR for "
                                  "eligibility criteria.", "4A005")
    assert d["dest_exclude"] == ["group:E:1", "group:E:2"] and "residual" not in d
    assert conv.parse_clauses("LVS", "$500, not to D:3", "2B999")["dest_exclude"] == ["group:D:3"]
    d = conv.parse_clauses("TSR", "Yes, except N/A for Macau, destinations in Country Group D:5, or destinations "
                                  "subject to the RS control in 3A999.", "3E069")
    assert d["dest_exclude"] == ["MO", "group:D:5"] and "3A999" in d["residual"]


def test_words_the_parser_cannot_read_stay_residual(conv) -> None:
    d = conv.parse_clauses("TSR", "Yes, except for the following:", "6E002")
    assert d["residual"] == "the following:"


def _flag(eccn: str, sym: str) -> ExceptionFlag:
    return ExceptionFlag.model_validate(CCL["entries"][eccn]["exceptions"][sym])


@pytest.mark.parametrize("eccn,sym,para,status,limit", [
    ("3A002", "LVS", "g.1", "eligible", 3000),       # $3000 for .g
    ("3A002", "LVS", "b", "ineligible", None),       # not among .a, .e, .f, .g
    ("3A002", "LVS", "", "conditional", None),       # no paragraph given
    ("1B001", "LVS", "a", "ineligible", None),       # N/A for 1B001.a
    ("1B001", "LVS", "b", "eligible", 5000),         # $5000 for all other items
    ("9B515", "LVS", "b", "eligible", 5000),         # the paragraph's own limit wins
    ("9B515", "LVS", "a", "eligible", 1500),
    ("1A008", "LVS", "d", "eligible", 6000),
    ("4A003", "LVS", "b", "ineligible", None),       # N/A for 4A003.b, c, z
    ("4A003", "LVS", "g", "eligible", 5000),
    ("3A001", "GBS", "a.3", "eligible", None),       # in a.2 to a.14
    ("3A001", "GBS", "a.5.a", "conditional", None),  # except .a.5.a when controlled for MT
    ("3A001", "GBS", "b.1", "ineligible", None),     # not named
    ("3A001", "GBS", "b.2", "conditional", None),    # named with a condition in words
    ("1A002", "LVS", "b", "eligible", 1500),
    ("1A002", "LVS", "a", "conditional", None),      # N/A for composites ... in 1A002.a (words)
    ("6E002", "TSR", "a", "conditional", None),      # "except for the following:" cannot be read
])
def test_read_line(eccn, sym, para, status, limit) -> None:
    r = read_line(_flag(eccn, sym), para)
    assert r.status == status, r.why
    if status == "eligible":
        assert r.value_limit_usd == limit


def test_reasons_excluded_per_line() -> None:
    assert read_line(_flag("1B001", "LVS"), "b").reasons_excluded == ["MT"]
    assert read_line(_flag("1A005", "GBS"), "a").reasons_excluded == ["UN"]
