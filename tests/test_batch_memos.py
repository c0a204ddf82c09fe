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
