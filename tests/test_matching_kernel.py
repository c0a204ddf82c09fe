"""The candidate kernel's speed paths give exactly what their plain formulations give.

* ``_KeyTable``: lookups equal a dict over the same keys, with keys built to collide in the table (long probe
  chains, several keys wanting one free slot while the table is built);
* ``Matcher._candidates``: the signature test one 64-bit column at a time keeps exactly the rows of the
  row-gather formulation it replaced (``a_sig[pa]`` against the groups' signatures), on real chunks of the
  embedded CSL's index (queries that hit and queries that do not);
* the prepared queries of a large batch are dropped while the cyclic GC is off (``QUERY_CACHE_KEEP``), and a
  second search of the same names (its queries prepared again) gives the same hits;
* ``_normalize_cached`` keeps ``NORMALIZED_KEEP`` names, not the whole batch;
* ``kernel_single.match_chunk`` (chunks with few candidate rows scored in plain Python) gives the numpy kernel's hits,
  scores (to the bit) and order, and ``may_match`` (words and expansions only) answers as the prepared queries do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ecscreen.parties import candidates, kernel_single, matching, query
from ecscreen.parties.matching import _SIG_WORDS, ListEntry, Matcher, _KeyTable

NAMES = [
    "Huawei Technologies Co., Ltd.", "Rosoboronexport", "Mahan Airlines", "ZTE Europe", "Patricia Lucas Wheeler",
    "Isabella Joaquin Torres", "Semi-conductor Mfg. Int'l Corp.", "NSOGroup", "Huawie", "Kathryn Barr",
    "Mohammad Hassan Ali", "Bank Mellat", "SMIC", "Salman bin Muhammad", "BEST BUY CO INC", "General Electric Co",
    "Sberbank Rossii", "Ingeborg Abrahamsen", "Maria Alice Nathan Leao", "Aviation Industry Corporation of China",
]


def test_key_table_lookups_equal_a_dict_with_colliding_keys() -> None:
    rng = np.random.default_rng(5)
    # keys spaced by a power of two collide in the hash's top bits more than random ones; add random keys
    keys = np.unique(np.concatenate([np.arange(0, 1 << 22, 1 << 12), rng.integers(0, 1 << 40, 3000)])).astype(np.int64)
    rng.shuffle(keys)
    table = _KeyTable(keys)
    want = {int(k): i for i, k in enumerate(keys.tolist())}
    probe = np.concatenate([keys, rng.integers(0, 1 << 40, 5000), keys[::7] + 1]).astype(np.int64)
    got = table.lookup(probe)
    assert got.tolist() == [want.get(int(k), -1) for k in probe.tolist()]
    # every slot holds at most one key, and each key once
    held = table.keys[table.keys >= 0]
    assert sorted(held.tolist()) == sorted(keys.tolist())
    assert _KeyTable(np.zeros(0, dtype=np.int64)).lookup(keys[:3]).tolist() == [-1, -1, -1]


@pytest.fixture(scope="module")
def csl() -> Matcher:
    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    m._numpy_arrays()  # a cache load holds its arrays flat until the bulk kernel first runs: these tests read them
    return m


def _row_gather_candidates(m: Matcher, ch: Any, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The formulation ``_candidates`` had before the column-at-a-time test (commit caaa815)."""
    m_min = m._single_word_min(threshold)
    b_count = np.asarray(ch.b_count, dtype=np.int64)
    bq_a = np.repeat(np.asarray(ch.b_query, dtype=np.int64), b_count)
    bu_a = np.asarray(ch.bu, dtype=np.int64)
    lengths = m.p_len[bu_a]
    total = int(lengths.sum())
    offs = np.cumsum(lengths) - lengths
    idx = np.repeat(m.p_start[bu_a] - offs, lengths) + np.arange(total, dtype=np.int32)
    pq = np.repeat(bq_a, lengths)
    pa = m.p_alias[idx]
    g_base = np.repeat(np.asarray(ch.b_group, dtype=np.int64), b_count)
    g = np.repeat(g_base + np.asarray(ch.bt, dtype=np.int64), lengths)
    words = np.frombuffer(b"".join(ch.g_bytes), dtype="<u8").reshape(-1, 2 * _SIG_WORDS)
    a_sig = m.a_sig[pa]
    mask = np.asarray(ch.g_qdom, dtype=bool)[g] | (m.p_share[idx] >= m_min)
    mask |= (a_sig & words[g, :_SIG_WORDS]).any(axis=1)
    mask |= np.bitwise_count(a_sig & words[g, _SIG_WORDS:]).sum(axis=1) >= 2
    mask |= m.a_ndup[pa] > 0  # two alias words on one bit (h63: counted as one bit, such hits were lost)
    return pq[mask], pa[mask]


