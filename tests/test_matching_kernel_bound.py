"""The candidate kernel's pair bound (issue 11): candidate pairs whose name score cannot reach the threshold are
dropped before they are scored, and nothing else changes.

* ``alias_bit_shares`` (per alias, built with the index and stored in its cache) equals a plain per-alias
  computation: running weight shares of the alias's heaviest signature bits, and its words sharing a bit;
* ``pair_bound`` is at least the real name score (less ``BOUND_SLACK``, the rounding's share) of every candidate
  row it is asked about (every posting of the blocking words), for 2,000 real US company names and synthetic negatives (``kernel_names.csv``), 400 real
  names, UN positives and disguised list names (``real_names.csv``) and a sixth of the NSE names, with their
  readings, at thresholds 60 (search's candidates) and 80 (``match_raw``); the SEC, NSE and speed-benchmark sets
  in full: ``benchmarks/check_pair_bound.py``;
* ``match_raw`` and ``search_many`` give the same hits with the bound and without it, at several thresholds;
* a configuration for which the formula is not bounded that way (a factor above 1) scores every pair;
* the tables follow the list: an index of other names has other tables, and the same hits as without the bound.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ecscreen.parties import kernel
from ecscreen.parties.candidates import BOUND_BITS, BOUND_SLACK, pair_bound_applies
from ecscreen.parties.matching import ListEntry, Matcher, ScoreConfig

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "matching"


def _names() -> list[str]:
    with (FIX / "kernel_names.csv").open(encoding="utf-8", newline="") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    with (FIX / "real_names.csv").open(encoding="utf-8", newline="") as fh:
        names += [r["name"] for r in csv.DictReader(fh)]
    nse = (ROOT / "benchmarks" / "data" / "nse-company-names.txt").read_text(encoding="utf-8").splitlines()
    names += [n.strip() for k, n in enumerate(nse) if k % 6 == 1 and n.strip() and not n.startswith("#")]
    return list(dict.fromkeys(names))


@pytest.fixture(scope="module")
def csl() -> Matcher:
    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    m._numpy_arrays()  # a cache load holds its arrays flat until the bulk kernel first runs: these tests read them
    return m


def _plain_bit_shares(m: Matcher, alias: int) -> tuple[list[float], int]:
    """One alias's bit-share row and words (every occurrence) beyond its distinct bits, computed plainly."""
    start, n = int(m.a_start[alias]), int(m.a_len[alias])
    per_bit: dict[int, float] = {}
    for f in range(start, start + n):
        bit = m._vbit[int(m.a_tok[f])]
        per_bit[bit] = per_bit.get(bit, 0.0) + float(m.a_w[f])
    total = max(float(m.a_W[alias]), 1e-9)
    shares = sorted((w / total for w in per_bit.values()), reverse=True)
    row = [sum(shares[: k + 1]) if shares else 1.0 for k in range(BOUND_BITS)]
    return [*row, 1.0], n - len(per_bit)


def test_alias_bit_shares_equal_a_plain_computation(csl: Matcher) -> None:
    table, ndup = np.asarray(csl.a_bitshare), np.asarray(csl.a_ndup)
    assert table.shape == (csl.n_alias, BOUND_BITS + 1) and ndup.shape == (csl.n_alias,)
    collide = 0
    for alias in range(csl.n_alias):
        row, dup = _plain_bit_shares(csl, alias)
        assert table[alias].tolist() == pytest.approx(row, abs=1e-12), csl.alias_text[alias]
        assert int(ndup[alias]) == dup, csl.alias_text[alias]
        collide += dup > 0
    assert collide > 0  # aliases whose words share a bit are in the list (the case ndup is for)


@pytest.mark.parametrize("threshold", [60.0, 80.0])
def test_bound_is_at_least_every_candidates_score(csl: Matcher, threshold: float) -> None:
    names = _names()
    csl.clear_caches()
    pairs = dropped = 0
    for i in range(0, len(names), 512):
        bounds, scores = csl.pair_bounds_and_scores(names[i : i + 512], threshold)
        bad = np.flatnonzero(scores > bounds + BOUND_SLACK)
        assert not len(bad), [(float(scores[k]), float(bounds[k])) for k in bad[:5]]
        pairs += len(scores)
        dropped += int((bounds < threshold - BOUND_SLACK).sum())
    # the bound is worth its cost: it drops most posting rows (the signature test dropped ~60 %)
    assert pairs > 100_000 and dropped > 0.5 * pairs


