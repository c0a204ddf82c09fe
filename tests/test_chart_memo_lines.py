"""The chart memo is keyed without the line index (issue 14): an item's chart determination is made once
per (ECCN, destination, parameters, date interval) and written for each line it is used on. The findings,
notes and evidence name the right line (``item N``, ``items[N].eccn``, ``item_index``), exactly as the
plain path (``memo=False``) does."""

import datetime as dt

from conftest import ship
from ecscreen.engine import chartmemo
from ecscreen.engine.core import Engine

ITEMS = [{"description": "Widget", "eccn": "EAR99", "origin": "US"},
         {"description": "GPU board", "eccn": "3A090.a", "origin": "US"},
         {"description": "Etch chamber", "eccn": "3B001.c", "origin": "US"},
         {"description": "Spare GPU board", "eccn": "3A090.a", "origin": "US"},
         {"description": "Night sight", "eccn": "6A003.b.4.b", "origin": "US"}]


def _shipments():
    out = []
    for dest in ("CN", "RU", "DE", "IN"):
        out.append(ship(dest, "2026-11-02", items=ITEMS))
        out.append(ship(dest, "2026-11-02", items=list(reversed(ITEMS))))
        out.append(ship(dest, "2026-11-02", items=ITEMS[1:2]))
    return out


def test_chart_memo_reuses_a_determination_across_lines_with_each_line_named(registry):
    memo = Engine.build(registry, use_lists=False, today=dt.date(2026, 11, 28))
    plain = Engine.build(registry, use_lists=False, today=dt.date(2026, 11, 28))
    plain.memo = False
    for sh in _shipments():
        got = memo.screen_one(sh).model_dump_json()
        assert got == plain.screen_one(sh).model_dump_json()
        assert chartmemo.SENTINEL_S not in got
    # four distinct ECCNs x four destinations, whatever the lines they stand on (12 shipments, 44 lines)
    assert 0 < memo.chart_runs <= 4 * 4
    assert memo.chart_hits > memo.chart_runs


def test_line_index_written_into_findings_notes_and_evidence(registry):
    eng = Engine.build(registry, use_lists=False, today=dt.date(2026, 11, 28))
    res = eng.screen_one(ship("CN", "2026-11-02", items=ITEMS))
    by_line = {f.item_index: f for f in res.findings if f.rule_id.startswith("CHART-")}
    assert {1, 3} <= set(by_line)  # both GPU lines, from one determination
    for i in (1, 3):
        assert all(e.field.startswith(f"items[{i}]") for e in by_line[i].evidence if e.field.startswith("items["))


def test_template_copies_only_indexed_parts():
    from ecscreen.model import Citation, Evidence, Finding, Outcome

    cite = Citation(ref="15 CFR 742.6")
    f = Finding(rule_id="R", pack_id="p", outcome=Outcome.review, title="t", message="m",
                item_index=chartmemo.SENTINEL, citations=[cite],
                evidence=[Evidence(field=f"items[{chartmemo.SENTINEL}].eccn", value="3A090")])
    t = chartmemo.Template([f], [f"item {chartmemo.SENTINEL}: note"], [])
    a, b = t.for_line(0), t.for_line(12)
    assert (a.findings[0].item_index, b.findings[0].item_index) == (0, 12)
    assert b.findings[0].evidence[0].field == "items[12].eccn" and b.notes == ("item 12: note",)
    assert b.findings[0].citations[0] is cite  # shared, not copied
    assert t.findings[0].item_index == chartmemo.SENTINEL  # the template is unchanged
