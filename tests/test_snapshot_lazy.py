"""The compiled packs snapshot stores the packs' large keyed tables (the CCL's entries) per key, unpickled on first
lookup (issue 10 item 5: unpickling the whole CCL was 25 of the snapshot's 38 ms, and one shipment reads one or
two entries). A warm registry must equal the cold one and screen every example identically."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecscreen.engine.context import ScreeningContext, screen_report
from ecscreen.engine.snapshot import _from_state, load_registry_snapshot
from ecscreen.inputs.files import load_shipments
from ecscreen.packs.registry import load_registry
from ecscreen.parties.indexcache import LazyDict, pack_pickled, unpack_pickled

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TODAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def cold_and_warm(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    cache = tmp_path_factory.mktemp("cache")
    cold = load_registry_snapshot(cache_dir=cache)  # loaded from the YAML, snapshot written
    warm = load_registry_snapshot(cache_dir=cache)  # read back
    return cold, warm


def _ccl(reg: object) -> object:
    return next(lp.model for lp in reg.packs if getattr(lp.model, "kind", None) == "ccl")  # type: ignore[attr-defined]


def test_warm_ccl_entries_are_read_per_key(cold_and_warm: tuple[object, object]) -> None:
    cold, warm = cold_and_warm
    entries = _ccl(warm).entries  # type: ignore[attr-defined]
    assert isinstance(entries, LazyDict) and dict.__len__(entries) == 0  # nothing unpickled yet
    assert type(_ccl(cold).entries) is dict and len(_ccl(cold).entries) == len(entries) >= 256  # type: ignore[attr-defined]
    assert list(entries) == list(_ccl(cold).entries)  # type: ignore[attr-defined]  # same keys, same order
    assert entries.get("3A090") == _ccl(cold).entries["3A090"] and dict.__len__(entries) == 1  # type: ignore[attr-defined]
    assert "3A090" in entries and "9Z999" not in entries and entries.get("9Z999") is None


def test_warm_registry_equals_the_cold_one(cold_and_warm: tuple[object, object]) -> None:
    cold, warm = cold_and_warm
    fresh = load_registry(None)
    for a, b, c in zip(cold.packs, warm.packs, fresh.packs, strict=True):  # type: ignore[attr-defined]
        assert a.info == b.info == c.info
        assert a.model == b.model == c.model, a.info.id  # LazyDict compares as the whole dict


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_screens_the_same_warm_and_cold(cold_and_warm: tuple[object, object], path: Path) -> None:
    cold, warm = cold_and_warm
    shipments = load_shipments(path, [])  # every examples/*.yaml is a shipment file
    out = []
    for reg in (cold, warm):
        ctx = ScreeningContext.build(reg, today=TODAY, use_lists=False)
        out.append([r.model_dump(mode="json") for r in screen_report(shipments, ctx).results])
    assert out[0] == out[1]


def test_a_snapshot_state_of_another_shape_is_not_used() -> None:
    reg = load_registry(None)
    assert _from_state({"registry": reg}) is None  # no lazy_tables: an older format
    assert _from_state({"registry": reg, "lazy_tables": [(0, "no_such_field", pack_pickled({"a": 1}))]}) is None
    assert _from_state({"registry": reg, "lazy_tables": [(999, "entries", pack_pickled({"a": 1}))]}) is None
    assert _from_state({"registry": "x", "lazy_tables": []}) is None
    with pytest.raises(ValueError):
        unpack_pickled(("packed-dict-1", b"", b"", b""))


def test_pickled_lazy_dict_behaves_like_the_dict() -> None:
    import pickle

    d = {"b": [1, {"x": 2}], "a": dt.date(2026, 1, 2), "c": None}
    lazy = unpack_pickled(pack_pickled(d))
    assert list(lazy) == ["b", "a", "c"] and lazy["a"] == dt.date(2026, 1, 2) and lazy.get("c", 5) is None
    assert lazy == d and dict(lazy.items()) == d and pickle.loads(pickle.dumps(lazy)) == d
    with pytest.raises(ValueError):
        pack_pickled({1: "not text"})  # type: ignore[dict-item]
