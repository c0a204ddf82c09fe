"""h45 (issue 11, speed): the fast paths of the reading generation and of the calibration's alignment give exactly
what the general code gives. Each test keeps the general code as a reference and compares on real list names."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from rapidfuzz.distance import Levenshtein

from ecscreen.domain import normalize as nz
from ecscreen.parties import variants
from ecscreen.parties.matching import Matcher, _CalCtx, _pair_cands
from ecscreen.parties.store import active_lists, matcher_for


@pytest.fixture(scope="module")
def csl() -> Matcher:
    return matcher_for(active_lists())


def _near_words_reference(tok: str, together: frozenset[int], m: Matcher) -> list[tuple[int, str]]:
    """_near_words before h45: one Levenshtein call per word of each list name, in alias order."""
    found: dict[str, int] = {}
    for a in sorted(together):
        for w in m.alias_norm[a].tokens:
            if w not in found and variants._PERSON_WORD.fullmatch(w):
                found[w] = Levenshtein.distance(tok, w, score_cutoff=variants._NEAR_PART_EDITS)
    return sorted((d, w) for w, d in found.items() if 0 < d <= variants._NEAR_PART_EDITS)


def test_near_words_equal_the_per_word_reference(csl: Matcher) -> None:
    rng = random.Random(45)
    words = [w for w in csl.vocab_list if variants._PERSON_WORD.fullmatch(w) and len(w) >= 4]
    checked = 0
    for w in rng.sample(words, 400):
        together = csl._word_aliases(w)
        if not together or len(together) > variants._NEAR_FROM_NAMES:
            continue
        for tok in (w, w[:-1] + ("a" if w[-1] != "a" else "e"), w[1:], w + "ov"):
            got = variants._near_words(tok, together, csl.vocab, csl._word_aliases)
            assert got == _near_words_reference(tok, together, csl), (tok, sorted(together))
            checked += 1
    assert checked >= 200


def test_near_part_reading_found_through_the_fast_path(csl: Matcher) -> None:
    """A person's misspelt surname is still read as the list's ('igor sechev' -> IGOR SECHIN)."""
    nn = nz.normalize("Igor Sechev")
    got = variants._near_part_readings(nn, csl.vocab, csl._word_aliases)
    assert [r[0] for r in got] and ["igor", "sechin"] in [r[0] for r in got]


def test_term_alternatives_of_ascii_text_equal_the_whole_table() -> None:
    table = nz._term_alternatives()
    firsts = [first for first, _ in table.values()]
    texts = ["ACME TRADING LTD", "air china", "iran air", "Japan Airlines", "", *firsts, " ".join(firsts)]
    for text in texts:
        ref = {first: others for word, (first, others) in table.items() if word in text}
        assert nz.term_alternatives(text) == ref
    script = next(iter(table))  # a script word: the non-ASCII path still finds it
    assert nz.term_alternatives(f"x {script} y") == {table[script][0]: table[script][1]}


def _pairs_reference(c: _CalCtx, rows: Sequence[Sequence[float]], person: bool) -> list[tuple[int, int, float]]:
    """The one-to-one alignment of _CalCtx with every query word through the general cell loop."""
    cands: list[tuple[float, float, int, int, float]] = []
    for i, t in enumerate(c.q_tokens):
        _pair_cands(cands, i, t, rows[i], c.a_tokens, c.q_w[i], c.a_w, c.q_common[i], c.a_common, person)
    cands.sort()
    pairs: list[tuple[int, int, float]] = []
    used_q: set[int] = set()
    used_a: set[int] = set()
    for _, _, i, j, sim in cands:
        if i in used_q or j in used_a:
            continue
        used_q.add(i)
        used_a.add(j)
        pairs.append((i, j, sim))
    return pairs


@pytest.mark.parametrize(
    "query",
    ["Acme Trading Co Ltd", "3 Percenters Holdings", "Three Percenters", "Huawei Technologies Co., Ltd.",
     "A. Ali Hassan", "China National Aero Technology Import Export Corp", "Rosoboronexport Trading"],
)
def test_alignment_fast_path_equals_the_general_loop(csl: Matcher, query: str) -> None:
    from ecscreen.parties.matching import _sims

    csl.clear_caches()
    q = csl._prepare(query)
    csl._readings(q)
    # list names sharing a word with the query (each query word's first ones): matched and unmatched cells
    aliases = sorted({a for t in q.tokens for a in sorted(csl._word_aliases(t))[:15]})
    assert aliases
    for alias in aliases:
        ei = int(csl.alias_entry[alias])
        c = _CalCtx(csl, q, csl.alias_norm[alias], csl._entry_facts(ei), False, None)
        info_get = csl._info_cache.get
        rows = [_sims(csl, info_get(t), t, c.a_tokens, [csl.vocab.get(u) for u in c.a_tokens]) for t in c.q_tokens]
        person = not c.org_query and (c.entry.type or "Individual") == "Individual"
        assert c.pairs == _pairs_reference(c, rows, person), (query, csl.alias_text[alias])
