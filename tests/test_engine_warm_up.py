"""``Engine.warm_up`` loads the packs' names-list matchers before a batch run forks its workers (issue 14: one
shared copy, a cheaper warm-up per process); results are those of an engine that loads them on first use."""

import datetime as dt

from conftest import ship
from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry


def _names_lists(eng: Engine) -> list:
    return [nl for cp in eng.compiled for nl in cp._names_lists.values()]


def test_warm_up_loads_every_names_list_matcher_and_changes_no_result():
    reg = load_registry()
    warm = Engine.build(reg, use_lists=False, today=dt.date(2026, 11, 29))
    cold = Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 11, 29))
    lists = _names_lists(warm)
    assert lists and all(nl._matcher is None for nl in lists)
    n = warm.warm_up()
    assert n == len(lists) + sum(1 for cp in warm.compiled if cp._names_lists)
    assert all(nl._matcher is not None for nl in lists)
    assert all(cp._names_union._matcher is not None for cp in warm.compiled if cp._names_lists)
    assert all(nl._matcher is None for nl in _names_lists(cold))
    for name in ("Huawei Technologies Co., Ltd.", "Initech Office Supplies", "Semiconductor Manufacturing "
                 "International Corporation"):
        sh = ship("CN", "2026-10-01", parties=[{"role": "end_user", "name": name, "country": "CN"}],
                  items=[{"description": "Etch chamber", "eccn": "3B001.c", "origin": "US"}])
        assert warm.screen_one(sh).model_dump() == cold.screen_one(sh).model_dump()


def test_batch_warm_up_loads_the_names_lists():
    from ecscreen.runners import batch as B

    eng = Engine.build(load_registry(), use_lists=True, lists=[], today=dt.date(2026, 11, 29))
    B._warm_up(eng)
    assert all(nl._matcher is not None for nl in _names_lists(eng))
