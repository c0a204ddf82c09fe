"""The engine's memos keyed by a date's interval between the dated pack data they read (issue 14,
``ecscreen.engine.intervals``), not by the day: per memo, two days either side of a breakpoint are two
entries (a changed fact changes the answer), and a day inside an interval is served the entry of another day
of that interval, equal to the unmemoised computation."""

import datetime as dt
from typing import Any

import pytest

from conftest import ship
from ecscreen.domain.countries import resolve
from ecscreen.engine import chart as C
from ecscreen.engine import core
from ecscreen.engine import jurisdiction as J
from ecscreen.engine.core import Engine
from ecscreen.engine.intervals import Intervals, dated_ref_dates, group_dates, territory_dates
from ecscreen.model import Citation, Item, Shipment
from ecscreen.packs.registry import Territory, load_registry

D = dt.date
HK_FROM = D(2020, 12, 23)  # the shipped packs map Hong Kong to China from this date
AW_FROM = D(2026, 10, 1)  # a territory mapping the tests add: Aruba treated as the United States from this date


def _with_aruba_mapping(reg: Any) -> Any:
    reg.territories["AW"] = Territory(treat_as="US", effective_from=AW_FROM, citations=[Citation(ref="test")])
    return reg


@pytest.fixture()
def reg() -> Any:
    """A registry of its own (the tests add a territory mapping)."""
    return _with_aruba_mapping(load_registry())


def test_a_breakpoint_opens_its_interval():
    iv = Intervals([D(2026, 2, 3), None, D(2021, 12, 9), D(2026, 2, 3)])
    assert iv.bounds == [D(2021, 12, 9), D(2026, 2, 3)]
    assert [iv.index(d) for d in (D(2021, 12, 8), D(2021, 12, 9), D(2026, 2, 2), D(2026, 2, 3), D(2026, 11, 29))] \
        == [0, 1, 1, 2, 2]


def test_breakpoints_of_the_shipped_packs(reg):
    assert HK_FROM in territory_dates(reg) and AW_FROM in territory_dates(reg)
    assert D(2026, 2, 3) in group_dates(reg)  # Cambodia leaves Country Group D:5
    comp = J._compiled_for(reg)
    assert comp is not None
    # every dated ref of the jurisdiction pack, however deep, gives its dates
    walked = set(dated_ref_dates(comp[0].pack))
    for cs in comp[0].pack.country_sets.values():
        for m in cs.members:
            if isinstance(m, J.DatedRef):
                assert {d for d in (m.effective_from, m.effective_to) if d} <= walked
    assert walked and walked <= set(comp[0].refs_iv.bounds)


def _engine(reg: Any) -> Engine:
    return Engine.build(reg, use_lists=False, today=D(2026, 11, 29))


@pytest.mark.parametrize("code", ["HK", "AW"])
def test_codes_memo_by_territory_interval(reg, code):
    eng = _engine(reg)
    c = resolve(code)
    assert c is not None
    brk = HK_FROM if code == "HK" else AW_FROM
    before, after = brk - dt.timedelta(days=1), brk
    got_before, got_after = eng._codes(c, before), eng._codes(c, after)
    assert len(eng._codes_memo) == 2  # two entries either side of the breakpoint
    assert got_before == core._codes(c, reg, before) != got_after == core._codes(c, reg, after)
    inside = after + dt.timedelta(days=200)
    assert eng._codes(c, inside) is got_after and len(eng._codes_memo) == 2  # the interval's entry
    assert got_after == core._codes(c, reg, inside)  # = the unmemoised answer


def test_party_and_item_input_memos_by_territory_interval(reg):
    eng = _engine(reg)
    before, after, inside = AW_FROM - dt.timedelta(days=1), AW_FROM, AW_FROM + dt.timedelta(days=50)

    def inputs(on: dt.date) -> tuple[Any, Any]:
        sh = ship("DE", on.isoformat(), parties=[{"role": "end_user", "name": "X", "country": "AW"}],
                  items=[{"description": "Widget", "eccn": "EAR99", "origin": "AW"}])
        _, _, items, party_codes, errors = eng._inputs(sh, on)
        assert errors == []
        return party_codes[0][1], items[0].origin_codes

    p0, i0 = inputs(before)
    p1, i1 = inputs(after)
    assert len(eng._party_inputs) == len(eng._item_inputs) == 2
    assert "US" not in p0 and "US" in p1 and p0 == i0 and p1 == i1
    assert inputs(inside) == (p1, i1) and len(eng._party_inputs) == len(eng._item_inputs) == 2
    plain = Engine.build(reg, use_lists=False, today=D(2026, 11, 29))
    plain.memo = False
    sh = ship("DE", inside.isoformat(), parties=[{"role": "end_user", "name": "X", "country": "AW"}],
              items=[{"description": "Widget", "eccn": "EAR99", "origin": "AW"}])
    got = plain._inputs(sh, inside)
    assert (got[3][0][1], got[2][0].origin_codes) == (p1, i1)


def _assess(reg: Any, origin: str, exporter: str, on: dt.date) -> Any:
    item = Item(description="Widget", eccn="EAR99", origin=origin, us_content_percent=5.0)
    sh = Shipment(destination="DE", exporter_country=exporter, items=[item], date=on)
    dest = resolve("DE")
    assert dest is not None
    return J.assess(item, 0, sh, dest, [], reg, on)


