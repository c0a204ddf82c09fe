"""The calibration's cheap paths change no result (issue 11 item 9 / issue 15: calibration cost per candidate).

* ``score_bound`` (an upper bound of a candidate's calibrated total, computed from the word alignment before any
  feature builds its reason; ``Matcher.calibrate`` skips candidates whose bound is below the threshold) is at
  least the real total for every candidate the index proposes for 1,000 real US company names and synthetic
  negatives (half of ``fixtures/matching/kernel_names.csv``), 400 real names, UN positives and disguised list
  names (``fixtures/matching/real_names.csv``) and 327 Indian company names (a sixth of
  ``benchmarks/data/nse-company-names.txt``), with and without a country (the full SEC names and yente mix:
  ``benchmarks/check_score_bound.py``);
* searches at other thresholds than the default give the same hits with and without the bound;
* ``_rejoin_if_needed`` (which decides cheaply whether re-joining can change anything) returns what ``_rejoin``
  returns, on every pair of names those candidates align;
* the word similarities ``_CalCtx`` reads in bulk (``_sims``) are ``Matcher._sim_of``'s.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from ecscreen.parties import matching
from ecscreen.parties.matching import Matcher, PartyHit

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "matching"


def _names() -> list[tuple[str, str | None]]:
    with (FIX / "kernel_names.csv").open(encoding="utf-8", newline="") as fh:
        rows = [(r["name"], None if k % 2 else "GB") for k, r in enumerate(csv.DictReader(fh)) if k % 4 in (1, 2)]
    with (FIX / "real_names.csv").open(encoding="utf-8", newline="") as fh:
        rows += [(r["name"], r["country"] or None) for r in csv.DictReader(fh)]
    nse = (ROOT / "benchmarks" / "data" / "nse-company-names.txt").read_text(encoding="utf-8").splitlines()
    rows += [(n.strip(), "IN" if k % 2 else "CN") for k, n in enumerate(nse)
             if k % 6 == 1 and n.strip() and not n.startswith("#")]
    return rows


@pytest.fixture(scope="module")
def csl() -> Matcher:
    from ecscreen.parties.store import active_lists, matcher_for

    return matcher_for(active_lists())


@pytest.fixture(scope="module")
def candidates(csl: Matcher) -> dict[tuple[str, int, bool, str | None], PartyHit | None]:
    """Every (name, alias, acronym, country) the index proposes for the names at the default threshold (what
    ``calibrate`` is asked), with its hit at threshold 0 (every candidate scored in full)."""
    seen: dict[tuple[str, int, bool, str | None], PartyHit | None] = {}
    real = Matcher.calibrate

    def record(self: Matcher, name: str, alias: int, acronym: bool = False, country: str | None = None,
               threshold: float = 0.0) -> PartyHit | None:
        hit = seen[(name, alias, acronym, country)] = real(self, name, alias, acronym, country, 0.0)
        return hit if hit is not None and hit.score >= threshold else None

    rows = _names()
    csl.clear_caches()
    mp = pytest.MonkeyPatch()
    mp.setattr(Matcher, "calibrate", record)
    try:
        csl.search_many([n for n, _ in rows], [c for _, c in rows], limit=None)
    finally:
        mp.undo()
    return seen


def _total(csl: Matcher, name: str, alias: int, acronym: bool, country: str | None) -> tuple[float, Any, float]:
    """The calibrated total of a candidate as ``calibrate`` sums it (unclamped, no early stop), its context and
    its reading penalty."""
    ctx, pen = csl._cal_context(name, alias, acronym, matching._country_code(country))
    total = 100.0 - pen
    for fn in matching.FEATURES:
        total += sum(points for _, points, _, _ in fn(ctx))
    fresh, _ = csl._cal_context(name, alias, acronym, matching._country_code(country))  # features mutate ctx
    return total, fresh, pen


def test_bound_is_at_least_the_real_score_of_every_candidate(
    csl: Matcher, candidates: dict[tuple[str, int, bool, str | None], PartyHit | None]
) -> None:
    assert len(candidates) >= 6_000, len(candidates)  # real names propose about ten candidates each
    bounded = skipped = 0
    for (name, alias, acronym, country), hit in candidates.items():
        total, ctx, pen = _total(csl, name, alias, acronym, country)
        # the total summed here is calibrate's
        assert hit is not None and hit.score == round(min(100.0, max(0.0, total)), 1), (name, alias)
        if ctx.acronym:
            continue  # calibrate does not bound acronym matches
        bounded += 1
        bound = matching.score_bound(ctx, pen)
        assert bound >= total - matching.BOUND_SLACK, (name, csl.alias_text[alias], country, bound, total)
        skipped += bound < 80.0
    # the bound is worth computing: it rules out most candidates at the default threshold
    assert skipped >= 0.6 * bounded, (skipped, bounded)


def test_bound_counts_the_features_that_add_points(csl: Matcher) -> None:
    """The three features that can add points (added name parts, a name part a letter off, country agreement)
    are in the bound: a hit that needs them is still found."""
    entries = [
        matching.ListEntry(id="p1", source="t", source_code="custom", name="Gul Ahmad Hakimi", type="Individual",
                           countries=["AF"]),
        matching.ListEntry(id="p2", source="t", source_code="custom", name="Igor Sechin", type="Individual",
                           countries=["RU"]),
        matching.ListEntry(id="e1", source="t", source_code="custom", name="Rosoboronexport Trading Company",
                           countries=["RU"]),
    ]
    m = Matcher(entries, cache_dir=None)
    for name, country, entry in (("Gul Ahmad Waziri Hakimi", "AF", "p1"), ("Igor Sechev", "RU", "p2"),
                                 ("Rosoboronexport Trading Co", "RU", "e1")):
        for thr in (60.0, 75.0, 85.0, 92.0):
            got = m.search(name, country=country, threshold=thr, limit=None)
            ctxs = [m._cal_context(name, a, False, country) for a in range(m.n_alias)]
            best = max(_total(m, name, a, False, country)[0] for a in range(m.n_alias))
            assert all(matching.score_bound(c, p) >= _total(m, name, c.alias, False, country)[0] - 1e-6
                       for c, p in ctxs)
            assert bool(got) == (min(100.0, best) >= thr), (name, thr, best)
            if got:
                assert got[0].entry.id == entry


def test_searches_at_other_thresholds_equal_searches_without_the_bound(
    csl: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _names()[::2]
    names, countries = [n for n, _ in rows], [c for _, c in rows]

    def dump() -> list[list[list[Any]]]:
        out = []
        for thr in (60.0, 92.0):
            csl.clear_caches()
            out += [[[h.entry.id, h.matched_alias, h.score, h.band, h.explanation, h.firm_block] for h in hs]
                    for hs in csl.search_many(names, countries, threshold=thr, limit=None)]
        return out

    with_bound = dump()
    monkeypatch.setattr(matching, "score_bound", lambda ctx, pen: float("inf"))
    assert dump() == with_bound
    assert sum(1 for hs in with_bound if hs) >= 20


def test_rejoin_if_needed_equals_rejoin(
    csl: Matcher, candidates: dict[tuple[str, int, bool, str | None], PartyHit | None]
) -> None:
    pairs = {(tuple(csl._prepare(n).tokens), csl.alias_norm[a].tokens) for n, a, _, _ in candidates}
    # words glued, split and split off a legal form, and near misses of each
    pairs |= {(("good", "will", "holdings"), ("goodwill", "holdings")), (("siemensag",), ("siemens",)),
              (("vladimirputin",), ("vladimir", "putin")), (("plat", "ono", "vich"), ("platonovich",)),
              (("nso", "group"), ("nsogroup",)), (("alpha", "betagmbh"), ("beta", "alpha")),
              (("alphabet",), ("alpha", "be")), (("abcde",), ("ab", "de")), (("abcde",), ("ab", "cd"))}
    changed = unrelated = 0
    for q, a in pairs:
        for tokens, other in ((list(q), a), (list(a), q)):
            want = matching._rejoin(list(tokens), set(other))
            assert matching._rejoin_if_needed(list(tokens), other) == want, (tokens, other)
            changed += want != tokens
        if not matching._prefix_related(q, a):  # _CalCtx then skips both re-joins: neither may change anything
            unrelated += 1
            assert matching._rejoin(list(q), set(a)) == list(q) and matching._rejoin(list(a), set(q)) == list(a)
    assert changed >= 8 and unrelated >= 0.5 * len(pairs)


def test_bulk_similarities_equal_sim_of(
    csl: Matcher, candidates: dict[tuple[str, int, bool, str | None], PartyHit | None]
) -> None:
    n = 0
    for name, alias, _, _ in list(candidates)[::2]:
        q = csl._prepare(name)
        us = list(csl.alias_norm[alias].full_tokens)
        vids = [csl.vocab.get(u) for u in us]
        for t in q.tokens:
            assert matching._sims(csl, csl._info_cache.get(t), t, us, vids) == [csl._sim_of(t, u) for u in us]
            n += 1
    assert n >= 5_000
