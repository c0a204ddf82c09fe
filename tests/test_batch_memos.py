"""Issue 14 (batch per-row cost): the engine-side memos and shared tests never change a result.

The names-list union (engine.core._NamesUnion) answers the party matcher's cheap necessary test once per
party name for every names list of a pack: a name it rejects must be rejected by each list's own test."""

from __future__ import annotations

import pytest

from ecscreen.engine import core
from ecscreen.engine.core import Engine, _NamesList, _NamesUnion
from ecscreen.engine.snapshot import load_registry_snapshot

ORDINARY = ["CoreWeave, Inc.", "ACM Research, Inc.", "Movado Group", "Five Star Bancorp", "Siemens AG",
            "Acme Pumps GmbH", "Green Leaf Innovations", "American Integrity Insurance Group", "Hua Wei",
            "ZTE", "Z.T.E. Corp", "Semi-conductor Manufacturing Intl", "Tokyo Electron", "Samsung Electronics",
            "Huawei", "Hikvision Digital", "Dahua", "Beijing Institute of Technology", "Ltd", "", "  "]


def _variants(name: str) -> list[str]:
    words = name.split()
    out = [name, name.upper(), name.lower(), "".join(words), name[:-1], name + "x", " ".join(words[:-1]),
           " ".join(words[1:]), " ".join(reversed(words)), "".join(w[0] for w in words if w),
           name.replace("a", "e", 1), name.replace(" ", "-", 1), name[1:]]
    return [v for v in out if v.strip()]


@pytest.fixture(scope="module")
def names_lists() -> list[_NamesList]:
    eng = Engine.build(load_registry_snapshot(None, cache_dir=None), use_lists=False)
    got = [nl for cp in eng.compiled for nl in cp._names_lists.values()]
    assert len(got) >= 5  # the shipped packs name several lists (Huawei, ZTE, SMIC, FN4, ...)
    return got


def test_the_pack_union_rejects_only_names_no_list_can_match(names_lists):
    # every member of every list, spelling changes of it, and ordinary customer names: whenever a list's own
    # cheap test passes a name, the union's passes it too (so skipping the lists on a 'no' loses nothing)
    names = set(ORDINARY)
    for nl in names_lists:
        for n in nl.names:
            names.update(_variants(n))
    unions = {id(nl.union): nl.union for nl in names_lists}
    assert len(unions) < len(names_lists)  # shared per pack, not one per list
    passed = rejected = 0
    for n in sorted(names):
        for nl in names_lists:
            own = nl.matcher().may_match(n)
            if own:
                assert nl.union.may_match(n), (nl.list_name, n)
                passed += 1
            elif not nl.union.may_match(n):
                rejected += 1
    assert passed > 100 and rejected > 10  # both sides exercised


def test_best_of_with_the_union_equals_best_of_without_it(names_lists, monkeypatch):
    class Always(_NamesUnion):
        def may_match(self, name: str) -> bool:
            return True

    names = list(ORDINARY)
    for nl in names_lists[:4]:
        names += [v for n in nl.names[:3] for v in _variants(n)]
    for nl in names_lists:
        plain = _NamesList.__new__(_NamesList)
        plain.__dict__.update(names=nl.names, list_name=nl.list_name, _matcher=nl.matcher(), memo={},
                              _new_names=0, union=Always())
        fresh = _NamesList.__new__(_NamesList)
        fresh.__dict__.update(names=nl.names, list_name=nl.list_name, _matcher=nl.matcher(), memo={},
                              _new_names=0, union=nl.union)
        for n in names:
            for score in (80.0, 90.0):
                a, b = plain.best_of(n, score), fresh.best_of(n, score)
                assert (a is None) == (b is None), (nl.list_name, n)
                if a is not None:
                    assert (a.entry.name, a.score, a.band) == (b.entry.name, b.score, b.band)


def test_union_memo_is_bounded(monkeypatch):
    u = _NamesUnion()
    u.add(["Huawei Technologies Co., Ltd.", "ZTE Corporation"])
    monkeypatch.setattr(_NamesUnion, "MEMO_SIZE", 5)
    got = [u.may_match(f"Ordinary Pumps {k}") for k in range(12)] + [u.may_match("Huawei")]
    assert len(u.memo) <= 5
    assert got[-1] is True and not any(got[:-1])
    assert core._NamesUnion is _NamesUnion