def test_origin_memo_by_territory_interval(reg):
    comp = J._compiled_for(reg)
    assert comp is not None
    memo = comp[0].origin_memo
    memo.clear()
    before, after, inside = AW_FROM - dt.timedelta(days=1), AW_FROM, AW_FROM + dt.timedelta(days=30)
    foreign = _assess(reg, "AW", "DE", before)  # not U.S.-origin yet: not memoised (later steps read more)
    assert not memo and foreign.steps[0].outcome == "foreign"
    us = _assess(reg, "AW", "DE", after)
    assert us.status == "subject" and [s.name for s in us.steps] == ["origin"]
    assert list(memo) == [("AW", comp[0].territory_iv.index(after))]
    _assess(reg, "US", "DE", before)
    _assess(reg, "US", "DE", after)
    assert len(memo) == 3  # U.S. origin either side of the breakpoint: two entries
    served = _assess(reg, "AW", "DE", inside)
    assert len(memo) == 3
    memo.clear()
    assert served.model_dump() == _assess(reg, "AW", "DE", inside).model_dump()  # = unmemoised


def test_location_memo_by_territory_interval(reg):
    comp = J._compiled_for(reg)
    assert comp is not None
    memo = comp[0].location_memo
    memo.clear()
    before, after, inside = AW_FROM - dt.timedelta(days=1), AW_FROM, AW_FROM + dt.timedelta(days=30)
    abroad = _assess(reg, "TW", "AW", before)  # exported from Aruba before the mapping: abroad, not memoised
    assert not memo and abroad.steps[1].outcome == "abroad"
    us = _assess(reg, "TW", "AW", after)
    assert us.status == "subject" and [s.name for s in us.steps] == ["origin", "location"]
    assert list(memo) == [("TW", "AW", comp[0].territory_iv.index(after))]
    _assess(reg, "TW", "US", before)
    _assess(reg, "TW", "US", after)
    assert len(memo) == 3
    served = _assess(reg, "TW", "AW", inside)
    assert len(memo) == 3
    memo.clear()
    assert served.model_dump() == _assess(reg, "TW", "AW", inside).model_dump()


def test_refs_memo_by_dated_ref_and_group_interval(reg):
    comp = J._compiled_for(reg)
    assert comp is not None
    c = comp[0]
    # a dated ref of the pack and the interval either side of its start
    dated = next(m for cs in c.pack.country_sets.values() for m in cs.members
                 if isinstance(m, J.DatedRef) and m.effective_from is not None and m.effective_from > D(2000, 1, 1))
    refs = [dated]
    brk = dated.effective_from
    assert brk is not None
    c._ref_cache.clear()
    before, after = c.refs_at(refs, brk - dt.timedelta(days=1)), c.refs_at(refs, brk)
    assert len(c._ref_cache) == 2 and before != after
    nxt = next((b for b in c.refs_iv.bounds if b > brk), D(2100, 1, 1))
    inside = brk + (nxt - brk) // 2
    assert c.refs_at(refs, inside) is after and len(c._ref_cache) == 2
    c._ref_cache.clear()
    assert c.refs_at(refs, inside) == after  # = computed afresh on that day


def test_chart_destination_sets_by_group_interval():
    reg = load_registry()
    idx = C.chart_index(reg)
    terms = [C.DestTerm(include=["group:D:5"], exclude=[])]
    idx._sets.clear()
    brk = D(2026, 2, 3)  # Cambodia leaves D:5
    before, after = C.dest_set(idx, reg, terms, brk - dt.timedelta(days=1)), C.dest_set(idx, reg, terms, brk)
    assert len(idx._sets) == 2 and "KH" in before[0] and "KH" not in after[0]
    inside = D(2026, 11, 29)
    assert C.dest_set(idx, reg, terms, inside) is after and len(idx._sets) == 2
    idx._sets.clear()
    assert C.dest_set(idx, reg, terms, inside) == after  # = computed afresh on that day


def test_check_of_a_mapped_territory_either_side_of_its_breakpoint(reg):
    """End to end: the memoised engine gives, on each day, what the plain engine (``memo=False``) gives."""
    eng = _engine(reg)
    plain = _engine(reg)
    plain.memo = False
    days = [AW_FROM - dt.timedelta(days=1), AW_FROM, AW_FROM + dt.timedelta(days=40), AW_FROM - dt.timedelta(days=9)]
    for on in days:
        sh = ship("CN", on.isoformat(), items=[{"description": "Etch chamber", "eccn": "3B001.c", "origin": "AW"}],
                  parties=[{"role": "end_user", "name": "X", "country": "CN"}])
        assert eng.screen_one(sh).model_dump() == plain.screen_one(sh).model_dump()


def test_chart_memo_by_interval_between_group_changes():
    """The chart memo (keyed by the date's interval since before this change) either side of a Country Group
    change after the chart's date: two entries, each the unmemoised determination; inside: one entry."""
    from ecscreen.packs.registry import GroupChange

    reg = load_registry()
    brk = D(2026, 10, 1)
    reg.groups["D:5"].changes.append(GroupChange(country="KH", change="add", date=brk,
                                                 citations=[Citation(ref="test")]))
    eng = _engine(reg)
    plain = _engine(reg)
    plain.memo = False

    def check(on: dt.date) -> None:
        sh = ship("KH", on.isoformat(), items=[{"description": "Chip", "eccn": "3A090.a", "origin": "US"}])
        assert eng.screen_one(sh).model_dump() == plain.screen_one(sh).model_dump()

    check(brk - dt.timedelta(days=1))
    check(brk)
    assert len(eng._chart_memo) == 2
    check(brk + dt.timedelta(days=30))
    assert len(eng._chart_memo) == 2 and eng.chart_hits == 1
