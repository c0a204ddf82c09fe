"""CCL scopes that point to other entries ("software for items controlled by 1B001 for NP reasons"):
the converter reads them as data (``Scope.refers``), the engine decides them from items[].for_eccn and,
when it is not stated, gives ``review`` naming it (issue 13, "Reading the CCL more precisely")."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from pathlib import Path

import pytest

from ecscreen.domain.countries import resolve
from ecscreen.engine.chart import Reference, chart_index, determine, refers_applies
from ecscreen.engine.chart import Scope as ChartScope
from ecscreen.engine.core import Engine
from ecscreen.model import Item, Outcome, Shipment
from ecscreen.runners.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]
ON = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def conv():
    spec = importlib.util.spec_from_file_location("convert_chart_refers", ROOT / "scripts" / "convert_chart.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


KNOWN = ["1A002", "1B001", "1B002", "1B003", "1B018", "2A226", "2B004", "2B009", "3B001", "6A002", "6A003",
         "6A008", "6A991", "6A998", "9A001", "9A101", "0A501"]


def _refs(r) -> list[tuple[str, str | None]]:
    return [(x["eccn"], x.get("reason")) for x in r["refers"]]


# --------------------------------------------------------------------------- converter


def test_converter_reads_the_entries_and_reason_a_scope_points_to(conv) -> None:
    r = conv.parse_refers("“software” for the “development”, “production” or “use” of items controlled by 1B001 "
                          "for NP reasons", "1D001", KNOWN)
    assert r["refers_mode"] == "in" and _refs(r) == [("1B001", "NP")]
    r = conv.parse_refers("“technology” for items controlled by 1A002, 1B001 to 1B003, or 6A002.a.1, .a.2, or .c",
                          "1E001", KNOWN)
    assert _refs(r) == [("1A002", None), ("1B001", None), ("1B002", None), ("1B003", None), ("6A002.a.1", None),
                        ("6A002.a.2", None), ("6A002.c", None)]
    r = conv.parse_refers("“software” for equipment controlled by 3B001.c.1.a or c.1.c", "3D002", KNOWN)
    assert _refs(r) == [("3B001.c.1.a", None), ("3B001.c.1.c", None)]
    r = conv.parse_refers("entire entry except equipment for ECCN 0A501.y", "0B501", KNOWN)
    assert r["refers_mode"] == "except" and _refs(r) == [("0A501.y", None)]
    r = conv.parse_refers("software “specially designed” for the operation, installation, maintenance, repair, "
                          "overhaul, or refurbishing of commodities controlled for MT reasons in 9A001 or 9A101",
                          "9D610", KNOWN)
    assert _refs(r) == [("9A001", "MT"), ("9A101", "MT")]


def test_converter_reads_clauses_of_the_same_form(conv) -> None:
    known = KNOWN + ["4A090", "4D090", "5A992", "5D992"]
    r = conv.parse_refers("equipment for engines controlled under 9A001 for MT reasons and for engines controlled "
                          "under 9A101", "9B001", known)
    assert _refs(r) == [("9A001", "MT"), ("9A101", None)]
    r = conv.parse_refers("“technology” for commodities controlled by 5A992.z.1 or “software” controlled by 5D992.z.1",
                          "5E992", known)
    assert _refs(r) == [("5A992.z.1", None), ("5D992.z.1", None)]
    r = conv.parse_refers("entire entry, except for “technology” for 4A090 or “software” specified by 4D090", "4E001",
                          known)
    assert r["refers_mode"] == "except" and _refs(r) == [("4A090", None), ("4D090", None)]
    # "commodities and software controlled by ...": one clause (nothing named before the conjunction)
    r = conv.parse_refers("“technology” for commodities and software controlled by 1A002 or 1B001 for MT reasons",
                          "1E101", known)
    assert _refs(r) == [("1A002", "MT"), ("1B001", "MT")]


def test_converter_leaves_other_words_as_words(conv) -> None:
    # a second clause, words that narrow the items, parameters of another entry: not a pointer alone
    for text, eccn in [
        ("“software” for commodities in ECCN 0A505.a and .x and equipment in ECCN 0B505.a .and .x", "0D505"),
        ("“software” for computerized finger-print equipment controlled by 4A003 for CC reasons", "4D001"),
        ("“technology” for the disposal of items controlled by 1C351, 1C353, or 1C354", "1E351"),
        ("items that meet or exceed the parameters of ECCN 1C101", "1C001"),
        ("“software” for commodities controlled by 3A001.b to 3A001.h, 3A001.z, and 3B (except as specified in the "
         "heading)", "3D001"),
        ("“software” for equipment controlled by 7X001", "7D001"),  # not an entry of the CCL
    ]:
        assert conv.parse_refers(text, eccn, KNOWN + ["1C351", "1C353", "1C354", "4A003"]) is None, text


def test_generated_pack_carries_the_pointers(registry) -> None:
    ccl = chart_index(registry).ccl
    assert ccl is not None
    np_ = next(c for c in ccl.entries["1D001"].controls if c.reason == "NP")
    assert np_.scope.refers == [Reference(eccn="1B001", reason="NP")] and np_.scope.refers_mode == "in"
    ns = next(c for c in ccl.entries["0B501"].controls if c.reason == "NS")
    assert ns.scope.refers == [Reference(eccn="0A501.y")] and ns.scope.refers_mode == "except"
    n = sum(1 for e in ccl.entries.values() for c in e.controls if c.scope.refers)
    assert n == 93


# --------------------------------------------------------------------------- engine


def test_refers_applies_hierarchy_reason_and_fail_closed(registry) -> None:
    ccl = chart_index(registry).ccl
    assert ccl is not None
    sc = ChartScope(kind="conditional", condition="software for 6A002.a.1 or 6A998.b",
                    refers=[Reference(eccn="6A002.a.1"), Reference(eccn="6A998.b")])
    assert refers_applies(ccl.entries, sc, None) is None  # not stated: never decided
    assert refers_applies(ccl.entries, sc, "6A002.a.1.b") is True  # below the paragraph named
    assert refers_applies(ccl.entries, sc, "6A998.c") is False
    assert refers_applies(ccl.entries, sc, "6A002") is None  # less specific: the paragraph decides
    assert refers_applies(ccl.entries, sc, "EAR99") is False
    ex = sc.model_copy(update={"refers_mode": "except"})
    assert refers_applies(ccl.entries, ex, "6A998.b") is False and refers_applies(ccl.entries, ex, "6A991") is True
    assert refers_applies(ccl.entries, ex, "6A002") is None and refers_applies(ccl.entries, ex, None) is None
    # "for NP reasons": the referenced entry's own NP scope, read for the paragraph the item is for
    np_ = ChartScope(kind="conditional", condition="for 1B001 for NP reasons", refers=[Reference(eccn="1B001",
                                                                                                   reason="NP")])
    assert refers_applies(ccl.entries, np_, "1B001.b") is False  # NP applies to 1B001.a only
    assert refers_applies(ccl.entries, np_, "1B001.a") is None  # .a: the rotor dimensions, in words
    assert refers_applies(ccl.entries, np_, "1B001") is None
    entire = ChartScope(kind="conditional", condition="for 2A226 for NP reasons", refers=[Reference(eccn="2A226",
                                                                                                      reason="NP")])
    assert refers_applies(ccl.entries, entire, "2A226") is True  # NP applies to the entire entry
    at_only = ChartScope(kind="conditional", condition="x", refers=[Reference(eccn="6A991", reason="NP")])
    assert refers_applies(ccl.entries, at_only, "6A991") is False  # 6A991 is not controlled for NP reasons


def _determine(registry, eccn: str, dest: str, for_eccn: str | None = None):
    c = resolve(dest)
    assert c is not None
    return determine(Item(description="t", eccn=eccn, for_eccn=for_eccn), 0, c, registry, ON)


def test_for_eccn_decides_the_scope_and_the_finding_says_so(registry) -> None:
    res = _determine(registry, "6D991", "CN", "6A003.b.4.b")
    f = next(x for x in res.findings if x.rule_id == "CHART-6D991-RS")
    assert f.outcome == Outcome.license_required
    assert "the item is for 6A003.b.4.b (items[].for_eccn)" in f.message
    step = next(s for s in f.steps if s.name.startswith("RS") and s.outcome == "license_required")
    assert step.inputs["for_eccn"] == "6A003.b.4.b"
    assert not [x for x in _determine(registry, "6D991", "CN", "6A991").findings if x.outcome != Outcome.clear]


def test_for_eccn_not_stated_is_review_naming_it_never_clear(registry) -> None:
    res = _determine(registry, "6D991", "CN")
    f = next(x for x in res.findings if x.rule_id == "CHART-6D991-RS")
    assert f.outcome == Outcome.review and "state items[].for_eccn" in f.message
    assert "6A002, 6A003, 6A998.b" in f.message
    # less specific than the scope: review naming the paragraph
    f2 = next(x for x in _determine(registry, "6D991", "CN", "6A998").findings if x.rule_id == "CHART-6D991-RS")
    assert f2.outcome == Outcome.review and "the item is for 6A998" in f2.message


def test_every_pointer_with_an_x_is_never_clear_without_for_eccn(registry) -> None:
    """Fail closed on the whole pack: every control pointing to other entries, whose column has an X for the
    destination, gives review (not stated) or licence required (stated within it), never clear."""
    idx = chart_index(registry)
    assert idx.ccl is not None
    cn = resolve("CN")
    assert cn is not None
    marks = idx.marks["CN"]
    n = 0
    for base, entry in idx.ccl.entries.items():
        for c in entry.controls:
            if not c.scope.refers or c.target.kind != "column" or c.target.column not in marks:
                continue
            n += 1
            res = determine(Item(description="t", eccn=base), 0, cn, registry, ON)
            got = {f.rule_id: f.outcome for f in res.findings}
            assert got.get(f"CHART-{base}-{c.reason}") in (Outcome.review, Outcome.license_required), (base, c.text)
            if c.scope.refers_mode == "in" and c.scope.refers[0].reason is None:
                stated = determine(Item(description="t", eccn=base, for_eccn=c.scope.refers[0].eccn), 0, cn,
                                   registry, ON)
                got2 = {f.rule_id: f.outcome for f in stated.findings}
                assert got2.get(f"CHART-{base}-{c.reason}") == Outcome.license_required, (base, c.text)
    assert n > 50


# --------------------------------------------------------------------------- input, engine memo, batch


def test_malformed_for_eccn_is_an_input_error(engine) -> None:
    sh = Shipment.model_validate({"destination": "CN", "date": "2026-10-01", "items": [
        {"description": "sw", "eccn": "6D991", "for_eccn": "6A0O3"}]})
    res = engine.screen_one(sh)
    assert res.decision == "error"
    assert any(e.field == "items[0].for_eccn" for e in res.errors)


def test_regression_chart_memo_keyed_on_for_eccn(registry) -> None:
    """The engine memoised the chart per ECCN (not per ECCN the item is for): a second shipment of the same
    software for another ECCN, or without it, got the first one's decision."""
    eng = Engine.build(registry, use_lists=False, today=ON)

    def decide(for_eccn: str | None) -> str:
        item = {"description": "sw", "eccn": "6D991", **({"for_eccn": for_eccn} if for_eccn else {})}
        sh = Shipment.model_validate({"destination": "CN", "date": "2026-10-01", "items": [item]})
        return str(eng.screen_one(sh).decision)

    assert [decide("6A003.b.3"), decide(None), decide("6A991")] == ["license_required", "review", "clear"]


def test_batch_for_eccn_column(registry) -> None:
    eng = Engine.build(registry, use_lists=False, today=ON)
    data = ("date,destination,description,eccn,for_eccn\n"
            "2026-10-01,CN,sw,6D991,6A003.b.3\n2026-10-01,CN,sw,6D991,\n2026-10-01,CN,sw,6D991,6A991\n"
            "2026-10-01,CN,sw,6D991,6A0O3\n")
    out = io.StringIO()
    run_batch(io.BytesIO(data.encode()), out, eng, fmt="csv")
    rows = out.getvalue().splitlines()[1:]
    assert [r.split(",")[5] for r in rows] == ["license_required", "review", "clear", "error"]
    assert "for_eccn: malformed ECCN '6A0O3'" in rows[3]