@pytest.mark.parametrize("threshold", [60.0, 80.0])
def test_candidates_equal_the_row_gather_formulation(csl: Matcher, threshold: float) -> None:
    queries = [csl._prepare(n) for n in NAMES]
    ch = csl._chunk_arrays(queries, threshold, exhaustive=False)
    assert ch.bu  # the chunk has blocking words
    got = csl._candidate_rows(ch, threshold)  # the signature test (the pair bound after it: test_matching_kernel_bound)
    want = _row_gather_candidates(csl, ch, threshold)
    assert len(want[1]) > 0
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_blocking_words_of_a_chunk_follow_each_query(csl: Matcher) -> None:
    """Per-query counts expand to the same (query, word, token) rows as building them word by word."""
    queries = [csl._prepare(n) for n in NAMES]
    ch = csl._chunk_arrays(queries, 60.0, exhaustive=False)
    rows: list[tuple[int, int, int]] = []
    for qi, q in enumerate(queries):
        words, toks = csl._blocked(q, 60.0)
        rows += [(qi, u, t) for u, t in zip(words, toks, strict=True)]
    expanded = np.repeat(np.asarray(ch.b_query), np.asarray(ch.b_count)).tolist()
    assert list(zip(expanded, ch.bu, ch.bt, strict=True)) == rows


def test_a_large_batch_leaves_few_prepared_queries_and_the_same_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    m = Matcher([ListEntry(id=f"e{k}", source="t", source_code="custom", name=n) for k, n in enumerate(NAMES)])
    monkeypatch.setattr(query, "QUERY_CACHE_KEEP", 8)
    batch = [f"{n} {k}" for k in range(3) for n in NAMES] + NAMES
    first = m.search_many(batch, limit=None)
    assert len(m._query_cache) == 0  # more than QUERY_CACHE_KEEP were prepared: dropped after the batch
    assert sum(1 for h in first if h) >= len(NAMES)
    m._hits_cache.clear()
    again = m.search_many(batch, limit=None)  # every query prepared again
    assert [[(h.entry.id, h.score, h.explanation) for h in hs] for hs in again] == [
        [(h.entry.id, h.score, h.explanation) for h in hs] for hs in first
    ]
    m.search_many(["Mahan Air", "Huawei Technologies"])  # new names, fewer than QUERY_CACHE_KEEP queries
    assert 0 < len(m._query_cache) <= 8  # a small batch's queries are kept


def test_normalized_names_cache_is_bounded() -> None:
    assert matching._normalize_cached.cache_info().maxsize == matching.NORMALIZED_KEEP
    assert matching.NORMALIZED_KEEP >= 2 * matching.PREFETCH_NAMES  # a prefetched block is still cached when read


@pytest.mark.parametrize("first", ["candidates", "index_build", "query", "kernel", "calibration", "matching"])
def test_matcher_parts_import_in_any_order(first: str) -> None:
    """The Matcher's parts (issue 10 split) read the matching module late: any of them may be imported first."""
    import subprocess
    import sys

    code = (f"import ecscreen.parties.{first}\nfrom ecscreen.parties.matching import ListEntry, Matcher\n"
            "m = Matcher([ListEntry(id='1', source='t', source_code='t', name='Mahan Air')], cache_dir=None)\n"
            "print(m.search('Mahan Air')[0].entry.id)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


@pytest.mark.parametrize("threshold", [60.0, 80.0])
def test_small_chunk_python_kernel_equals_numpy_kernel(
    csl: Matcher, monkeypatch: pytest.MonkeyPatch, threshold: float
) -> None:
    """Regression guard for the plain-Python small-chunk path: per query and per chunk of several queries, the same
    (alias, score, acronym) hits in the same order as the numpy kernel, scores equal to the bit."""
    names = [*NAMES, "Zhejiang Tianlu Energy", "Ali", "Sam Smith", "Gazprom Neft", "Joint Stock Company Almaz"]
    queries = [csl._prepare(n) for n in names]
    queries += [alt for q in list(queries) for _, alt in csl._readings(q)]

    def hits(limit: int, chunk: list[Any]) -> list[list[tuple[int, float, bool]]]:
        monkeypatch.setattr(candidates, "SMALL_KERNEL_ROWS", limit)  # up to ``limit`` rows: kernel_single
        monkeypatch.setattr(kernel_single, "MAX_POSTINGS", -1)  # (a flat index's larger chunks too: not here)
        return [[(h.alias, h.name_score, h.acronym) for h in hl] for hl in csl._match_chunk(chunk, threshold, False)]

    default_limit = candidates.SMALL_KERNEL_ROWS
    small = 0
    for q in queries:
        small += sum(csl._p_len_list[u] for u in csl._blocked(q, threshold)[0]) <= default_limit
        assert hits(10**9, [q]) == hits(-1, [q]), q.text
    assert small >= 3  # with the default limit, several of these chunks take the Python path
    assert hits(10**9, queries) == hits(-1, queries)
    assert any(hits(-1, [q]) for q in queries)  # the names do hit: the comparison is not between empty lists


def test_may_match_answers_as_prepared_queries_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """``may_match`` reads words and expansions only; its answer is the one of the prepared queries it replaced."""
    m = Matcher([ListEntry(id=str(i), source="t", source_code="t", name=n) for i, n in enumerate(
        ["Mahan Air", "Rosoboronexport", "China Electronics Technology Group Corporation", "Bank Mellat"])],
        cache_dir=None)
    probes = ["Mahan Airlines", "Rosoboronexprt", "CETC", "Acme Widgets", "Mellat", "Semi-conductor Mfg.",
              "Totally Unrelated Name", "Bnak Melat", "Maha"]
    for name in probes:
        want = any(
            any(q.expansions) or (len(q.tokens) == 1 and q.tokens[0] in m._acro)
            for q in (m._prepare(t) for t in (name, *m._query_variants(name)))
        )
        m.clear_caches()
        assert m.may_match(name) is want, name
        assert m._query_cache == {}  # no query is prepared for the test (before: one per text)