def test_party_memo_shares_the_repeated_parts_of_summaries(monkeypatch):
    from ecscreen.model import PartyScreeningSummary
    from ecscreen.runners import batch

    memo = batch.PartyMemo.__new__(batch.PartyMemo)
    memo._shared = {}
    lists = ["Consolidated Screening List (2026-07-31)"]
    text = "screened against 1 list(s) [Consolidated Screening List (2026-07-31)]: no match"
    made = [PartyScreeningSummary(party_index=0, name=f"Acme {k}", lists=list(lists), summary="".join(text))
            for k in range(3)]
    before = [s.model_dump_json() for s in made]
    for s in made:
        memo._share(s)
    assert [s.model_dump_json() for s in made] == before  # same values
    assert made[0].lists is made[1].lists is made[2].lists  # one copy
    assert made[0].summary is made[2].summary
    other = PartyScreeningSummary(party_index=0, name="B", lists=["Other (undated)"], summary="x")
    memo._share(other)
    assert other.lists == ["Other (undated)"] and other.lists is not made[0].lists
    monkeypatch.setattr(batch, "SHARED_VALUES", 2)
    memo._share(PartyScreeningSummary(party_index=0, name="C", lists=["Z"], summary="z"))
    assert len(memo._shared) <= 2


def _fake_screen(calls: list[str]):
    """A party screener whose result reads every fact of the party and the date (a hit on 'Bad' names)."""
    from ecscreen.model import PartyScreeningSummary
    from ecscreen.parties.screening import PartyScreening

    def screen(parties, *, as_of, **kw):
        calls.extend(p.name for p in parties)
        summaries = [PartyScreeningSummary(party_index=i, name=p.name, lists=[f"L {as_of}"],
                                           summary=f"{p.name}/{p.country}/{p.role.value}/{as_of}")
                     for i, p in enumerate(parties)]
        return PartyScreening(hits=[[] for _ in parties], findings=[], warnings=[f"w {p.name}" for p in parties
                                                                                 if p.name.startswith("Bad")],
                              lists=[], summaries=summaries)
    return screen


def test_party_memo_shipment_memo_keyed_on_every_party_fact_and_the_date():
    import datetime as dt

    from ecscreen.model import Party, PartyRole
    from ecscreen.runners import batch

    calls: list[str] = []
    memo = batch.PartyMemo(_fake_screen(calls), batch=False, lists=[])
    day = dt.date(2026, 10, 1)
    ps = [Party(role=PartyRole.end_user, name="Acme", country="DE"),
          Party(role=PartyRole.purchaser, name="Bad Co", country="DE")]

    def text(r):
        return [(s.party_index, s.summary) for s in r.summaries], list(r.warnings)

    first = memo(ps, as_of=day)
    again = memo(list(ps), as_of=day)
    assert again is first and calls == ["Acme", "Bad Co"] and memo.hits == 2 and memo.misses == 2
    assert text(first) == ([(0, "Acme/DE/end_user/2026-10-01"), (1, "Bad Co/DE/purchaser/2026-10-01")],
                           ["w Bad Co"])
    # each fact the screening reads gives another result: the date, a party's name, country, role, the order
    assert text(memo(ps, as_of=day + dt.timedelta(days=1)))[0][0] == (0, "Acme/DE/end_user/2026-10-02")
    other = [ps[0], Party(role=PartyRole.purchaser, name="Bad Co", country="FR")]
    assert text(memo(other, as_of=day))[0][1] == (1, "Bad Co/FR/purchaser/2026-10-01")
    other = [ps[0], Party(role=PartyRole.consignee, name="Bad Co", country="DE")]
    assert text(memo(other, as_of=day))[0][1] == (1, "Bad Co/DE/consignee/2026-10-01")
    other = [ps[0], Party(role=PartyRole.purchaser, name="Good Co", country="DE")]
    assert text(memo(other, as_of=day)) == ([(0, "Acme/DE/end_user/2026-10-01"),
                                             (1, "Good Co/DE/purchaser/2026-10-01")], [])
    assert text(memo(list(reversed(ps)), as_of=day))[0] == [(0, "Bad Co/DE/purchaser/2026-10-01"),
                                                            (1, "Acme/DE/end_user/2026-10-01")]
    assert text(memo(ps[:1], as_of=day)) == ([(0, "Acme/DE/end_user/2026-10-01")], [])


