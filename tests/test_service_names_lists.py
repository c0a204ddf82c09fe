"""Issue 15 (``ecscreen serve`` per-request cost): the names lists' matchers built in memory
(``engine.core.resident_names_lists``, what the service does at load) answer exactly as the ones loaded
from the index cache (what ``check`` does), for names that hit a names list and names that do not."""

from __future__ import annotations

import datetime as dt

from ecscreen.engine.core import Engine, _NamesList, _NamesUnion, resident_names_lists
from ecscreen.packs.registry import cached_registry

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


def test_in_memory_names_lists_answer_as_the_cached_ones():
    reg = cached_registry()
    cached = Engine.build(reg, use_lists=False)
    resident = Engine.build(reg, use_lists=False)
    assert resident_names_lists(resident) == len(_holders(resident)) > 0
    for h in _holders(resident):
        assert h.in_memory and h.matcher().cache_status == "off"
        assert isinstance(h.matcher().vocab, dict)
    got, want = _report(resident), _report(cached)
    assert got == want
    assert "RP-HUAWEI" in want and "Huawei" in want  # the names lists did match some parties


def test_resident_replaces_a_matcher_loaded_before():
    """A names list asked before (its matcher loaded from the cache) is rebuilt in memory, with the same answers."""
    engine = Engine.build(cached_registry(), use_lists=False)
    before = _report(engine)
    loaded = [h._matcher for h in _holders(engine)]
    assert any(m is not None for m in loaded)
    resident_names_lists(engine)
    assert all(h._matcher is not None and h._matcher is not m for h, m in zip(_holders(engine), loaded, strict=True))
    assert _report(engine) == before
    built = [h._matcher for h in _holders(engine)]
    assert resident_names_lists(engine) == len(_holders(engine))  # again: nothing rebuilt
    assert all(h._matcher is m for h, m in zip(_holders(engine), built, strict=True))


def test_service_state_keeps_names_lists_in_memory(tmp_path, monkeypatch):
    """``ecscreen serve`` builds its state's names lists in memory at load (and again after a reload)."""
    from ecscreen.service.config import ServiceConfig
    from ecscreen.service.state import build_state

    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path))
    st = build_state(ServiceConfig(no_lists=True, record=False, home=str(tmp_path)))
    holders = _holders(st.engine)
    assert holders and all(h.in_memory and h._matcher is not None for h in holders)
