"""The party matcher's fast paths give exactly what the plain path gives, on 400 real names.

* ``test_search_results_equal_the_recorded_reference``: every hit (entry, alias, score, name score, band,
  explanation, features, firm block, what would confirm it) of the 400 names of
  ``fixtures/matching/real_names.csv`` against the embedded CSL equals the results recorded in
  ``fixtures/matching/real_names_hits.jsonl`` by the matcher before its speed work (commit 35a12c6: no
  result cache, no batched word look-ups, readings re-made per candidate). A deliberate change of the scorer,
  the normalisation or the embedded list regenerates the file:
  ``ECSCREEN_UPDATE_GOLDEN=1 python -m pytest tests/test_matching_equivalence.py`` (say why in the commit).
* the optimised batch path (``search_many`` over all names: words looked up together, results kept per
  name) equals each name searched alone on a matcher whose caches are cleared first, and a second batch
  (answered from the result cache) equals the first;
* a small list's deletion index looked up as a dict equals the numpy look-ups (``may_match`` and hits).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ecscreen.parties import candidates, matching
from ecscreen.parties.matching import ListEntry, Matcher, PartyHit

FIX = Path(__file__).parent / "fixtures" / "matching"
NAMES = FIX / "real_names.csv"
GOLDEN = FIX / "real_names_hits.jsonl"


def _rows() -> list[tuple[str, str | None]]:
    with NAMES.open(encoding="utf-8", newline="") as fh:
        return [(r["name"], r["country"] or None) for r in csv.DictReader(fh)]


def _dump(hits: list[PartyHit]) -> list[dict[str, Any]]:
    return [
        {
            "entry": h.entry.id,
            "alias": h.matched_alias,
            "score": h.score,
            "name_score": h.name_score,
            "band": h.band,
            "explanation": h.explanation,
            "features": [[f.name, f.points, f.reason] for f in h.features],
            "firm_block": h.firm_block,
            "confirm_with": h.confirm_with,
            "country_match": h.country_match,
        }
        for h in hits
    ]


@pytest.fixture(scope="module")
def csl() -> Matcher:
    from ecscreen.parties.store import active_lists, matcher_for

    return matcher_for(active_lists())


def test_search_results_equal_the_recorded_reference(csl: Matcher) -> None:
    rows = _rows()
    got = csl.search_many([n for n, _ in rows], [c for _, c in rows], limit=None)
    lines = [json.dumps({"name": n, "country": c, "hits": _dump(h)}, sort_keys=True, ensure_ascii=False)
             for (n, c), h in zip(rows, got, strict=True)]
    if os.environ.get("ECSCREEN_UPDATE_GOLDEN"):
        GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    want = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(want) == len(rows)
    assert sum(1 for line in want if json.loads(line)["hits"]) >= 100  # the set exercises hits, not only misses
    diff = [(w, g) for w, g in zip(want, lines, strict=True) if w != g]
    assert not diff, f"{len(diff)} names differ; first:\nwant {diff[0][0]}\ngot  {diff[0][1]}"


def test_batch_path_equals_names_searched_alone_cold(csl: Matcher) -> None:
    rows = _rows()
    names, countries = [n for n, _ in rows], [c for _, c in rows]
    csl.clear_caches()
    batch = [_dump(h) for h in csl.search_many(names, countries, limit=None)]
    again = [_dump(h) for h in csl.search_many(names, countries, limit=None)]  # from the result cache
    assert again == batch
    for (name, country), want in zip(rows[::4], batch[::4], strict=True):
        csl.clear_caches()  # nothing kept from other names: no prefetched words, no cached query or result
        assert _dump(csl.search(name, country=country, limit=None)) == want, name
    # limit applies to the cached full result
    top = csl.search_many(names[:50], countries[:50], limit=1)
    assert [_dump(h) for h in top] == [b[:1] for b in batch[:50]]


def test_small_index_dict_lookups_equal_numpy_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows()
    listed = [n for n, _ in rows[330:]] + ["Huawei", "SMIC", "Sugon", "Rosoboronexport", "Mahan Air"]
    entries = [ListEntry(id=f"n-{k}", source="names list", source_code="custom", name=n) for k, n in enumerate(listed)]
    names = [n for n, _ in rows] + ["Huawie Technologies", "Mahan Airlines", "Sugon Information Industry"]

    def run() -> list[tuple[bool, list[dict[str, Any]]]]:
        m = Matcher(entries, cache_dir=None)
        out = []
        for n in names:
            ok = m.may_match(n)
            out.append((ok, _dump(m.search(n, threshold=80, limit=1)) if ok else []))
        return out

    assert len(Matcher(entries, cache_dir=None)._del_index) <= matching.SMALL_DELETION_INDEX
    with_dict = run()
    monkeypatch.setattr(candidates, "SMALL_DELETION_INDEX", -1)  # numpy look-ups for every index
    assert run() == with_dict
    assert sum(ok for ok, _ in with_dict) >= 20 and sum(1 for _, h in with_dict if h) >= 10


def test_result_cache_stays_bounded_and_never_changes_results(csl: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows()
    names, countries = [n for n, _ in rows], [c for _, c in rows]
    csl.clear_caches()
    want = [_dump(h) for h in csl.search_many(names, countries, limit=None)]
    monkeypatch.setattr(matching, "HITS_CACHE_SIZE", 60)
    monkeypatch.setattr(matching, "HITS_CACHE_HITS", 25)
    csl.clear_caches()
    got = []
    for i in range(0, len(names), 40):  # batch chunks: the cache fills, is cleared, fills again
        got += [_dump(h) for h in csl.search_many(names[i : i + 40], countries[i : i + 40], limit=None)]
        assert len(csl._hits_cache) <= 60 and csl._hits_cached <= 25
        assert csl._hits_cached == sum(len(h) for h in csl._hits_cache.values())
    assert got == want


def test_forked_search_equals_one_process(csl: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """``search_many(workers=2)`` forks whole searches (words, candidates, calibration) and rebuilds the
    children's hits in the parent from plain data: every hit, explanation and feature equals the one-process result."""
    rows = _rows()
    names, countries = [n for n, _ in rows], [c for _, c in rows]
    csl.clear_caches()
    want = [_dump(h) for h in csl.search_many(names, countries, limit=None, chunk_size=32)]
    monkeypatch.setattr(matching, "_cpus_free", lambda workers: True)
    forks: list[int] = []
    real = Matcher._search_forked

    def counted(self: Matcher, keys: Any, *args: Any) -> Any:
        forks.append(len(keys))
        return real(self, keys, *args)

    monkeypatch.setattr(Matcher, "_search_forked", counted)
    csl.clear_caches()
    got = [_dump(h) for h in csl.search_many(names, countries, limit=None, chunk_size=32, workers=2)]
    assert forks == [len(set(rows))]  # the batch was forked (not one process because the CPUs look busy)
    assert got == want
    csl.clear_caches()