def test_party_memo_shipment_memo_follows_the_party_memo():
    # a party whose memo entry was dropped (or prefetched since: counted as a miss) is looked up again, and
    # the counts equal those of the party-by-party path
    import datetime as dt

    from ecscreen.model import Party, PartyRole
    from ecscreen.runners import batch

    calls: list[str] = []
    memo = batch.PartyMemo(_fake_screen(calls), batch=False, lists=[])
    day = dt.date(2026, 10, 1)
    ps = [Party(role=PartyRole.end_user, name="Acme", country="DE")]
    first = memo(ps, as_of=day)
    memo.cache.clear()
    again = memo(ps, as_of=day)
    assert again is not first and calls == ["Acme", "Acme"] and (memo.hits, memo.misses) == (0, 2)
    assert again.summaries[0].summary == first.summaries[0].summary
    memo.fresh.add(memo._key(ps[0], day))
    assert memo(ps, as_of=day) is not again and (memo.hits, memo.misses) == (0, 3)
    assert memo(ps, as_of=day) is not None and (memo.hits, memo.misses) == (1, 3)
    assert len(memo._ships) == 1
    batch_kept = batch.SHIPS_KEPT
    try:
        batch.SHIPS_KEPT = 1
        memo([Party(role=PartyRole.end_user, name="Other", country="DE")], as_of=day)
        assert len(memo._ships) == 1  # bounded
    finally:
        batch.SHIPS_KEPT = batch_kept


def test_rows_screened_text_memo_keyed_on_the_summary_objects():
    from ecscreen.model import PartyScreeningSummary
    from ecscreen.runners import batch

    a = PartyScreeningSummary(party_index=0, name="Acme", lists=["L"], summary="no match")
    b = PartyScreeningSummary(party_index=1, name="Bad Co", lists=["L"], summary="possible match")
    s1, t1 = batch._screened([a, b])
    s2, t2 = batch._screened([a, b])
    assert s2 is s1 and t2 is t1 and t1[1] == "Acme: no match | Bad Co: possible match"
    # another summary object, even an equal one, is read again; so is another order or party set
    b2 = PartyScreeningSummary(party_index=1, name="Bad Co", lists=["L"], summary="firm match")
    assert batch._screened([a, b2])[1][1] == "Acme: no match | Bad Co: firm match"
    assert batch._screened([b, a])[1][1] == "Bad Co: possible match | Acme: no match"
    assert batch._screened([a])[1][1] == "Acme: no match" and batch._screened([])[1][1] == ""
    assert [d["name"] for d in batch._screened([b, a])[0]] == ["Bad Co", "Acme"]


def test_jurisdiction_eccn_memo_is_normalize_eccn_of_the_text():
    from ecscreen.engine import jurisdiction
    from ecscreen.packs.registry import normalize_eccn

    for text in ("3a090.A.1", "3A090.a.1", "ear99", " 5A992.c ", "nonsense", "3A090.a.1", "ear99"):
        assert jurisdiction._normal_eccn(text) == normalize_eccn(text)
    assert jurisdiction._normal_eccn("3a090.A.1") == "3A090.a.1" and jurisdiction._normal_eccn("x") is None


def test_row_field_kinds_follow_the_columns_object():
    from ecscreen.runners import batch

    a = batch.Columns(index={"date": 0, "quantity": 1, "description": 2}, params={}, unknown=[])
    b = batch.Columns(index={"description": 0, "value_usd": 1}, params={}, unknown=[])
    assert batch._field_kinds(a) == (("date", 0, False), ("quantity", 1, True), ("description", 2, None))
    assert batch._field_kinds(b) == (("description", 0, None), ("value_usd", 1, True))
    assert batch._field_kinds(a) == (("date", 0, False), ("quantity", 1, True), ("description", 2, None))


@pytest.mark.parametrize("text,want", [("100", 100.0), ("245383.89", 245383.89), ("0.5", 0.5), ("007", 7.0),
                                       ("5.200", None), ("1,5", None), ("1e3", 1000.0), (" 12 ", 12.0),
                                       ("-3", -3.0), ("inf", None), ("12.", 12.0), (".5", 0.5)])
def test_number_cells_plain_and_checked(text, want):
    from ecscreen.runners import batch

    got, why = batch._number(text)
    assert got == want and (why is None) == (want is not None)
