"""Forked party searches (issue 11, h64): the parent rebuilds a worker's hits from plain data instead of calibrating
them again, and builds the lazily built indexes and tables before it forks.

* ``hit_fields`` carries every field of a hit that its query and alias do not give, and ``_hit_from_fields`` rebuilds
  a hit equal to the calibrated one (whole models compared, not a dump);
* ``search_many(workers=2)`` returns hits equal to one process's, model for model;
* ``_warm_for_fork`` builds the sound-alike and near-word indexes of the matcher's own vocabulary (never another
  vocabulary's index: they are kept per vocabulary object) and loads the Han tables only for a batch with Han text.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import pytest

from ecscreen.parties import matching, variants
from ecscreen.parties.calibration import HIT_FIELD_NAMES, hit_fields
from ecscreen.parties.matching import ListEntry, Matcher, PartyHit

NAMES = Path(__file__).parent / "fixtures" / "matching" / "real_names.csv"


def _rows() -> list[tuple[str, str | None]]:
    with NAMES.open(encoding="utf-8", newline="") as fh:
        return [(r["name"], r["country"] or None) for r in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def csl() -> Matcher:
    from ecscreen.parties.store import active_lists, matcher_for

    return matcher_for(active_lists())


def _small() -> Matcher:
    names = ["Rosoboronexport", "Huawei Technologies Co Ltd", "Mahan Air", "Sechin Igor Ivanovich", "ZTE Corporation",
             "Aerospace Industries Organization", "Bank Melli Iran"]
    return Matcher([ListEntry(id=f"e{i}", source="test", source_code="custom", name=n,
                              type="Individual" if "Igor" in n else "Entity", countries=["RU"] if i % 2 else [])
                    for i, n in enumerate(names)])


def test_hit_fields_cover_every_field_of_a_hit() -> None:
    """What a worker sends back plus what the parent has (query, alias -> entry and matched alias) is the whole
    model: a field added to PartyHit must be added to hit_fields too (``cleared`` is set later, by the allow list)."""
    assert set(PartyHit.model_fields) == {*HIT_FIELD_NAMES, "query", "entry", "matched_alias", "cleared"}


def test_hits_rebuilt_from_fields_equal_the_calibrated_hits(csl: Matcher) -> None:
    rows = _rows()
    keys = [(n, c, csl.config.threshold, False) for n, c in dict.fromkeys(rows)]
    csl.clear_caches()
    found = csl._search_share(keys, csl.config.threshold, False, 64)
    n = 0
    for key, hits in found.items():
        for hit, alias, _ in hits:
            rebuilt = csl._hit_from_fields(key[0], alias, hit_fields(hit))
            assert rebuilt == hit
            assert rebuilt.model_fields_set == hit.model_fields_set
            n += 1
    assert n >= 100  # the names exercise hits of every kind (strong, possible, readings, features)
    csl.clear_caches()


def test_forked_search_returns_the_same_hit_models(csl: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows()
    names, countries = [n for n, _ in rows], [c for _, c in rows]
    csl.clear_caches()
    want = csl.search_many(names, countries, limit=None, chunk_size=32)
    monkeypatch.setattr(matching, "_cpus_free", lambda workers: True)
    calls: list[str] = []
    real_cal = Matcher.calibrate

    def counted(self: Matcher, name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real_cal(self, name, *args, **kwargs)

    monkeypatch.setattr(Matcher, "calibrate", counted)
    csl.clear_caches()
    got = csl.search_many(names, countries, limit=None, chunk_size=32, workers=2)
    assert got == want
    # the parent calibrated only its own share: a child's names are not calibrated again here
    first = int(len(set(rows)) / 2 * matching.FORK_PARENT_SHARE)
    mine = {k[0] for k in sorted(set(rows), key=lambda r: r[0].lower())[:first]}
    assert calls and set(calls) <= mine
    csl.clear_caches()


def test_warm_for_fork_builds_this_vocabularys_indexes() -> None:
    a, b = _small(), Matcher([ListEntry(id="x", source="t", source_code="custom", name="Kalashnikov Concern")])
    a._warm_for_fork(["Acme Trading"])
    b._warm_for_fork(["Acme Trading"])
    for m in (a, b):  # each vocabulary has its own index (a changed vocabulary never reads another's)
        assert variants._SOUND_INDEXES[id(m.vocab)].vocab is m.vocab
        assert variants._NEAR_INDEXES[id(m.vocab)].vocab is m.vocab
    assert "kalashnikov" in {w for ws, _, _ in variants._SOUND_INDEXES[id(b.vocab)].by_key.values() for w in ws}
    assert "kalashnikov" not in {w for ws, _, _ in variants._SOUND_INDEXES[id(a.vocab)].by_key.values() for w in ws}
    # warmed or not, the answers are the same
    cold = _small()
    warm = _small()
    warm._warm_for_fork(["x"])
    names = ["Rosoboroneksport", "Huawey Technologies", "Igor Sechen", "Mahan Airlines"]
    assert warm.search_many(names) == cold.search_many(names)


def test_warm_for_fork_loads_han_tables_only_for_han_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecscreen.parties import query

    loaded: list[bool] = []
    monkeypatch.setattr(query, "load_han_tables", lambda: loaded.append(True))
    m = _small()
    m._warm_for_fork(["Acme Trading", "Роснефть", "شركة"])
    assert loaded == []
    m._warm_for_fork(["Acme Trading", "华为技术有限公司"])
    assert loaded == [True]


def test_load_han_tables_imports_pypinyin() -> None:
    from ecscreen.domain.normalize import load_han_tables, normalize

    load_han_tables()
    assert "pypinyin" in sys.modules
    assert normalize("华为").tokens  # the tables loaded are the ones normalisation uses


def test_prefix_related_and_sims_fast_paths_equal_their_definitions(csl: Matcher) -> None:
    """The plain-loop ``_prefix_related`` and ``_sims``'s all-in-vocabulary path give what their definitions give."""
    import random

    rng = random.Random(11)
    words = ["air", "airlines", "bank", "banks", "melli", "mel", "iran", "ira", "a", "", "zte", "corp", "corporation"]
    for _ in range(2000):
        a = rng.sample(words, rng.randrange(0, 4))
        b = rng.sample(words, rng.randrange(0, 4))
        s = sorted({*a, *b})
        assert matching._prefix_related(a, b) == any(y.startswith(x) for x, y in zip(s, s[1:], strict=False))
    us = ["bank", "melli", "iran"]
    vids = matching._vocab_ids(csl, us)
    assert None not in vids
    for t in ("bank", "meli", "iram", "tejarat"):
        csl._token_info(t)
        info = csl._info_cache.get(t)
        assert matching._sims(csl, info, t, us, vids) == [csl._sim_of(t, u) for u in us]
        # a list word the vocabulary lacks takes the general path
        assert matching._sims(csl, info, t, [*us, "zzqx"], [*vids, None]) == [csl._sim_of(t, u) for u in [*us, "zzqx"]]