def test_batch_screened_in_locality_order_with_results_in_input_order(
    csl: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is screened alphabetically (case ignored: names sharing their first words fall into the same kernel
    chunks, h52), yet every result stays with its own name: ``match_raw`` and ``search_many`` of the names in
    their order, reversed and one at a time give the same hits per name."""
    rows = _rows()
    names = [n for n, _ in rows]
    chunks: list[list[str]] = []
    real = Matcher._match_texts

    def recorded(self: Matcher, texts: list[str], *args: Any) -> Any:
        chunks.append(list(texts))
        return real(self, texts, *args)

    monkeypatch.setattr(Matcher, "_match_texts", recorded)
    csl.clear_caches()
    raw = csl.match_raw(names, chunk_size=64)
    flat = [t for c in chunks for t in c]
    assert len(chunks) >= 5 and flat == sorted(dict.fromkeys(names), key=str.lower)
    csl.clear_caches()
    assert csl.match_raw(names[::-1], chunk_size=64) == raw[::-1]
    assert sum(1 for r in raw if r) >= 100
    for k in range(0, len(names), 7):
        csl.clear_caches()
        assert csl.match_raw([names[k]])[0] == raw[k], names[k]
    csl.clear_caches()
    batch = [_dump(h) for h in csl.search_many(names, limit=None, chunk_size=64)]
    csl.clear_caches()
    assert [_dump(h) for h in csl.search_many(names[::-1], limit=None, chunk_size=64)] == batch[::-1]
