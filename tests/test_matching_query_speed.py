"""The query-side shortcuts of the party matcher's speed work (issue 11) give the answers of the code they replace.

Each shortcut is held to a reference written the way the code read before (0d0511a), on a small index of real
list-style names (no fixture files, no network):

* ``variants._SplitMemo``: the per-word memo of run-together word splits equals splitting every time, per
  vocabulary (the same word splits differently against another list);
* ``variants._meets``: meeting one of several sets is meeting their union (``_in_context`` / ``_jointly`` no
  longer build the union), and both rankings equal the union-based ones on every word pair of the index;
* ``_QueryPrep._rejoined``: equals ``_rejoin(tokens, vocab, min_part=5)`` (it skips it when every word is a list
  word);
* ``_Kernel._blocking_tokens``: the heaviest words first, ties in token order, as the lambda sort gave;
* ``kernel_single.wanted``: the same decision when it stops counting postings early;
* ``_word_aliases`` keyed by the word: the list names holding it, empty for another word.

The whole matcher is held to main's results by ``benchmarks/matching_equivalence.py`` (sha256 of ~135,000
searches) and ``tests/test_matching_equivalence.py``.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from ecscreen.parties import kernel_single, variants
from ecscreen.parties import matching as M
from ecscreen.parties.matching import ListEntry, Matcher

NAMES = [
    "Huawei Technologies Co., Ltd.", "Huawei Device Co., Ltd.", "Sky One Construction Company Limited",
    "Rosoboronexport", "Bank Mellat", "Bank Melli Iran", "Mahan Air", "Semiconductor Manufacturing International",
    "NSO Group Technologies", "Gao Yan Trading", "Fu Yuan Shipping", "Igor Sechin", "Saddam Hussein al-Tikriti",
    "Black Rock Mining", "Autoparts International Group", "Good Will Holding", "Plat Ono Vich",
    "Zhejiang Tianlu Energy", "Iran Electronics Industries", "Moscow Institute of Physics and Technology",
    "Ali Hassan Mohammad", "Mohammad Reza Hassan", "Hassan Ali Trading Company",
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    entries = [ListEntry(id=f"e{k}", source="test", source_code="custom", name=n) for k, n in enumerate(NAMES)]
    return Matcher(entries, cache_dir=None)


def _split_reference(tokens: list[str], vocab: Any, one_word: bool, fine: bool) -> list[str] | None:
    """``variants._resegment``'s split, word by word, without the memo (the code before issue 11's memo)."""
    out: list[str] = []
    changed = False
    abbr = variants.abbreviations()
    for tok in tokens:
        whole_name = one_word and sum(t.isalpha() for t in tokens) == 1
        if len(tok) >= (variants._MIN_GLUED_WHOLE if whole_name else variants._MIN_GLUED) and tok not in vocab \
                and tok not in abbr and tok.isalpha():
            pieces = variants.segment(tok, vocab)
            whole = False
            if whole_name and (pieces is None or not variants._glued(pieces, len(tok))):
                alt = variants.segment(tok, vocab, min_long=3, min_len=variants._MIN_GLUED_WHOLE)
                whole = alt is not None and all(p in vocab for p in alt) and not variants._ordinary_compound(alt)
                pieces = alt if whole else pieces
            if pieces is not None and (variants._glued(pieces, len(tok)) or whole):
                out.extend(variants._finer(pieces, vocab) if fine else pieces)
                changed = True
                continue
        out.append(tok)
    return out if changed else None


GLUED = ["huaweitechnologies", "skyoneconstructioncompanylimited", "gaoyan", "nsogroup", "blackrock",
         "autopartsinternational", "rosoboronexporttrading", "bankmellat", "goodwillholding", "unknownword",
         "fuyuanshipping", "mahanairlines"]


def test_split_memo_equals_splitting_every_time(matcher: Matcher) -> None:
    vocab = matcher.vocab
    for words in [[w] for w in GLUED] + [list(p) for p in itertools.combinations(GLUED[:6], 2)]:
        for one_word, fine in itertools.product((False, True), repeat=2):
            for _ in range(2):  # the second time from the memo
                got = variants._resegment(words, vocab, one_word=one_word, fine=fine)
                want = _split_reference(words, vocab, one_word, fine)
                assert (got is None) == (want is None), (words, one_word, fine)
                if want is not None:
                    assert got is not None and got.tokens == variants.normalize(" ".join(want)).tokens


def test_split_memo_is_per_vocabulary(matcher: Matcher) -> None:
    other = {"huaw": 0, "eitech": 1}
    assert variants._split_memo(matcher.vocab) is variants._split_memo(matcher.vocab)
    assert variants._split_memo(other) is not variants._split_memo(matcher.vocab)
    for word in GLUED:
        for vocab in (matcher.vocab, other):
            assert variants._split_memo(vocab).split(word, False, False) == variants._split_word(word, vocab, False, False)


def test_meets_is_meeting_the_union() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        a = frozenset(rng.sample(range(60), rng.randrange(0, 8)))
        sets = [frozenset(rng.sample(range(60), rng.randrange(0, 8))) for _ in range(rng.randrange(0, 4))]
        assert variants._meets(a, sets) == (not a.isdisjoint(frozenset().union(*sets)))


def _in_context_union(cands: list[str], others: list[str], aliases: Any) -> list[str]:
    if aliases is None or not others:
        return cands
    context = frozenset().union(*map(aliases, others))
    near = [c for c in cands if not aliases(c).isdisjoint(context)]
    return near + [c for c in cands if c not in near]


def _jointly_union(cands: dict[str, list[str]], known: list[str], aliases: Any) -> dict[str, list[str]]:
    if aliases is None or len(cands) + len(known) < 2:
        return cands
    reach = {tok: frozenset().union(*map(aliases, theirs[:6])) for tok, theirs in cands.items()}
    reach.update((k, aliases(k)) for k in known if k not in reach)
    out: dict[str, list[str]] = {}
    for tok, mine in cands.items():
        head = mine[:6]
        score = {c: sum(1 for o, names in reach.items() if o != tok and not aliases(c).isdisjoint(names)) for c in head}
        out[tok] = sorted(head, key=lambda c: -score[c]) + mine[6:]
    return out


def test_context_rankings_equal_the_union_based_ones(matcher: Matcher) -> None:
    words = sorted(matcher.vocab)
    rng = random.Random(5)
    aliases = matcher._word_aliases
    for _ in range(400):
        cands = rng.sample(words, rng.randrange(1, 9))
        others = rng.sample(words, rng.randrange(0, 4)) + ["notaword"]
        assert variants._in_context(cands, others, aliases) == _in_context_union(cands, others, aliases)
        groups = {f"q{k}": rng.sample(words, rng.randrange(1, 9)) for k in range(rng.randrange(1, 4))}
        known = rng.sample(words, rng.randrange(0, 3))
        assert variants._jointly(groups, known, aliases) == _jointly_union(groups, known, aliases)


def test_word_aliases_keyed_by_word(matcher: Matcher) -> None:
    assert matcher._word_aliases("notaword") == frozenset()
    for word, vid in matcher.vocab.items():
        start = int(matcher.p_start[vid])
        want = frozenset(matcher.p_alias[start:start + int(matcher.p_len[vid])].tolist())
        assert matcher._word_aliases(word) == want
        assert matcher._word_aliases(word) is matcher._word_aliases(word)  # memoised


@pytest.mark.parametrize("tokens", [
    ("huawei", "technologies"), ("good", "will", "holding"), ("plat", "ono", "vich"), ("skyone",),
    ("bank", "mellat", "bank"), ("gaoyan", "trading"), ("hassan", "ali"), ("goodwill",), ("semiconductormfg",),
    ("igor", "sechin"), ("zhejiang", "tianluenergy"), (),
])
def test_rejoined_equals_rejoin(matcher: Matcher, tokens: tuple[str, ...]) -> None:
    assert matcher._rejoined(tokens) == M._rejoin(list(tokens), matcher.vocab, min_part=5)


def _blocking_reference(m: Matcher, q: Any, threshold: float) -> list[int]:
    """``_Kernel._blocking_tokens`` as it read before issue 11 (lambda sort, volumes always compared), with h63's
    rest bound."""
    cfg = m.config
    need = threshold / 100.0 * cfg.evidence
    order = sorted(range(len(q.tokens)), key=lambda i: -q.weights[i])
    rest = total = sum(q.weights)
    prefix: list[int] = []
    for i in order:
        # h63 (issue 11): also stop when a name matching only the words left scores below the threshold with all of
        # its own weight matched (alias share 1, query share rest / total: balance and evidence factor)
        share = min(1.0, rest / total) if total > 0 else 1.0
        bound = 100.0 * (cfg.balance + (1.0 - cfg.balance) * share) * min(1.0, rest / cfg.evidence)
        if rest < need or bound < threshold - 0.01:
            break
        prefix.append(i)
        rest -= q.weights[i]
    if 100.0 * cfg.generic_factor < threshold:
        alt = [i for i in order if q.weights[i] >= cfg.distinct_min]
        rest = sum(q.weights)
        need_full = cfg.full_match * rest
        for i in order:
            if rest < need_full:
                break
            if i not in alt:
                alt.append(i)
            rest -= q.weights[i]
        if sum(q.volumes[i] for i in alt) < sum(q.volumes[i] for i in prefix):
            return alt
    return prefix


def test_blocking_tokens_order_and_choice(matcher: Matcher) -> None:
    texts = NAMES + ["Hassan Hassan Ali", "Ali Ali", "Trading Company Limited", "Bank Bank Mellat Melli",
                     "Mohammad Ali Hassan Reza", "Huawei"]
    for text in texts:
        q = matcher._prepare(text)
        for thr in (60.0, 80.0, 92.0):
            assert matcher._blocking_tokens(q, thr) == _blocking_reference(matcher, q, thr), (text, thr)
    # equal weights keep the token order (a reversed stable sort)
    q = matcher._prepare("Hassan Ali Mohammad")
    q.weights = [1.0, 1.0, 1.0]
    assert matcher._blocking_tokens(q, 80.0) == _blocking_reference(matcher, q, 80.0)


def test_wanted_decides_as_a_full_count(matcher: Matcher) -> None:
    from ecscreen.parties.indexcache import FlatArray

    # the fixture's index is built in-process (cache_dir=None): numpy arrays, for which wanted() is the plain
    # count against SMALL_KERNEL_ROWS (a cache load held flat has its own rule, tested in test_kernel_single)
    assert not isinstance(matcher.a_tok, FlatArray)
    queries = [matcher._prepare(t) for t in NAMES]
    for size in (1, 2, 5, len(queries)):
        chunk = queries[:size]
        volume = sum(matcher._p_len_list[u] for q in chunk for u in matcher._blocked(q, 80.0)[0])
        assert kernel_single.wanted(matcher, chunk, 80.0) == (volume <= kernel_single.candidates.SMALL_KERNEL_ROWS)
