"""The candidate kernel's per-query fast paths (issue 11) give what their plain formulations give.

* ``_Kernel._blocked``: where no list word is related to two query words, the blocking words are the query
  words' expansions one after the other (last blocking token first); this equals the dict merge (the first token
  wins) it skips, on names whose expansions are disjoint and on names where they overlap;
* ``_Chunk.add_blocked``: each group's signatures (the other words' OR, the word's own) built from prefix and
  suffix ORs in one ``to_bytes`` equal the pairwise loop with two ``to_bytes`` and a concatenation.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ecscreen.parties.candidates import _SIG_BYTES, _Chunk
from ecscreen.parties.matching import Matcher
from ecscreen.parties.query import _Query

FIX = Path(__file__).parent / "fixtures" / "matching"


@pytest.fixture(scope="module")
def prepared() -> tuple[Matcher, list[_Query]]:
    """The embedded CSL's matcher and the prepared queries (with their readings) of real and synthetic names."""
    from ecscreen.parties.store import active_lists, matcher_for

    m = matcher_for(active_lists())
    with (FIX / "real_names.csv").open(encoding="utf-8", newline="") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    with (FIX / "kernel_names.csv").open(encoding="utf-8", newline="") as fh:
        names += [r["name"] for k, r in enumerate(csv.DictReader(fh)) if k % 4 == 0]
    qs = [m._prepare(n) for n in names]
    qs += [alt for q in list(qs) for _, alt in m._readings(q)]
    return m, qs


def _merged(m: Matcher, q: _Query, threshold: float) -> tuple[list[int], list[int]]:
    """The blocking words as the dict merge makes them (before the fast path)."""
    toks = m._blocking_tokens(q, threshold)
    if len(toks) == 1:
        exp = q.expansions[toks[0]]
        return list(exp), [toks[0]] * len(exp)
    seen: dict[int, int] = {}
    for i in reversed(toks):
        seen.update(dict.fromkeys(q.expansions[i], i))
    return list(seen), list(seen.values())


@pytest.mark.parametrize("threshold", [60.0, 80.0])
def test_blocked_equals_the_dict_merge(prepared: tuple[Matcher, list[_Query]], threshold: float) -> None:
    m, queries = prepared
    disjoint = overlapping = 0
    for q in queries:
        q.blocking.clear()
        assert m._blocked(q, threshold) == _merged(m, q, threshold), q.text
        if len(m._blocking_tokens(q, threshold)) > 1:
            if len(q.e_u) == sum(map(len, q.expansions)):
                disjoint += 1
            else:
                overlapping += 1
    assert disjoint > 100 and overlapping > 0  # both paths ran


def _plain_groups(q: _Query, need: float) -> tuple[list[bytes], list[bool]]:
    """The groups as the pairwise loop made them."""
    sigs, weights = q.sigs, q.weights
    if len(sigs) == 1:
        return [bytes(_SIG_BYTES) + sigs[0].to_bytes(_SIG_BYTES, "little")], [weights[0] >= need]
    out, dom = [], []
    for ti, own in enumerate(sigs):
        other = 0
        for tj, sg in enumerate(sigs):
            if tj != ti:
                other |= sg
        out.append(other.to_bytes(_SIG_BYTES, "little") + own.to_bytes(_SIG_BYTES, "little"))
        dom.append(weights[ti] >= need)
    return out, dom


def test_group_signatures_equal_the_pairwise_loop(prepared: tuple[Matcher, list[_Query]]) -> None:
    m, queries = prepared
    m_min = m._single_word_min(60.0)
    ch = _Chunk()
    want_bytes: list[bytes] = []
    want_dom: list[bool] = []
    lengths = set()
    for qi, q in enumerate(queries):
        blocked = m._blocked(q, 60.0)
        ch.add_blocked(qi, q, blocked, m_min)
        if blocked[0]:
            b, d = _plain_groups(q, m_min * sum(q.weights))
            want_bytes += b
            want_dom += d
            lengths.add(len(q.sigs))
    assert ch.g_bytes == want_bytes and ch.g_qdom == want_dom
    assert ch.n_groups == len(want_bytes)
    assert {1, 2, 3, 4} <= lengths
