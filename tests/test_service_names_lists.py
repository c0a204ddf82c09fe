"""Issue 15 (``ecscreen serve`` per-request cost): the names lists' matchers with plain-dict tables
(``engine.core.resident_names_lists`` / ``parties.matching.plain_tables``, what the service does at load)
answer exactly as the ones whose tables decode on demand from the index cache (what ``check`` does), for
names that hit a names list and names that do not."""

from __future__ import annotations

import datetime as dt

from ecscreen.engine.core import Engine, _NamesList, _NamesUnion, resident_names_lists
from ecscreen.packs.registry import cached_registry
from ecscreen.parties.indexcache import LazyDict

ON = dt.date(2024, 6, 3)
# names lists of the shipped packs (Huawei, SMIC, military-civil fusion, security services), near misses,
# spellings the matcher re-joins or splits, and names no list can match
NAMES = [
    "Huawei Technologies Co., Ltd.", "Hua Wei Technologies", "HiSilicon", "Huawey Device Co",
    "Semiconductor Manufacturing International Corporation", "SMIC", "Harbin Institute of Technology",
    "Beihang Univ.", "Ministry of Public Security", "Xinjiang Public Security Bureau", "Federal Security Service",
    "ZTE Corporation", "Hikvision Digital Technology", "ENTERPRISE FINANCIAL SERVICES CORP",
    "National Vision Holdings, Inc.", "Acme Widgets GmbH", "Müller Maschinenbau AG", "哈尔滨工业大学",
]


def _shipments() -> list[dict]:
    out = []
    for i, name in enumerate(NAMES):
        for dest, eccn in (("CN", "EAR99"), ("CN", "3A991.a"), ("RU", "5A992.c"), ("DE", "EAR99")):
            out.append({"id": f"S{i}-{dest}-{eccn}", "destination": dest, "date": ON.isoformat(),
                        "items": [{"description": "Surveillance camera system", "eccn": eccn}],
                        "parties": [{"role": "end_user", "name": name, "country": dest},
                                    {"role": "consignee", "name": NAMES[-1 - i], "country": dest}]})
    return out


def _report(engine: Engine) -> str:
    from ecscreen.inputs.files import parse_shipments

    parsed = parse_shipments(_shipments(), "test.json")
    rep = engine.screen(parsed, as_of=ON, today=ON)
    return "\n".join(r.model_dump_json() for r in rep.results)


def _holders(engine: Engine) -> list[_NamesUnion | _NamesList]:
    return [h for cp in engine.compiled if cp._names_lists
            for h in (cp._names_union, *cp._names_lists.values())]


def _lazy_tables(engine: Engine) -> list[str]:
    return [k for h in _holders(engine) for k, v in vars(h.matcher()).items() if isinstance(v, LazyDict)]


def test_plain_tables_answer_as_the_cached_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path))  # the tables come from a cache file
    reg = cached_registry()
    _lazy_tables(Engine.build(reg, use_lists=False))  # builds the names lists' matchers: writes their cache files
    cached = Engine.build(reg, use_lists=False)
    resident = Engine.build(reg, use_lists=False)
    assert _lazy_tables(cached)  # loaded from the cache: on-demand tables
    n = resident_names_lists(resident)
    assert n == len(_lazy_tables(cached)) > 0
    assert not _lazy_tables(resident)
    # a table the indexes share (the background word frequencies) is converted once, and shared still
    bg = {id(h.matcher()._bg_df) for h in _holders(resident)}
    assert len(bg) == 1
    got, want = _report(resident), _report(cached)
    assert got == want
    assert "RP-HUAWEI" in want and "Huawei" in want  # the names lists did match some parties
    for h, c in zip(_holders(resident), _holders(cached), strict=True):
        for name in NAMES:
            assert h.matcher().may_match(name) == c.matcher().may_match(name)
            assert h.matcher().search(name, threshold=60) == c.matcher().search(name, threshold=60)
    assert resident_names_lists(resident) == 0  # again: nothing left to convert


def test_plain_tables_after_use_give_the_same_answers(tmp_path, monkeypatch):
    """Names lists asked before their tables become plain dicts (what a reload's warm-up does) answer the same."""
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path))
    _lazy_tables(Engine.build(cached_registry(), use_lists=False))  # writes the cache files
    engine = Engine.build(cached_registry(), use_lists=False)
    before = _report(engine)
    assert _lazy_tables(engine)
    assert resident_names_lists(engine) > 0
    assert not _lazy_tables(engine)
    for h in _holders(engine):  # answered again, through the plain tables (not from the memos and caches)
        h.memo.clear()
        h.matcher().clear_caches()
    assert _report(engine) == before


def test_service_state_has_plain_names_list_tables(tmp_path, monkeypatch):
    """``ecscreen serve`` loads its state's names lists with plain-dict tables (a reload builds its state the same way)."""
    from ecscreen.service.config import ServiceConfig
    from ecscreen.service.state import build_state

    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path))
    st = build_state(ServiceConfig(no_lists=True, record=False, home=str(tmp_path)))
    assert _holders(st.engine) and all(h._matcher is not None for h in _holders(st.engine))
    assert not _lazy_tables(st.engine)
