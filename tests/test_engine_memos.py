"""The engine's per-run memos (issue 14) are exact and do what they are for: a names list named by several
rules is one matcher and one memo (a repeat party is looked up once per list, whatever the number of rules
and shipments); the rule plans of every pack are memoised per destination, date interval and item profile,
and give the same findings as the plain path (``memo=False``)."""

import datetime as dt
import textwrap

import pytest

from conftest import ship
from ecscreen.engine import core
from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry
from ecscreen.parties.matching import Matcher

PACK = """\
pack: {id: m, version: "1", jurisdiction: US-EAR, title: M}
lists:
  watch: {type: names, members: [Acme Rocket Works, Globex Munitions]}
  sme: {type: eccns, members: [3B001]}
rules:
  - id: M-WATCH-STRONG
    title: watched party (strong)
    outcome: prohibited
    when: {party_name_in: {list: watch, min_score: 92}}
    message: "party {parties}"
    citations: [{ref: "15 CFR 744.11"}]
    effective_from: 2000-01-01
  - id: M-WATCH-CN
    title: watched party to China
    outcome: review
    when: {all: [{destination_in: [CN]}, {party_name_in: {list: watch, min_score: 80}}]}
    message: "party {parties} to {destination}"
    citations: [{ref: "15 CFR 744.11"}]
    effective_from: 2000-01-01
  - id: M-SME
    title: SME to China
    outcome: license_required
    when: {all: [{destination_in: [CN]}, {eccn_in: ["list:sme"]}]}
    message: "{eccn} to {destination}"
    citations: [{ref: "15 CFR 742.4"}]
    effective_from: 2023-11-17
"""


@pytest.fixture()
def packs(tmp_path):
    (tmp_path / "m.yaml").write_text(textwrap.dedent(PACK))
    return load_registry([tmp_path])


def _shipments():
    parties = [[{"role": "end_user", "name": "ACME Rocket Works Ltd"}],
               [{"role": "end_user", "name": "Initech Office Supplies"}],
               [{"role": "end_user", "name": "ACME Rocket Works Ltd"},
                {"role": "consignee", "name": "Globex Munitions"}]]
    items = [[{"description": "Etch chamber", "eccn": "3B001.c", "origin": "US"}],
             [{"description": "Widget", "eccn": "EAR99", "origin": "US"},
              {"description": "Etch chamber", "eccn": "3B001.c", "origin": "US"}]]
    out = []
    for dest in ("CN", "DE"):
        for date in ("2023-06-01", "2024-06-01", "2024-06-02"):
            for p in parties:
                for it in items:
                    out.append(ship(dest, date, parties=p, items=it))
    return out


def test_names_list_shared_by_rules_is_looked_up_once_per_name(packs, monkeypatch):
    calls: list[tuple[Matcher, str]] = []
    real = Matcher.may_match

    def counting(self, name):
        calls.append((self, name))
        return real(self, name)

    monkeypatch.setattr(Matcher, "may_match", counting)
    eng = Engine.build(packs, use_lists=False, today=dt.date.today())
    (cp,) = eng.compiled
    assert list(cp._names_lists) == ["watch"]  # two rules, one shared names list
    for sh in _shipments():
        eng.screen_one(sh)
    # three distinct names, each tested once by the pack's union of names lists (was: once per rule naming the
    # list); the list's own test runs at most once per name, and only for names the union lets through
    union = cp._names_union._matcher
    own = cp._names_lists["watch"]._matcher
    assert union is not None and own is not None
    assert sorted(n for m, n in calls if m is union) == [
        "ACME Rocket Works Ltd", "Globex Munitions", "Initech Office Supplies"]
    mine = [n for m, n in calls if m is own]
    assert len(mine) == len(set(mine)) and "ACME Rocket Works Ltd" in mine
    assert {m for m, _ in calls} <= {union, own}


def test_shared_names_list_keeps_each_rules_threshold(packs):
    eng = Engine.build(packs, use_lists=False, today=dt.date.today())
    res = eng.screen_one(ship("CN", "2024-06-01", parties=[{"role": "end_user", "name": "ACME Rocket Works Ltd"}]))
    fired = {f.rule_id: f for f in res.findings}
    assert {"M-WATCH-STRONG", "M-WATCH-CN"} <= set(fired)
    assert fired["M-WATCH-STRONG"].evidence[0].score >= 92 and fired["M-WATCH-CN"].evidence[-1].score >= 80
    res = eng.screen_one(ship("CN", "2024-06-01", parties=[{"role": "end_user", "name": "Initech Office Supplies"}]))
    assert not {"M-WATCH-STRONG", "M-WATCH-CN"} & {f.rule_id for f in res.findings}


def test_plan_memo_gives_the_plain_results(packs):
    fast = Engine.build(packs, use_lists=False, today=dt.date.today())
    plain = Engine.build(packs, use_lists=False, today=dt.date.today())
    plain.memo = False
    shipments = _shipments()
    for sh in shipments + shipments:  # the second pass is served from the memos
        a = fast.screen_one(sh).model_dump_json()
        b = plain.screen_one(sh).model_dump_json()
        assert a == b
    assert fast._plan_memo and not plain._plan_memo
    # dates in one interval between the packs' change dates share a plan; a date before a rule's start does not
    keys = {(k[0], k[1]) for k in fast._plan_memo}
    assert len({k[1] for k in keys}) == 2  # 2023-06-01 (before M-SME) and 2024-06-01/02 (one interval)
    # item profiles: EAR99 widget and the 3B001 chamber differ (the SME rule's item gate)
    assert len(set(fast._item_profiles.values())) == 2


def test_plan_memo_bounded(packs, monkeypatch):
    monkeypatch.setattr(core, "PLAN_MEMO_SIZE", 2)
    fast = Engine.build(packs, use_lists=False, today=dt.date.today())
    plain = Engine.build(packs, use_lists=False, today=dt.date.today())
    plain.memo = False
    for sh in _shipments():
        assert fast.screen_one(sh).model_dump_json() == plain.screen_one(sh).model_dump_json()
        assert len(fast._plan_memo) <= 2 and len(fast._item_profiles) <= 2 and len(fast._profile_ids) <= 2
