"""Rule plans are shared by content (issue 14, memory): keys of the plan memos whose plans are equal hold one
list, a changed fact (an item the rule's item gate lets through) gives another, and results stay those of the
plain path (``memo=False``)."""

import datetime as dt
import textwrap

import pytest

from conftest import ship
from ecscreen.engine import core
from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry

PACK = """\
pack: {id: f, version: "1", jurisdiction: US-EAR, title: F}
lists:
  sme: {type: eccns, members: [3B001]}
  lasers: {type: eccns, members: [6A005]}
rules:
  - id: F-SME
    title: SME to China
    outcome: license_required
    when: {all: [{destination_in: [CN]}, {eccn_in: ["list:sme"]}]}
    message: "{eccn} to {destination}"
    citations: [{ref: "15 CFR 742.4"}]
    effective_from: 2000-01-01
  - id: F-LASER
    title: lasers to Russia
    outcome: review
    when: {all: [{destination_in: [RU]}, {eccn_in: ["list:lasers"]}]}
    message: "{eccn} to {destination}"
    citations: [{ref: "15 CFR 742.4"}]
    effective_from: 2000-01-01
  - id: F-END-USE
    title: end use to China
    outcome: review
    when: {all: [{destination_in: [CN]}, {end_use_has: [military]}]}
    message: "{destination}"
    citations: [{ref: "15 CFR 744.21"}]
    effective_from: 2000-01-01
"""

WIDGET = {"description": "Widget", "eccn": "EAR99", "origin": "US"}
PUMP = {"description": "Pump", "eccn": "2B999", "origin": "US"}
CHAMBER = {"description": "Etch chamber", "eccn": "3B001.c", "origin": "US"}
LASER = {"description": "Laser", "eccn": "6A005.a", "origin": "US"}


@pytest.fixture()
def packs(tmp_path):
    (tmp_path / "f.yaml").write_text(textwrap.dedent(PACK))
    return load_registry([tmp_path])


def _plans(eng: Engine, items: list[dict], dest: str = "CN") -> list:
    on = dt.date(2026, 10, 1)
    ctxs = eng._item_ctxs(ship(dest, on, items=items), on, [])
    country = core.resolve(dest)
    assert country is not None
    return eng._plans(eng._codes(country, on), ctxs, on)


def test_equal_plans_share_one_list_and_a_changed_item_does_not(packs):
    eng = Engine.build(packs, use_lists=False, today=dt.date(2026, 11, 29))
    (cp,) = eng.compiled
    widget, laser = _plans(eng, [WIDGET]), _plans(eng, [LASER])
    # two item profiles (the laser rule's item gate lets the laser through), but to China the laser rule is no
    # candidate: two memo keys, one plan
    assert len(set(eng._item_profiles.values())) == 2 and len(eng._plan_memo) == 2
    assert widget is laser and widget[0][1] is laser[0][1]
    assert [r.id for r, *_ in widget[0][1]] == ["F-END-USE"]
    assert [r.id for r, *_ in _plans(eng, [LASER], "RU")[0][1]] == ["F-LASER"]  # a changed fact: its own plan
    chamber = _plans(eng, [CHAMBER])
    assert chamber is not widget and [r.id for r, *_ in chamber[0][1]] == ["F-SME", "F-END-USE"]
    # two-item orders: the chamber at index 1 is another plan than at index 0 (the items the rule runs for)
    a, b = _plans(eng, [WIDGET, CHAMBER]), _plans(eng, [LASER, CHAMBER])
    assert a is b and a[0][1][0][3] == (1,)
    c = _plans(eng, [CHAMBER, WIDGET])
    assert c is not a and c[0][1][0][3] == (0,)
    assert len(cp._plan_forms) < len(cp._plans) and len(eng._plan_forms) < len(eng._plan_memo)


def test_shared_plans_give_the_plain_results(packs):
    fast = Engine.build(packs, use_lists=False, today=dt.date(2026, 11, 29))
    plain = Engine.build(packs, use_lists=False, today=dt.date(2026, 11, 29))
    plain.memo = False
    orders = [[WIDGET], [PUMP], [CHAMBER], [WIDGET, CHAMBER], [PUMP, CHAMBER], [CHAMBER, WIDGET], [LASER, PUMP],
              [LASER, CHAMBER, WIDGET]]
    for items in orders + orders:
        for dest, end_use in (("CN", None), ("CN", "military research"), ("RU", None)):
            sh = ship(dest, "2026-10-01", items=items, end_use=end_use)
            assert fast.screen_one(sh).model_dump_json() == plain.screen_one(sh).model_dump_json()


def test_shared_plans_bounded(packs, monkeypatch):
    monkeypatch.setattr(core, "PLAN_MEMO_SIZE", 2)
    monkeypatch.setattr(core, "PACK_PLAN_MEMO_SIZE", 2)
    eng = Engine.build(packs, use_lists=False, today=dt.date(2026, 11, 29))
    plain = Engine.build(packs, use_lists=False, today=dt.date(2026, 11, 29))
    plain.memo = False
    (cp,) = eng.compiled
    for items in ([WIDGET], [PUMP], [CHAMBER], [WIDGET, CHAMBER], [PUMP, CHAMBER], [CHAMBER, WIDGET], [LASER]):
        sh = ship("CN", "2026-10-01", items=items)
        assert eng.screen_one(sh).model_dump_json() == plain.screen_one(sh).model_dump_json()
        assert len(eng._plan_forms) <= 2 and len(cp._plan_forms) <= 3