def test_same_hits_with_and_without_the_bound(csl: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    names = _names()
    countries = [None if k % 2 else "GB" for k in range(len(names))]

    def run() -> tuple[object, ...]:
        out: list[object] = []
        for thr in (60.0, 72.5, 80.0):
            csl.clear_caches()
            out.append(csl.match_raw(names, threshold=thr))
        csl.clear_caches()
        hits = csl.search_many(names, countries, limit=None)
        out.append([[(h.entry.id, h.matched_alias, h.score, h.name_score, h.explanation) for h in hs] for hs in hits])
        return tuple(out)

    calls = {"n": 0}
    real = kernel.pair_bound

    def counted(*args: object) -> np.ndarray:
        calls["n"] += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(kernel, "pair_bound", counted)
    with_bound = run()
    assert calls["n"] > 0
    monkeypatch.setattr(kernel, "pair_bound_applies", lambda cfg: False)
    calls["n"] = 0
    without = run()
    assert calls["n"] == 0
    assert with_bound == without
    csl.clear_caches()


def test_not_applied_where_the_formula_is_not_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pair_bound_applies(ScoreConfig())
    assert not pair_bound_applies(ScoreConfig(generic_factor=1.2))
    assert not pair_bound_applies(ScoreConfig(weak_alias_factor=1.5))
    assert not pair_bound_applies(ScoreConfig(substitution_penalty=-0.5))
    assert not pair_bound_applies(ScoreConfig(balance=1.2))
    names = ["Mahan Air", "Mahan Airlines Company", "Bank Mellat", "Sberbank of Russia", "Rosoboronexport JSC"]
    entries = [ListEntry(id=str(i), source="t", source_code="t", name=n) for i, n in enumerate(names)]
    m = Matcher(entries, config=ScoreConfig(generic_factor=1.2), cache_dir=None)
    called: list[int] = []
    monkeypatch.setattr(kernel, "pair_bound", lambda *a: called.append(1))
    monkeypatch.setattr(kernel.kernel_single, "wanted", lambda *a: False)  # the numpy kernel, even for a few rows
    hits = m.match_raw(["Mahan Air Co", "Sberbank Russia"], threshold=60.0)
    assert not called and all(hits)


def test_tables_follow_the_list_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel.kernel_single, "wanted", lambda *a: False)
    queries = ["Mahan Air", "Mellat Bank", "Rosoboron Export", "Ocean Star Shipping Company"]

    def build(names: list[str]) -> Matcher:
        return Matcher([ListEntry(id=str(i), source="t", source_code="t", name=n) for i, n in enumerate(names)],
                       cache_dir=None)

    one = build(["Mahan Air", "Bank Mellat", "Rosoboronexport", "Ocean Star Shipping"])
    two = build(["Mahan Air Cargo Transport Services", "Bank Mellat", "Rosoboronexport", "Ocean Star Shipping Ltd"])
    assert np.asarray(one.a_bitshare).tolist() != np.asarray(two.a_bitshare).tolist()
    for m in (one, two):
        with_bound = m.match_raw(queries, threshold=60.0)
        m.clear_caches()
        with monkeypatch.context() as mp:
            mp.setattr(kernel, "pair_bound_applies", lambda cfg: False)
            assert m.match_raw(queries, threshold=60.0) == with_bound
    assert one.match_raw(["Mahan Air"], threshold=80.0) != two.match_raw(["Mahan Air"], threshold=80.0)


def test_a_cached_index_without_the_tables_is_rebuilt() -> None:
    """An index cache state whose bit-share table is not (aliases x BOUND_BITS + 1) is refused (the matcher then
    rebuilds the index): a table of another shape would bound pairs with the wrong columns."""
    from ecscreen.parties.indexcache import FlatArray

    entries = [ListEntry(id=str(i), source="t", source_code="t", name=n)
               for i, n in enumerate(["Mahan Air", "Bank Mellat", "Rosoboronexport", "Ocean Star Shipping"])]
    m = Matcher(entries, cache_dir=None)
    good = m._export_state("digest")
    Matcher(entries, cache_dir=None)._import_state(dict(good))  # the state as written loads
    for name, bad in (("a_bitshare", np.ones((m.n_alias, BOUND_BITS))), ("a_ndup", np.zeros(m.n_alias + 1, np.int32))):
        state = dict(good)
        state[name] = FlatArray.of(bad)
        with pytest.raises(ValueError):
            Matcher(entries, cache_dir=None)._import_state(state)


@pytest.mark.parametrize("threshold", [60.0, 80.0])
def test_indexed_hits_equal_exhaustive_scoring(csl: Matcher, threshold: float) -> None:
    """The blocking words (with the rest bound: a name matching only the query's lightest words cannot reach the
    threshold) and the pair bound lose no hit: the index finds every (entry, score) that scoring every list name
    finds, on real names with hits (disguised list names, UN positives) and names without."""
    with (FIX / "real_names.csv").open(encoding="utf-8", newline="") as fh:
        names = [r["name"] for k, r in enumerate(csv.DictReader(fh)) if k % 8 == 0]
    with (FIX / "kernel_names.csv").open(encoding="utf-8", newline="") as fh:
        names += [r["name"] for k, r in enumerate(csv.DictReader(fh)) if k % 100 == 0]
    csl.clear_caches()
    indexed = csl.match_raw(names, threshold=threshold)
    csl.clear_caches()
    exhaustive = csl.match_raw(names, threshold=threshold, exhaustive=True)
    assert sum(map(len, exhaustive)) > 25
    assert indexed == exhaustive


def test_two_alias_words_on_one_bit_lose_no_hit(csl: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """'smart' and 'marin' share a signature bit and are both related to 'marit': 'OOO Smart Marin' reaches 60 for
    'Marit Johannessen' through two alias words matched by one query word. The signature test counted the two
    words as one bit and dropped the pair (the index missed a hit exhaustive scoring finds); both kernels find it
    now, with the pair bound and through the signature test."""
    from ecscreen.parties import kernel_single

    alias = csl.alias_text.index("OOO Smart Marin")
    assert csl._vbit[csl.vocab["smart"]] == csl._vbit[csl.vocab["marin"]] and int(csl.a_ndup[alias]) > 0
    entry = int(csl.alias_entry[alias])
    names = ["Marit Johannessen", "Marit Boe", "Marit Strand"]
    csl.clear_caches()
    want = csl.match_raw(names, threshold=60.0, exhaustive=True)
    assert all(entry in dict(hits) for hits in want)
    for path in ("bound", "signatures", "single"):
        csl.clear_caches()
        with monkeypatch.context() as mp:
            if path == "signatures":
                mp.setattr(kernel, "pair_bound_applies", lambda cfg: False)
            if path == "single":
                mp.setattr(kernel_single, "wanted", lambda *a: True)
            assert csl.match_raw(names, threshold=60.0) == want, path
    csl.clear_caches()
